//! The little of /proc the lab needs to start, recognise and stop its own processes, as thin
//! adapters over `sys`: identity (pid + start time), state, command line and cwd, who listens
//! on a loopback port, and signalling through a pidfd so a reused pid is never hit.

use std::io;
use std::path::PathBuf;

use rustix::process::{Pid, Signal};

use crate::sys::process::{self as proc_, ProcessInfo};
use crate::sys::signal::{Handle, Identity, Lost};
use crate::sys::{holders, net};

pub use crate::sys::process::Stat;

pub fn stat(pid: i32) -> Option<Stat> {
    proc_::read_stat(pid).ok()
}

/// Start time of a running process, to record next to its pid.
pub fn start_ticks(pid: i32) -> io::Result<u64> {
    stat(pid)
        .map(|s| s.start_ticks)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is gone")))
}

/// Is the process with this identity still running? A zombie counts as gone (its sockets are
/// closed); if it is our own child it is reaped on the way.
pub fn alive(pid: i32, start_ticks: u64) -> bool {
    match stat(pid) {
        Some(s) if s.start_ticks == start_ticks => {
            if s.state.is_gone() {
                reap(pid);
                false
            } else {
                true
            }
        }
        _ => false,
    }
}

/// Collects the exit status of `pid` if it is a finished child of this process.
fn reap(pid: i32) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
    }
}

/// Sends `sig` to the process only if it still has this start time (checked after a pidfd pins
/// it). Returns false when the process is already gone.
pub fn signal(pid: i32, start_ticks: u64, sig: Signal) -> io::Result<bool> {
    if pid <= 1 || !alive(pid, start_ticks) {
        return Ok(false);
    }
    let id = Identity {
        pid,
        start_ticks,
        cmdline: argv(pid).unwrap_or_default(),
    };
    match Handle::open(&id) {
        Ok(h) => h
            .signal(sig)
            .map(|()| true)
            .or_else(|e| if h.exited() { Ok(false) } else { Err(e) }),
        Err(Lost::Gone) | Err(Lost::Changed(_)) => Ok(false),
    }
}

/// The arguments of the process; empty for kernel threads.
pub fn argv(pid: i32) -> Option<Vec<String>> {
    proc_::read_cmdline(pid)
}

/// The command line with arguments joined by spaces (nginx rewrites its own into one string
/// such as `nginx: master process /usr/sbin/nginx -p DIR -c DIR/nginx.conf`).
pub fn cmdline(pid: i32) -> Option<String> {
    argv(pid).map(|a| a.join(" "))
}

pub fn cwd(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

pub fn all_pids() -> Vec<i32> {
    proc_::all_pids()
}

/// The pids whose parent is `ppid`, with their start times.
pub fn children(ppid: i32) -> Vec<(i32, u64)> {
    let map = proc_::children_map();
    map.get(&ppid)
        .into_iter()
        .flatten()
        .filter_map(|&pid| Some((pid, stat(pid)?.start_ticks)))
        .collect()
}

/// True while the process is blocked reading its stdin.
pub fn reading_stdin(pid: i32) -> bool {
    ProcessInfo::read(pid).is_ok_and(|p| p.blocked_reading_stdin())
}

fn listen_inodes(port: u16) -> Vec<u64> {
    let tcp = net::tcp_listeners().unwrap_or_default();
    net::listening_on_port(&tcp, port)
        .map(|s| s.inode)
        .collect()
}

pub fn listening(port: u16) -> bool {
    !listen_inodes(port).is_empty()
}

/// Processes holding a listening socket on `port`.
pub fn listeners(port: u16) -> Vec<i32> {
    let inodes = listen_inodes(port);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut pids: Vec<i32> = holders::find_holders(&inodes, &[])
        .holders
        .into_values()
        .flatten()
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// This process and its ancestors: never signalled by the lab.
pub fn self_and_ancestors() -> Vec<i32> {
    let me = std::process::id() as i32;
    std::iter::once(me).chain(proc_::ancestors(me)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_this_process() {
        let me = std::process::id() as i32;
        let ticks = start_ticks(me).unwrap();
        assert!(alive(me, ticks));
        assert!(!alive(me, ticks + 1));
        assert_eq!(self_and_ancestors()[0], me);
    }
}
