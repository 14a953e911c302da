//! Does anything accept connections on a TCP address? Seen from the kernel's side, so it holds
//! for any protocol: fixer connects and sends nothing, and /proc/net/tcp lists the server's
//! end of that connection with inode 0 while it waits in a listener's accept queue, and with
//! the inode of a real socket once a process called accept(). Which process accepted it is the
//! one holding that inode — with several listeners on one address (SO_REUSEPORT) this is the
//! only way to tell them apart from outside, as a connect cannot be aimed at one of them.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::pace::Pace;

use super::net::{self, TcpSocket, TcpState};

/// The first pause before the kernel is asked again, and the longest: a prompt acceptor is
/// seen within a millisecond or two, a slow one is looked at every 10 ms. Each look is one
/// sock_diag lookup per open connection by its four addresses, so looking often costs little.
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(10);

/// What became of one connection fixer opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// A process accepted it: the server-side socket's inode, and which of the given holders
    /// had it open (None when it was already closed again when looked for).
    Accepted { inode: u64, by: Option<i32> },
    /// Still waiting in an accept queue when the window ended.
    Waiting,
    /// The connection was not established (refused, or no handshake in time): says nothing
    /// about whether the holder accepts.
    NotConnected(String),
}

#[derive(Debug, Clone)]
pub struct AcceptReport {
    pub fates: Vec<Fate>,
    pub waited: Duration,
    /// LISTEN sockets on the port, read when the window ended (their accept queues then).
    pub listeners_after: Vec<TcpSocket>,
    /// Server-side sockets on the port that some process had accepted and still held open
    /// when the window ended (fixer's own connections excluded). `None` when not read: every
    /// one of fixer's connections was accepted on the port's only listener, so what else its
    /// holder works on decides nothing, and the read would walk every connection on the host.
    pub open_accepted: Option<Vec<u64>>,
}

impl AcceptReport {
    pub fn waiting(&self) -> usize {
        self.fates.iter().filter(|f| **f == Fate::Waiting).count()
    }

    pub fn accepted(&self) -> usize {
        self.fates
            .iter()
            .filter(|f| matches!(f, Fate::Accepted { .. }))
            .count()
    }

    /// How many of fixer's connections `pid` accepted.
    pub fn accepted_by(&self, pids: &[i32]) -> usize {
        self.fates
            .iter()
            .filter(|f| matches!(f, Fate::Accepted { by: Some(p), .. } if pids.contains(p)))
            .count()
    }
}

/// Opens `count` connections to `addr` and waits up to `window` for each to be accepted, and
/// notes which of `holders` accepted each.
/// Each connection is closed as soon as it is accepted, so a single-threaded server is not
/// kept waiting by fixer. `Err` means fixer could not look (its own failure, e.g. no file
/// descriptors left, /proc unreadable): never evidence about the holder.
pub fn probe(
    addr: SocketAddr,
    count: usize,
    window: Duration,
    holders: &[i32],
) -> Result<AcceptReport, String> {
    let started = Instant::now();
    let target = reachable(addr);
    let mut open: Vec<(usize, TcpStream, SocketAddr)> = Vec::new();
    let mut fates = vec![Fate::Waiting; count];
    for (i, fate) in fates.iter_mut().enumerate() {
        match TcpStream::connect_timeout(&target, super::http::connect_timeout(window)) {
            Ok(s) => {
                let local = s.local_addr().map_err(|e| format!("getsockname: {e}"))?;
                open.push((i, s, local));
            }
            Err(e) if super::http::is_local(&e) => {
                return Err(format!(
                    "opening a connection: {}",
                    crate::format::io_message(&e)
                ))
            }
            Err(e) => *fate = Fate::NotConnected(crate::format::io_message(&e)),
        }
    }
    let mut mine: HashSet<SocketAddr> = open.iter().map(|(_, _, l)| canonical(*l)).collect();
    let mut pace = Pace::until(POLL_FIRST, POLL_MAX, started + window);
    let mut ends = net::ServerEnds::open();
    loop {
        let locals: Vec<SocketAddr> = open.iter().map(|(_, _, l)| *l).collect();
        let found = ends.look(target, &locals).map_err(|e| format!("{e:#}"))?;
        let accepted: Vec<(usize, u64)> = open
            .iter()
            .zip(found)
            .filter_map(|((i, _, _), end)| {
                end.map(|s| s.inode)
                    .filter(|inode| *inode != 0)
                    .map(|inode| (*i, inode))
            })
            .collect();
        if !accepted.is_empty() {
            // Looked up before fixer closes its end, while the acceptor still holds the socket.
            let held = socket_inodes(holders);
            for (i, inode) in &accepted {
                let by = held
                    .iter()
                    .find(|(_, inodes)| inodes.contains(inode))
                    .map(|(pid, _)| *pid);
                fates[*i] = Fate::Accepted { inode: *inode, by };
            }
            open.retain(|(i, _, _)| !accepted.iter().any(|(a, _)| a == i));
        }
        if open.is_empty() || !pace.wait() {
            break;
        }
    }
    let waited = started.elapsed();
    // Read while fixer's unaccepted connections are still open, so the queues count them.
    let listeners_after =
        net::tcp_listeners_on_port(target.port()).map_err(|e| format!("{e:#}"))?;
    mine.extend(open.iter().map(|(_, _, l)| canonical(*l)));
    let all_taken = fates.iter().all(|f| matches!(f, Fate::Accepted { .. }));
    let open_accepted = if all_taken && listeners_after.len() <= 1 {
        None
    } else {
        Some(
            read(target.port())?
                .iter()
                .filter(|s| {
                    s.state != TcpState::Listen
                        && s.inode != 0
                        && !mine.contains(&canonical(s.remote))
                })
                .map(|s| s.inode)
                .collect(),
        )
    };
    drop(open);
    Ok(AcceptReport {
        fates,
        waited,
        listeners_after,
        open_accepted,
    })
}

