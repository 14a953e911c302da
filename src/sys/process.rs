//! One process as /proc describes it: identity (pid + start time), command line, state,
//! what it is blocked on, what its stdin is, and its systemd unit.

mod cgroup;
mod fd;
pub mod forensics;
mod members;
mod scan;
pub mod snapshot;
mod stat;
mod syscall;
mod wait;

use crate::clock::now_unix;
use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::sync::OnceLock;

use serde::Serialize;

pub use self::fd::{cwd, exe};
pub use cgroup::{parse_cgroup, CgroupPlace};
pub use fd::read_fd;
pub use members::pids_in_unit;
pub(crate) use scan::{par_map, read_into, ProcRoot};
pub use stat::{parse_btime, parse_stat, parse_status_uid, ProcState, Stat, PF_KTHREAD};
pub use syscall::{parse_syscall, syscall_name, Arch};
pub use wait::{describe_waited, waited_children, Waited};

/// What a file descriptor (usually stdin) points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

impl FdTarget {
    /// Something a read can wait on forever: a terminal nobody types into, or a pipe nobody
    /// writes to.
    pub fn can_block(&self) -> bool {
        matches!(self, FdTarget::Tty(_) | FdTarget::Pipe | FdTarget::Fifo(_))
    }
}

/// The system call a sleeping process is in, from /proc/PID/syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    pub state: ProcState,
    pub uid: u32,
    pub user: String,
    /// Start time in clock ticks since boot (stat field 22): with the pid, the identity.
    pub start_ticks: u64,
    /// Start time as seconds since the epoch.
    pub started_unix: f64,
    pub wchan: Option<String>,
    pub stdin: FdTarget,
    pub syscall: Option<Syscall>,
    /// systemd unit from /proc/PID/cgroup (e.g. `flask-app.service`), if any. May be a
    /// transient scope, which cannot be restarted: see [`ProcessInfo::restartable_unit`].
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

const ESRCH: i32 = 3;

impl ProcError {
    fn from_io(pid: i32, e: std::io::Error) -> ProcError {
        match e.kind() {
            ErrorKind::NotFound => ProcError::Gone(pid),
            ErrorKind::PermissionDenied => ProcError::Denied(pid),
            _ if e.raw_os_error() == Some(ESRCH) => ProcError::Gone(pid),
            _ => ProcError::Io { pid, source: e },
        }
    }
}

