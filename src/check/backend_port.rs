//! `backend_port`: does anything listen on the backend's address?

use crate::finding::{Finding, FindingCode};
use crate::step::{Recorder, StepName, StepResult};
use crate::sys::net::{TcpSocket, TcpState, UnixSocket};
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
    let mut rec = Recorder::start(StepName::BackendPort);
    let Some(backend) = &target.backend else {
        return (
            rec.skip("no backend configured (playbook [backend] or --backend)"),
            Listening::default(),
        );
    };
    rec.detail("address", backend.address.to_string());
    match &backend.address {
        BackendAddr::Tcp(addr) => tcp_verdict(rec, *addr, tcp, backend),
        BackendAddr::Unix(path) => unix_verdict(rec, path, unix, backend),
    }
}

/// Nothing listens: a backend process stuck before it opened the port, or no backend at all.
fn not_listening(
    mut rec: Recorder,
    backend: &BackendSpec,
    plain: Finding,
) -> (StepResult, Listening) {
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

/// A listener serves `want` when it is bound to that IP or to the wildcard of its family
/// (a `[::]` socket also takes IPv4 unless the kernel was told v6only, which /proc does not show).
fn covers(listener: &TcpSocket, want: std::net::SocketAddr) -> bool {
    let ip = listener.local.ip();
    listener.local.port() == want.port()
        && (ip == want.ip()
            || ip.is_unspecified() && (ip.is_ipv6() || want.is_ipv4())
            || mapped(ip) == Some(want.ip()))
}

fn mapped(ip: std::net::IpAddr) -> Option<std::net::IpAddr> {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(Into::into),
        _ => None,
    }
}

fn tcp_verdict(
    mut rec: Recorder,
    addr: std::net::SocketAddr,
    tcp: &[TcpSocket],
    backend: &BackendSpec,
) -> (StepResult, Listening) {
    let matcher = backend.matcher.as_ref();
    let on_port: Vec<&TcpSocket> = tcp
        .iter()
        .filter(|s| s.state == TcpState::Listen && s.local.port() == addr.port())
        .collect();
    let serving: Vec<TcpSocket> = on_port
        .iter()
        .filter(|s| covers(s, addr))
        .map(|s| (*s).clone())
        .collect();
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
            "/proc/net/tcp{}: {} LISTEN, inode {}, uid {}{queue}",
            if s.local.is_ipv6() { "6" } else { "" },
            s.local,
            s.inode,
            s.uid
        ));
    }
    rec.detail(
        "listeners",
        on_port
            .iter()
            .map(|s| {
                serde_json::json!({
                    "local": s.local.to_string(), "inode": s.inode, "uid": s.uid,
                    "accept_queue": s.rx_queue, "serves_backend": covers(s, addr),
                })
            })
            .collect::<Vec<_>>(),
    );
    if !serving.is_empty() {
        let result = rec.ok(format!("{addr} is listening (inode {})", serving[0].inode));
        return (
            result,
            Listening {
                tcp: serving,
                ..Default::default()
            },
        );
    }
    if !on_port.is_empty() {
        let where_ = on_port
            .iter()
            .map(|s| s.local.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let finding = Finding::new(
            FindingCode::BackendWrongInterface,
            format!("port {} listens only on {where_}, not on {addr}, so connections to {addr} are refused", addr.port()),
        )
        .with_action(format!("make the backend bind {addr}, or point nginx at {where_}"));
        return (rec.fail(finding), Listening::default());
    }
    rec.see(format!(
        "/proc/net/tcp, /proc/net/tcp6: no LISTEN socket on port {}",
        addr.port()
    ));
    if let Some((finding, bound)) = bound_elsewhere(&mut rec, addr, matcher) {
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
        format!("nothing listens on {addr}, so nginx cannot reach the backend (502)"),
    )
    .with_action("restart the backend");
    not_listening(rec, backend, finding)
}

/// A process that bound the port but never listened: invisible above, fatal to a restart.
/// Only processes matching the backend's pattern are inspected (each socket is duplicated).
fn bound_elsewhere(
    rec: &mut Recorder,
    addr: std::net::SocketAddr,
    matcher: Option<&regex::Regex>,
) -> Option<(Finding, Vec<i32>)> {
    let matcher = matcher?;
    let found: Vec<(i32, std::net::SocketAddr)> = crate::sys::bound::bound_not_listening(
        &crate::sys::holders::likely_pids(Some(matcher)),
        addr.port(),
    )
    .into_iter()
    .filter(|(_, a)| a.ip() == addr.ip() || a.ip().is_unspecified())
    .collect();
    let (pid, local) = *found.first()?;
    let cmd = crate::sys::process::ProcessInfo::read(pid)
        .map_or_else(|_| "?".into(), |p| p.cmdline_str());
    rec.see(format!("PID {pid} ({cmd}) has a socket bound to {local} that is not listening (found via pidfd_getfd; invisible to ss and lsof)"));
    let finding = Finding::new(
        FindingCode::BackendPortBound,
        format!("nothing listens on {addr}, but PID {pid} ({cmd}) has the port bound without listening, so a restart would fail with EADDRINUSE"),
    )
    .with_action(format!("stop PID {pid}, then start the backend"));
    Some((finding, found.iter().map(|(p, _)| *p).collect()))
}

fn unix_verdict(
    mut rec: Recorder,
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
    let exists = path.exists();
    rec.see(format!(
        "{shown}: {}",
        if exists {
            "socket file exists"
        } else {
            "no such file"
        }
    ));
    for u in &serving {
        rec.see(format!("/proc/net/unix: {shown} LISTEN, inode {}", u.inode));
    }
    if !serving.is_empty() {
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
    let cause = if exists {
        format!("unix:{shown} exists but nothing listens on it (a stale socket file left by a dead backend), so nginx cannot reach the backend (502)")
    } else {
        format!("unix:{shown} does not exist, so nginx cannot reach the backend (502)")
    };
    rec.see(format!(
        "/proc/net/unix: no listening socket bound to {shown}"
    ));
    let finding =
        Finding::new(FindingCode::BackendNotListening, cause).with_action("restart the backend");
    not_listening(rec, backend, finding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(local: &str) -> TcpSocket {
        TcpSocket {
            local: local.parse().unwrap(),
            remote: "0.0.0.0:0".parse().unwrap(),
            state: TcpState::Listen,
            rx_queue: 0,
            tx_queue: 128,
            uid: 0,
            inode: 1,
        }
    }

    #[test]
    fn wildcards_cover_their_family() {
        let want = "127.0.0.1:8080".parse().unwrap();
        assert!(covers(&listener("127.0.0.1:8080"), want));
        assert!(covers(&listener("0.0.0.0:8080"), want));
        assert!(covers(&listener("[::]:8080"), want));
        assert!(!covers(&listener("[::1]:8080"), want));
        assert!(!covers(&listener("10.0.0.5:8080"), want));
        assert!(!covers(
            &listener("0.0.0.0:8080"),
            "[::1]:8080".parse().unwrap()
        ));
    }
}