/// The sockets on the probed port, listening or connected: the kernel lists the server's end
/// of a connection not yet accepted with inode 0, which is what the probe watches.
fn read(port: u16) -> Result<Vec<TcpSocket>, String> {
    net::tcp_on_port(port).map_err(|e| format!("{e:#}"))
}

/// A wildcard address is reached through loopback of its family.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(v6) if v6.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// IPv4-mapped IPv6 (how tcp6 lists an IPv4 peer of a dual-stack socket) as plain IPv4.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), a.port()),
            None => a,
        },
        IpAddr::V4(_) => a,
    }
}

/// Socket inodes each pid holds open (`/proc/PID/fd/* -> socket:[N]`). Only the few holders of
/// a backend's socket are read, so this never walks the whole process table. A pid whose fd
/// table cannot be read is left out: "unknown", never "holds nothing".
pub fn socket_inodes(pids: &[i32]) -> BTreeMap<i32, HashSet<u64>> {
    let mut out = BTreeMap::new();
    for &pid in pids {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let inodes: HashSet<u64> = dir
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter_map(|t| {
                t.to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect();
        out.insert(pid, inodes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn an_accepted_connection_names_its_socket_and_a_queued_one_waits() {
        let serving = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = serving.local_addr().unwrap();
        let t = std::thread::spawn(move || serving.accept().map(|(s, _)| s));
        let me = std::process::id() as i32;
        let r = probe(addr, 1, Duration::from_secs(5), &[me]).unwrap();
        let accepted = t.join().unwrap().unwrap();
        drop(accepted);
        assert!(
            matches!(r.fates[0], Fate::Accepted { inode, by: Some(p) } if inode != 0 && p == me),
            "{r:?}"
        );
        // Taken on the port's only listener: the host's connections are not walked for more.
        assert_eq!(r.open_accepted, None);

        let idle = TcpListener::bind("127.0.0.1:0").unwrap();
        let r = probe(
            idle.local_addr().unwrap(),
            2,
            Duration::from_millis(200),
            &[],
        )
        .unwrap();
        assert_eq!(r.waiting(), 2, "{r:?}");
        assert_eq!(r.listeners_after.len(), 1);
        assert_eq!(r.listeners_after[0].rx_queue, 2);
        assert_eq!(
            r.open_accepted,
            Some(Vec::new()),
            "read, as connections waited"
        );
    }

    #[test]
    fn a_closed_port_is_not_connected() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let r = probe(addr, 1, Duration::from_millis(200), &[]).unwrap();
        assert!(matches!(r.fates[0], Fate::NotConnected(_)), "{r:?}");
    }
}
