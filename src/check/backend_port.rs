//! `backend_port`: does anything listen on the backend's address?

use std::net::SocketAddr;

use crate::finding::{Finding, FindingCode};
use crate::step::{StepName, StepResult};

use crate::step::details::{AddressListening, BackendListener};
type Rec = crate::step::Recorder<crate::step::details::BackendPortDetails>;
use crate::sys::net::{self, TcpSocket, UnixSocket};
use crate::target::{BackendAddr, BackendSpec, Target};

/// The listening socket(s) that serve the backend address, for the port-holder step.
#[derive(Debug, Clone, Default)]
pub struct Listening {
    pub tcp: Vec<TcpSocket>,
    pub unix: Vec<UnixSocket>,
    /// Pids with a socket bound to the backend's port that is not listening.
    pub bound: Vec<i32>,
    /// Backend processes waiting at a prompt that never opened the port.
    pub blocked: Vec<i32>,
}

impl Listening {
    pub fn inodes(&self) -> Vec<u64> {
        self.tcp
            .iter()
            .map(|s| s.inode)
            .chain(self.unix.iter().map(|s| s.inode))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.unix.is_empty()
    }
}

pub fn run(target: &Target, tcp: &[TcpSocket], unix: &[UnixSocket]) -> (StepResult, Listening) {
    let mut rec = Rec::start(StepName::BackendPort);
    let Some(backend) = &target.backend else {
        return (
            rec.skip("no backend configured (playbook [backend] or --backend)"),
            Listening::default(),
        );
    };
    rec.details.address = Some(backend.address.to_string());
    match &backend.address {
        BackendAddr::Unix(path) => unix_verdict(rec, path, unix, backend),
        tcp_addr => {
            if let Some(line) = tcp_addr.resolution() {
                rec.see(line);
            }
            tcp_verdict(rec, tcp, backend)
        }
    }
}

/// Nothing listens: a backend process stuck before it opened the port, or no backend at all.
fn not_listening(mut rec: Rec, backend: &BackendSpec, plain: Finding) -> (StepResult, Listening) {
    match crate::check::before_listen::blocked(&mut rec, backend) {
        Some((finding, blocked)) => (
            rec.fail(finding),
            Listening {
                blocked,
                ..Default::default()
            },
        ),
        None => (rec.fail(plain), Listening::default()),
    }
}

