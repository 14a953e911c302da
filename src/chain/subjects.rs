//! The processes a fix would act on, read once at the end of the chain so the planner
//! (plan.rs) decides on values and never reads /proc itself.

use crate::check::backend_port::Listening;
use crate::sys::process::{self, ProcessInfo};

/// What the planner needs to know about the host beyond the step results.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    /// Processes with a socket bound to the backend's port that is not listening.
    pub bound: Vec<ProcessInfo>,
    /// Backend processes waiting at a prompt that never opened the port, each with its
    /// living descendants (stopped with it, or they would be orphaned).
    pub blocked: Vec<(ProcessInfo, Vec<ProcessInfo>)>,
    /// systemd is PID 1: nginx is started through its unit, not by hand.
    pub systemd_booted: bool,
}

impl Subjects {
    pub fn read(listening: &Listening) -> Subjects {
        let read = |pids: &[i32]| -> Vec<ProcessInfo> {
            pids.iter()
                .filter_map(|&pid| ProcessInfo::read(pid).ok())
                .collect()
        };
        let blocked = read(&listening.blocked);
        let children = if blocked.is_empty() {
            Default::default()
        } else {
            process::children_map()
        };
        Subjects {
            bound: read(&listening.bound),
            blocked: blocked
                .into_iter()
                .map(|p| {
                    let kids = read(&process::descendants(p.pid, &children));
                    (p, kids)
                })
                .collect(),
            systemd_booted: crate::sys::spawn::systemd_booted(),
        }
    }
}
