//! One process as /proc describes it: identity (pid + start time), command line, state,
//! what it is blocked on, what its stdin is, and its systemd unit.

use std::collections::HashMap;

use serde::Serialize;

/// What a file descriptor (usually stdin) points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum FdTarget {
    Tty(String),
    Pipe,
    Fifo(String),
    DevNull,
    File(String),
    Socket,
    Closed,
    Unreadable,
}

/// The system call a sleeping process is in, from /proc/PID/syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Syscall {
    pub name: String,
    /// First argument; for read() that is the file descriptor.
    pub arg0: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: String,
    pub cmdline: Vec<String>,
    /// The /proc state letter: R, S, D, T, t, Z, I, ...
    pub state: char,
    pub uid: u32,
    pub user: String,
    /// Start time in clock ticks since boot (stat field 22): with the pid, the identity.
    pub start_ticks: u64,
    /// Start time as seconds since the epoch.
    pub started_unix: f64,
    pub wchan: Option<String>,
    pub stdin: FdTarget,
    pub syscall: Option<Syscall>,
    /// systemd unit from /proc/PID/cgroup (e.g. `flask-app.service`), if any.
    pub unit: Option<String>,
    /// Container id when the cgroup says the process runs in a container.
    pub container: Option<String>,
    pub kernel_thread: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("process {0} is gone")]
    Gone(i32),
    #[error("permission denied reading /proc/{0}")]
    Denied(i32),
    #[error("reading /proc/{pid}: {source}")]
    Io {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
}

impl ProcessInfo {
    pub fn read(_pid: i32) -> Result<ProcessInfo, ProcError> {
        todo!()
    }

    /// The command line as one escaped string (comm in brackets when empty, like ps).
    pub fn cmdline_str(&self) -> String {
        todo!()
    }

    pub fn age_secs(&self) -> f64 {
        todo!()
    }

    /// Sleeping in read() on fd 0, or in a tty/pipe read with stdin a tty/pipe.
    pub fn blocked_reading_stdin(&self) -> bool {
        todo!()
    }
}

/// Every numeric entry of /proc.
pub fn all_pids() -> Vec<i32> {
    todo!()
}

/// Parent pid → child pids, for every process that could be read.
pub fn children_map() -> HashMap<i32, Vec<i32>> {
    todo!()
}

/// The kernel's short name of a process (cheap: one small read), or None if it is gone.
pub fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Pids whose kernel name is exactly `name` (used for nginx, whose name is reliable, unlike a
/// python backend's).
pub fn pids_named(name: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| comm(p).as_deref() == Some(name))
        .collect()
}