fn tcp_verdict(mut rec: Rec, tcp: &[TcpSocket], spec: &BackendSpec) -> (StepResult, Listening) {
    let matcher = spec.matcher.as_ref();
    let backend = &spec.address;
    let addrs = backend.tcp_addrs();
    let port = backend.port().unwrap_or(0);
    let on_port: Vec<&TcpSocket> = net::listening_on_port(tcp, port).collect();
    let duals = dual_stack_of(&mut rec, &on_port, &addrs, matcher);
    let dual = |s: &TcpSocket| duals.get(&s.inode).copied().unwrap_or(false);
    let serving: Vec<TcpSocket> = on_port
        .iter()
        .filter(|s| net::serves_any(s.local, &addrs, dual(s)))
        .map(|s| (*s).clone())
        .collect();
    let source = net::listener_source();
    if let Some(net::ListenerSource::ProcNet { why }) = &source {
        rec.see(format!(
            "sock_diag refused ({why}): listeners read from /proc/net/tcp*"
        ));
    }
    let listed_in = |v6: bool| {
        source
            .as_ref()
            .map_or("/proc/net/tcp*", |s| s.listed_in(v6))
    };
    for s in &on_port {
        let queue = if s.rx_queue > 0 {
            format!(
                ", accept queue {} — connections waiting that nobody accepted",
                s.rx_queue
            )
        } else {
            ", accept queue empty".to_string()
        };
        rec.see(format!(
            "{}: {} LISTEN, inode {}, uid {}{queue}",
            listed_in(s.local.is_ipv6()),
            s.local,
            s.inode,
            s.uid
        ));
    }
    rec.details.listeners = Some(
        on_port
            .iter()
            .map(|s| BackendListener {
                local: s.local.to_string(),
                inode: s.inode,
                uid: s.uid,
                accept_queue: s.rx_queue,
                serves_backend: net::serves_any(s.local, &addrs, dual(s)),
            })
            .collect(),
    );
    let (served, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs
        .iter()
        .partition(|a| serving.iter().any(|s| net::serves(s.local, **a, dual(s))));
    rec.details.addresses = Some(
        addrs
            .iter()
            .map(|a| AddressListening {
                address: a.to_string(),
                listening: served.contains(a),
            })
            .collect(),
    );
    if !serving.is_empty() {
        let listening = Listening {
            tcp: serving,
            ..Default::default()
        };
        if refused.is_empty() {
            let inode = listening.tcp[0].inode;
            return (
                rec.ok(format!("{backend} is listening (inode {inode})")),
                listening,
            );
        }
        return (partly(rec, backend, &served, &refused), listening);
    }
    if !on_port.is_empty() {
        let where_ = on_port
            .iter()
            .map(|s| {
                if s.local.ip().is_unspecified() && s.local.is_ipv6() && !dual(s) {
                    format!("{} (IPv6 only)", s.local)
                } else {
                    s.local.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let finding = Finding::new(
            FindingCode::BackendWrongInterface,
            format!("port {port} listens only on {where_}, not on {backend}, so connections to {backend} are refused"),
        )
        .with_action(format!("make the backend bind {backend}, or point nginx at {where_}"));
        return (rec.fail(finding), Listening::default());
    }
    let listed = match net::listener_source() {
        Some(net::ListenerSource::SockDiag) => "sock_diag (IPv4, IPv6)",
        _ => "/proc/net/tcp, /proc/net/tcp6",
    };
    rec.see(format!("{listed}: no LISTEN socket on port {port}"));
    if let Some((finding, bound)) = bound_elsewhere(&mut rec, backend, &addrs, matcher) {
        return (
            rec.fail(finding),
            Listening {
                bound,
                ..Default::default()
            },
        );
    }
    let finding = Finding::new(
        FindingCode::BackendNotListening,
        format!("nothing listens on {backend}, so nginx cannot reach the backend (502)"),
    )
    .with_action("restart the backend");
    not_listening(rec, spec, finding)
}

/// Whether each `[::]` listener on the port also takes IPv4. It matters only when the backend
/// has an IPv4 address; the socket's own IPV6_V6ONLY is read then (a `[::]` socket with it set
/// refuses 127.0.0.1, and calling it the backend would blame a healthy holder for refusing).
/// Where it cannot be read, the system default stands in, and the evidence says so.
fn dual_stack_of(
    rec: &mut Rec,
    on_port: &[&TcpSocket],
    addrs: &[SocketAddr],
    matcher: Option<&regex::Regex>,
) -> std::collections::HashMap<u64, bool> {
    let default = net::dual_stack_default();
    let wants_v4 = addrs.iter().any(|a| net::canonical(a.ip()).is_ipv4());
    let mut likely = None;
    let mut out = std::collections::HashMap::new();
    for s in on_port {
        let wildcard6 = s.local.is_ipv6() && s.local.ip().is_unspecified();
        if !(wildcard6 && wants_v4) {
            out.insert(s.inode, default);
            continue;
        }
        let likely = likely.get_or_insert_with(|| crate::sys::holders::likely_pids(matcher));
        let dual = match crate::sys::v6only::of_inode(s.inode, likely) {
            Some((v6only, pid)) => {
                rec.see(format!(
                    "{}: IPV6_V6ONLY {} (read from PID {pid}'s socket), so it {} IPv4",
                    s.local,
                    if v6only { "set" } else { "not set" },
                    if v6only { "refuses" } else { "takes" }
                ));
                !v6only
            }
            None => {
                rec.see(format!(
                    "{}: assumed to {} IPv4 (net.ipv6.bindv6only={}); the socket's own IPV6_V6ONLY could not be read",
                    s.local,
                    if default { "take" } else { "refuse" },
                    u8::from(!default)
                ));
                default
            }
        };
        out.insert(s.inode, dual);
    }
    out
}

/// A name whose addresses are only partly served: nginx reaches the backend, after a refused
/// try on each other address — a warning, not a cause of the outage.
fn partly(
    rec: Rec,
    backend: &BackendAddr,
    served: &[SocketAddr],
    refused: &[SocketAddr],
) -> StepResult {
    let list = |l: &[SocketAddr]| {
        l.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (yes, no) = (list(served), list(refused));
    rec.warn(
        format!("{backend} is listening on {yes} only, not on {no}"),
        Some(
            Finding::new(
                FindingCode::BackendPartlyListening,
                format!("the backend {backend} listens on {yes} but not on {no}: nginx tries every address of {backend} in turn, so its tries of {no} are refused and logged as \"connect() failed (111: Connection refused)\" before it falls back to {yes}, which answers"),
            )
            .with_action(format!("make the backend listen on {no} as well (or on both families), or point nginx at {yes} only")),
        ),
    )
}

/// A process that bound the port but never listened: invisible above, fatal to a restart.
/// Only processes matching the backend's pattern are inspected (each socket is duplicated).
fn bound_elsewhere(
    rec: &mut Rec,
    backend: &BackendAddr,
    addrs: &[SocketAddr],
    matcher: Option<&regex::Regex>,
) -> Option<(Finding, Vec<i32>)> {
    let matcher = matcher?;
    let dual = net::dual_stack_default();
    let found: Vec<(i32, SocketAddr)> = crate::sys::bound::bound_not_listening(
        &crate::sys::holders::likely_pids(Some(matcher)),
        backend.port()?,
    )
    .into_iter()
    .filter(|(_, a)| net::serves_any(*a, addrs, dual))
    .collect();
    let (pid, local) = *found.first()?;
    let cmd = crate::sys::process::ProcessInfo::read(pid)
        .map_or_else(|_| "?".into(), |p| p.cmdline_str());
    rec.see(format!("PID {pid} ({cmd}) has a socket bound to {local} that is not listening (found via pidfd_getfd; invisible to ss and lsof)"));
    let finding = Finding::new(
        FindingCode::BackendPortBound,
        format!("nothing listens on {backend}, but PID {pid} ({cmd}) has the port bound without listening, so a restart would fail with EADDRINUSE"),
    )
    .with_action(format!("stop PID {pid}, then start the backend"));
    Some((finding, found.iter().map(|(p, _)| *p).collect()))
}

fn unix_verdict(
    mut rec: Rec,
    path: &std::path::Path,
    unix: &[UnixSocket],
    backend: &BackendSpec,
) -> (StepResult, Listening) {
    let shown = path.display().to_string();
    let serving: Vec<UnixSocket> = unix
        .iter()
        .filter(|u| u.listening && u.path.as_deref() == Some(shown.as_str()))
        .cloned()
        .collect();
    let file = crate::sys::socket_file::SocketFile::read(path);
    rec.see(format!("{shown}: {}", file.describe()));
    let listed = match net::unix_listener_source() {
        Some(net::ListenerSource::SockDiag) => "unix_diag",
        Some(net::ListenerSource::ProcNet { why }) => {
            rec.see(format!(
                "unix_diag refused ({why}): listeners read from /proc/net/unix"
            ));
            "/proc/net/unix"
        }
        None => "/proc/net/unix",
    };
    for u in &serving {
        let queue = match (u.accept_queue, u.backlog) {
            (Some(0), _) => ", accept queue empty".to_string(),
            (Some(q), Some(max)) => {
                format!(", accept queue {q} of {max} — connections waiting that nobody accepted")
            }
            _ => String::new(),
        };
        rec.see(format!(
            "{listed}: {shown} LISTEN, inode {}{queue}",
            u.inode
        ));
    }
    if !serving.is_empty() && file.exists() {
        let result = rec.ok(format!(
            "unix:{shown} is listening (inode {})",
            serving[0].inode
        ));
        return (
            result,
            Listening {
                unix: serving,
                ..Default::default()
            },
        );
    }
    let cause = if !serving.is_empty() {
        format!("a process still listens on unix:{shown}, but the socket file was removed, so nginx's connect() fails with (2: No such file or directory) → 502")
    } else if file.meta.as_ref().is_ok_and(|m| !m.is_socket) {
        format!(
            "unix:{shown} {}, so nginx's connect() to it is refused (502)",
            file.describe()
        )
    } else if file.exists() {
        format!("unix:{shown} exists but nothing listens on it (a stale socket file left by a dead backend), so nginx cannot reach the backend (502)")
    } else {
        format!("unix:{shown} does not exist, so nginx cannot reach the backend (502)")
    };
    let action = if serving.is_empty() {
        rec.see(format!("{listed}: no listening socket bound to {shown}"));
        "restart the backend"
    } else {
        "restart the backend through its unit (which also stops the listener whose file is gone), so it creates the socket file again"
    };
    let finding = Finding::new(FindingCode::BackendNotListening, cause).with_action(action);
    not_listening(rec, backend, finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::Verdict;

    fn listener(local: &str, inode: u64) -> TcpSocket {
        TcpSocket {
            local: local.parse().unwrap(),
            remote: "0.0.0.0:0".parse().unwrap(),
            state: net::TcpState::Listen,
            rx_queue: 0,
            tx_queue: 0,
            uid: 0,
            inode,
        }
    }

    fn localhost() -> BackendAddr {
        BackendAddr::Named(crate::target::NamedAddr {
            host: "localhost".into(),
            port: 8080,
            addrs: vec![
                "[::1]:8080".parse().unwrap(),
                "127.0.0.1:8080".parse().unwrap(),
            ],
        })
    }

    fn verdict(backend: &BackendAddr, tcp: &[TcpSocket]) -> (StepResult, Listening) {
        let spec = crate::target::BackendSpec {
            address: backend.clone(),
            matcher: None,
            health_path: "/".into(),
            restart: None,
            protocol: None,
        };
        tcp_verdict(Rec::start(StepName::BackendPort), tcp, &spec)
    }

    #[test]
    fn a_name_served_on_one_family_warns_and_keeps_the_listener() {
        let (r, l) = verdict(&localhost(), &[listener("[::1]:8080", 7)]);
        assert_eq!(r.verdict, Verdict::Warn);
        let f = r.finding.unwrap();
        assert_eq!(f.code, FindingCode::BackendPartlyListening);
        assert!(f.cause.contains("not on 127.0.0.1:8080"), "{}", f.cause);
        assert_eq!(l.inodes(), vec![7]);
    }

    #[test]
    fn a_name_served_on_every_address_is_ok() {
        let tcp = [listener("[::1]:8080", 1), listener("0.0.0.0:8080", 2)];
        let (r, l) = verdict(&localhost(), &tcp);
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(l.inodes(), vec![1, 2]);
    }

    #[test]
    fn an_address_on_the_other_family_only_is_the_wrong_interface() {
        let backend = BackendAddr::Tcp("127.0.0.1:8080".parse().unwrap());
        let (r, l) = verdict(&backend, &[listener("[::1]:8080", 1)]);
        assert_eq!(r.finding.unwrap().code, FindingCode::BackendWrongInterface);
        assert!(l.is_empty());
        let (r, _) = verdict(&backend, &[listener("10.0.0.5:8080", 1)]);
        assert_eq!(r.verdict, Verdict::Fail);
        let (r, _) = verdict(&backend, &[listener("0.0.0.0:8080", 1)]);
        assert_eq!(r.verdict, Verdict::Ok);
    }
}
