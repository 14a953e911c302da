//! SIGCONT for a stopped holder (SIGSTOP, or Ctrl-Z in someone's SSH session). The kernel kept
//! queueing connections for it, so resuming may be the whole fix.

use super::target::{ActionTarget, ResumeTarget};
use rustix::process::Signal;

use super::{ActionCode, Applied, Ctx, Outcome, Plan, Work};
use crate::check::port_holder::HolderView;
use crate::sys::signal::{Handle, Identity, Lost};

pub fn plan(holder: &HolderView) -> Plan {
    let stopped: Vec<_> = holder.all.iter().filter(|p| p.state.is_stopped()).collect();
    let mut lines = vec!["send SIGCONT to the stopped process(es), then re-check:".to_string()];
    for p in &stopped {
        lines.push(format!(
            "  PID {} user {} state {} started {} ago: {}",
            p.pid,
            p.user,
            p.state,
            crate::format::age(p.age_secs()),
            p.cmdline_str()
        ));
    }
    Plan {
        code: ActionCode::ResumeHolder,
        question: format!(
            "Resume stopped PID {} with SIGCONT?",
            stopped
                .iter()
                .map(|p| p.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        lines,
        target: ActionTarget::Resume(ResumeTarget {
            pids: stopped.iter().map(|p| p.pid).collect(),
            pid: holder.main.pid,
            cmdline: holder.main.cmdline_str(),
            start_ticks: holder.main.start_ticks,
        }),
        foreign: holder.matches == Some(false),
        work: Work::Resume {
            procs: stopped.iter().map(|p| Identity::of(p)).collect(),
        },
    }
}

pub fn apply(procs: &[Identity], ctx: &mut Ctx<'_>) -> Applied {
    let mut out = Applied::new();
    for id in procs {
        let handle = match Handle::open(id) {
            Ok(h) => h,
            Err(Lost::Gone) => {
                out.note(ctx, format!("PID {} is gone already", id.pid));
                continue;
            }
            Err(Lost::Changed(why)) => {
                out.note(ctx, format!("aborted: {why} since the plan was shown"));
                return out.end(Outcome::Aborted);
            }
        };
        match handle.signal(Signal::CONT) {
            Ok(()) => out.note(
                ctx,
                format!("SIGCONT → PID {}{}", id.pid, handle.via_note()),
            ),
            Err(e) => {
                out.note(ctx, format!("SIGCONT → PID {} failed: {e}", id.pid));
                return out.end(Outcome::Failed);
            }
        }
    }
    out
}
