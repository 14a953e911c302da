//! Sockets bound to a port but not listening. They are invisible to /proc/net/tcp, `ss`,
//! `lsof -i` and `fuser`, yet a backend restart on that port fails with EADDRINUSE. Found by
//! duplicating each socket fd of a candidate process (pidfd_getfd) and asking it directly.

use std::net::SocketAddr;

use rustix::net::{getsockname, sockopt};
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};

/// `(pid, local address)` of every non-listening TCP socket among `pids` bound to `port`.
/// Processes that cannot be inspected (not root, gone, old kernel) are skipped.
pub fn bound_not_listening(pids: &[i32], port: u16) -> Vec<(i32, SocketAddr)> {
    pids.iter()
        .flat_map(|&pid| in_process(pid, port).into_iter().map(move |a| (pid, a)))
        .collect()
}

fn in_process(pid: i32, port: u16) -> Vec<SocketAddr> {
    let Some(pidfd) = Pid::from_raw(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let Ok(dup) = pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let stream = sockopt::socket_type(&dup).is_ok_and(|t| t == rustix::net::SocketType::STREAM);
        let listening = sockopt::socket_acceptconn(&dup).unwrap_or(true);
        // An accepted or outgoing connection has a peer; a socket only bound has none.
        let connected = rustix::net::getpeername(&dup).is_ok_and(|p| p.is_some());
        let Some(addr) = getsockname(&dup)
            .ok()
            .and_then(|a| SocketAddr::try_from(a).ok())
        else {
            continue;
        };
        if stream && !listening && !connected && addr.port() == port {
            out.push(addr);
        }
    }
    out
}
