//! Signals that can only reach the process the operator approved. A pidfd pins the process, so
//! a PID reused between the plan and the signal is never hit; identity (PID + start time +
//! command line) is re-read right before every signal.

use std::os::fd::OwnedFd;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
use serde::Serialize;

use super::process::{ProcError, ProcessInfo};

/// What makes a process the one that was shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub pid: i32,
    pub start_ticks: u64,
    pub cmdline: Vec<String>,
}

impl Identity {
    pub fn of(p: &ProcessInfo) -> Identity {
        Identity {
            pid: p.pid,
            start_ticks: p.start_ticks,
            cmdline: p.cmdline.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Recheck {
    Same,
    Gone,
    /// Another process now has this PID, or the command line changed.
    Changed(String),
}

pub fn recheck(id: &Identity) -> Recheck {
    match ProcessInfo::read(id.pid) {
        Err(ProcError::Gone(_)) => Recheck::Gone,
        Err(e) => Recheck::Changed(e.to_string()),
        Ok(p) if p.state.is_gone() => Recheck::Gone,
        Ok(p) if p.start_ticks != id.start_ticks => Recheck::Changed(format!(
            "PID {} now belongs to a process started later ({})",
            id.pid,
            p.cmdline_str()
        )),
        Ok(p) if p.cmdline != id.cmdline => Recheck::Changed(format!(
            "PID {}'s command line changed to {}",
            id.pid,
            p.cmdline_str()
        )),
        Ok(_) => Recheck::Same,
    }
}

/// Why a handle could not be had.
#[derive(Debug, Clone)]
pub enum Lost {
    Gone,
    Changed(String),
}

/// A handle on one approved process.
pub struct Handle {
    pub id: Identity,
    pidfd: Option<OwnedFd>,
}

impl Handle {
    /// Opens a pidfd and then re-checks identity, so the fd is known to pin the right process.
    pub fn open(id: &Identity) -> Result<Handle, Lost> {
        let pidfd = Pid::from_raw(id.pid).and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
        match recheck(id) {
            Recheck::Same => Ok(Handle {
                id: id.clone(),
                pidfd,
            }),
            Recheck::Gone => Err(Lost::Gone),
            Recheck::Changed(why) => Err(Lost::Changed(why)),
        }
    }

    pub fn uses_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// " (via pidfd)" for evidence lines, so the operator sees a reused PID could not be hit.
    pub fn via_note(&self) -> &'static str {
        if self.uses_pidfd() {
            " (via pidfd)"
        } else {
            ""
        }
    }

    pub fn signal(&self, sig: Signal) -> std::io::Result<()> {
        match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, sig).map_err(Into::into),
            None => {
                // No pidfd (old kernel): identity was re-checked an instant ago.
                match recheck(&self.id) {
                    Recheck::Same => {}
                    _ => {
                        return Err(std::io::Error::other(
                            "the process changed before the signal",
                        ))
                    }
                }
                let pid =
                    Pid::from_raw(self.id.pid).ok_or_else(|| std::io::Error::other("bad pid"))?;
                rustix::process::kill_process(pid, sig).map_err(Into::into)
            }
        }
    }

    /// Whether the process has exited (a zombie counts: it holds no sockets any more).
    pub fn exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => pidfd_exited(fd, std::time::Duration::ZERO).unwrap_or(false),
            None => !matches!(recheck(&self.id), Recheck::Same),
        }
    }
}

/// Whether the process behind `pidfd` has exited, waiting up to `within` for it (a pidfd turns
/// readable at the exit). `Err(INTR)` when a signal cut the wait short.
pub(crate) fn pidfd_exited(
    pidfd: &impl std::os::fd::AsFd,
    within: std::time::Duration,
) -> rustix::io::Result<bool> {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let timeout = rustix::event::Timespec::try_from(within).ok();
    poll(&mut fds, timeout.as_ref()).map(|n| n > 0)
}

pub fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::TERM => "SIGTERM",
        Signal::KILL => "SIGKILL",
        Signal::CONT => "SIGCONT",
        Signal::HUP => "SIGHUP",
        _ => "signal",
    }
}