fn read_text(pid: i32, file: &str) -> Result<String, ProcError> {
    let bytes =
        std::fs::read(format!("/proc/{pid}/{file}")).map_err(|e| ProcError::from_io(pid, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads and parses /proc/PID/stat alone: the cheap way to learn state, parent and identity.
pub fn read_stat(pid: i32) -> Result<Stat, ProcError> {
    let text = read_text(pid, "stat")?;
    parse_stat(&text).ok_or_else(|| ProcError::Io {
        pid,
        source: std::io::Error::new(ErrorKind::InvalidData, "unparsable stat line"),
    })
}

/// The argv of a process, without reading anything else. None when it cannot be read;
/// empty for kernel threads and zombies.
pub fn read_cmdline(pid: i32) -> Option<Vec<String>> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(split_cmdline(&bytes))
}

/// argv is NUL-separated with a trailing NUL; a process that rewrote its title may use spaces.
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let trimmed = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

impl ProcessInfo {
    pub fn read(pid: i32) -> Result<ProcessInfo, ProcError> {
        let stat = read_stat(pid)?;
        let uid = parse_status_uid(&read_text(pid, "status")?).unwrap_or(u32::MAX);
        let cmdline = split_cmdline(read_text(pid, "cmdline")?.as_bytes());
        let place = read_text(pid, "cgroup")
            .map(|t| parse_cgroup(&t))
            .unwrap_or_default();
        let kernel_thread =
            stat.flags & PF_KTHREAD != 0 || (cmdline.is_empty() && (stat.ppid == 2 || pid == 2));
        Ok(ProcessInfo {
            pid,
            ppid: stat.ppid,
            pgid: stat.pgid,
            sid: stat.sid,
            started_unix: ticks_to_unix(stat.start_ticks),
            start_ticks: stat.start_ticks,
            state: stat.state,
            comm: stat.comm,
            cmdline,
            uid,
            user: crate::users::name(uid),
            wchan: read_text(pid, "wchan").ok().and_then(|w| clean_wchan(&w)),
            stdin: read_fd(pid, 0),
            syscall: read_text(pid, "syscall")
                .ok()
                .and_then(|t| parse_syscall(&t, Arch::host())),
            unit: place.unit,
            container: place.container,
            kernel_thread,
        })
    }

    /// The command line as one escaped string (comm in brackets when empty, like ps).
    pub fn cmdline_str(&self) -> String {
        if self.cmdline.is_empty() {
            format!("[{}]", crate::sanitize::clean(&self.comm))
        } else {
            // Programs that rewrite their title (nginx workers) pad it with spaces.
            crate::sanitize::argv(&self.cmdline).trim_end().to_string()
        }
    }

    pub fn age_secs(&self) -> f64 {
        (now_unix() - self.started_unix).max(0.0)
    }

    /// Sleeping in read() on fd 0, or in a tty/pipe read with stdin a tty/pipe.
    ///
    /// The system call is the stronger evidence and wins when readable: a read on another fd
    /// is not stdin even if stdin is a terminal. `select` watching only fd 0 (nfds == 1) is how
    /// readline-style prompts wait. Without the system call (not root), the kernel function
    /// the process sleeps in is used, together with stdin being something that can block.
    pub fn blocked_reading_stdin(&self) -> bool {
        if !self.state.is_waiting() {
            return false;
        }
        match self.syscall.as_ref().map(|s| (s.name.as_str(), s.arg0)) {
            Some(("read" | "readv" | "pread64" | "preadv" | "preadv2", fd)) => fd == 0,
            Some(("select" | "pselect6", nfds)) => nfds == 1 && self.stdin.can_block(),
            // A pre-fork worker waiting for a client's request sleeps in `wait_woken` too,
            // as a terminal read does: the syscall's fd says whose data it waits for.
            Some((name, fd)) if name.starts_with("recv") => fd == 0 && self.stdin.can_block(),
            _ => self.stdin.can_block() && self.wchan.as_deref().is_some_and(is_read_wchan),
        }
    }

    /// The unit to restart, if the process runs in a systemd service (scopes cannot be
    /// restarted).
    pub fn restartable_unit(&self) -> Option<&str> {
        self.unit.as_deref().filter(|u| u.ends_with(".service"))
    }
}

fn is_read_wchan(w: &str) -> bool {
    matches!(w, "n_tty_read" | "wait_woken" | "tty_read")
        || w.starts_with("pipe_read")
        || w.starts_with("anon_pipe_read")
        || w.starts_with("pipe_wait")
}

/// "0" (or nothing) means the process is running or the kernel hides the symbol.
fn clean_wchan(text: &str) -> Option<String> {
    let w = text.trim();
    (!w.is_empty() && w != "0").then(|| w.to_string())
}

/// Boot time and clock-tick rate never change while fixer runs: read them once.
fn ticks_to_unix(ticks: u64) -> f64 {
    static BOOT: OnceLock<(f64, f64)> = OnceLock::new();
    let (btime, hz) = *BOOT.get_or_init(|| {
        let btime = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_btime(&t));
        let hz = rustix::param::clock_ticks_per_second();
        (
            btime.unwrap_or(0) as f64,
            if hz > 0 { hz as f64 } else { 100.0 },
        )
    });
    btime + ticks as f64 / hz
}

/// Every numeric entry of /proc (from the run's snapshot while one is installed).
pub fn all_pids() -> Vec<i32> {
    match snapshot::current() {
        Some(table) => table.pids(),
        None => read_all_pids(),
    }
}

fn read_all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Parent pid → child pids, for every process that could be read.
pub fn children_map() -> HashMap<i32, Vec<i32>> {
    if let Some(table) = snapshot::current() {
        let mut map = table.children().clone();
        map.values_mut().for_each(|c| c.sort_unstable());
        return map;
    }
    let Ok(root) = ProcRoot::open() else {
        return HashMap::new();
    };
    let ppids = par_map(&all_pids(), |pid, buf| {
        read_into(root.fd(), pid, "stat", buf).ok()?;
        parse_stat(&String::from_utf8_lossy(buf)).map(|s| s.ppid)
    });
    let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, ppid) in ppids {
        if let Some(ppid) = ppid {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map.values_mut().for_each(|c| c.sort_unstable());
    map
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

/// Pids (never fixer itself) whose argv satisfies `wanted`; kernel threads and zombies have
/// no argv and never match. From the run's snapshot while one is installed, so the command
/// lines are read once per run however many steps ask.
pub fn pids_whose_argv(wanted: impl Fn(&[String]) -> bool + Sync) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = match snapshot::current() {
        Some(table) => table
            .cmdlines()
            .iter()
            .filter(|(p, argv)| **p != me && wanted(argv))
            .map(|(p, _)| *p)
            .collect(),
        None => {
            let Ok(root) = ProcRoot::open() else {
                return Vec::new();
            };
            par_map(&read_all_pids(), |pid, buf| {
                pid != me && read_into(root.fd(), pid, "cmdline", buf).is_ok() && {
                    let argv = split_cmdline(buf);
                    !argv.is_empty() && wanted(&argv)
                }
            })
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(p, _)| p)
            .collect()
        }
    };
    pids.sort_unstable();
    pids
}

/// Every descendant of `pid` (children, grandchildren, ...), not `pid` itself.
pub fn descendants(pid: i32, children: &HashMap<i32, Vec<i32>>) -> Vec<i32> {
    let mut seen = HashSet::from([pid]);
    let mut queue = vec![pid];
    let mut out = Vec::new();
    while let Some(p) = queue.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            if seen.insert(c) {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The parent chain of `pid`, nearest first, ending with PID 1 when it is reachable.
pub fn ancestors(pid: i32) -> Vec<i32> {
    let table = snapshot::current();
    let parent = |p: i32| match table.as_ref().and_then(|t| t.entry(p)) {
        Some(e) => Some(e.ppid),
        None => read_stat(p).ok().map(|s| s.ppid),
    };
    let mut out = Vec::new();
    let mut current = pid;
    while let Some(ppid) = parent(current) {
        if ppid <= 0 || out.contains(&ppid) || out.len() > 4096 {
            break;
        }
        out.push(ppid);
        current = ppid;
    }
    out
}

#[cfg(test)]
mod tests;
