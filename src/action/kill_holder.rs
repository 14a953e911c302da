//! Kill the process(es) holding the backend's port: SIGTERM, a grace period while polling, and
//! SIGKILL only after asking again. The whole family sharing the socket is covered (a pre-fork
//! master and its workers), and the port is confirmed free afterwards.

use super::target::{ActionTarget, KillTarget};
use rustix::process::Signal;

use super::{poll_until, ActionCode, Applied, Ctx, Outcome, Plan, Work};
use crate::check::port_holder::HolderView;
use crate::consent::Answer;
use crate::sys::signal::{Handle, Identity, Lost};
use crate::target::BackendAddr;

/// The plan, or why fixer will not do it (a protected process).
pub fn plan(holder: &HolderView, address: &BackendAddr) -> Result<Plan, String> {
    if let Some(why) = holder.all.iter().find_map(super::guard::refuse_reason) {
        return Err(why);
    }
    let foreign = holder.matches == Some(false);
    let mut lines = Vec::new();
    if foreign {
        lines.push(format!(
            "WARNING: PID {} does not look like the backend (its command line does not match the playbook's pattern). \
             It is some other program that took {address}.",
            holder.main.pid
        ));
    }
    lines.push(format!("send SIGTERM, wait for exit, then SIGKILL only if you agree; then check {address} is free:"));
    for p in &holder.all {
        let unit = p
            .unit
            .as_deref()
            .map_or(String::new(), |u| format!(" unit {u}"));
        lines.push(format!(
            "  PID {} (ppid {}) user {} state {} started {} ({} ago){unit}: {}",
            p.pid,
            p.ppid,
            p.user,
            p.state,
            crate::format::clock_time(p.started_unix),
            crate::format::age(p.age_secs()),
            p.cmdline_str()
        ));
    }
    let pids: Vec<String> = holder.all.iter().map(|p| p.pid.to_string()).collect();
    let question = if foreign {
        format!(
            "PID {} is NOT the backend. Kill it anyway (SIGTERM to {})?",
            holder.main.pid,
            pids.join(", ")
        )
    } else {
        format!(
            "Kill the holder of {address} (SIGTERM to PID {})?",
            pids.join(", ")
        )
    };
    Ok(Plan {
        code: ActionCode::KillHolder,
        question,
        lines,
        target: ActionTarget::Kill(KillTarget {
            pid: holder.main.pid,
            pids: holder.all.iter().map(|p| p.pid).collect(),
            cmdline: holder.main.cmdline_str(),
            user: holder.main.user.clone(),
            start_ticks: holder.main.start_ticks,
            started_unix: holder.main.started_unix,
            unit: holder.main.unit.clone(),
            signal: "SIGTERM",
            foreign,
            reason: None,
        }),
        foreign,
        work: Work::Kill {
            procs: holder.all.iter().map(Identity::of).collect(),
            address: address.clone(),
            others_serve: false,
        },
    })
}

/// The plan for one of several listeners on the address (SO_REUSEPORT) while the others
/// serve: only this one is removed, and the address stays served by the rest.
pub fn keeping_other_listeners(mut p: Plan) -> Plan {
    if let Work::Kill {
        address,
        others_serve,
        ..
    } = &mut p.work
    {
        *others_serve = true;
        p.lines.push(format!(
            "other listening sockets on {address} serve and are left alone: {address} stays served by them"
        ));
    }
    p
}

/// Backend processes waiting at a prompt that never opened the port: killed like a holder, so
/// the backend started next is the only instance.
pub fn plan_blocked(blocked: &HolderView, address: &BackendAddr) -> Result<Plan, String> {
    let mut p = plan(blocked, address)?;
    let pids: Vec<String> = blocked.all.iter().map(|p| p.pid.to_string()).collect();
    if !p.foreign {
        p.question = format!(
            "Kill PID {}, which waits at a prompt and never opened {address} (SIGTERM)?",
            pids.join(", ")
        );
    }
    if let ActionTarget::Kill(t) = &mut p.target {
        t.reason = Some("blocked-before-listen");
    }
    Ok(p)
}

pub fn apply(
    procs: &[Identity],
    address: &BackendAddr,
    others_serve: bool,
    ctx: &mut Ctx<'_>,
) -> Applied {
    let mut out = Applied::new();
    let mut handles = Vec::new();
    for id in procs {
        match Handle::open(id) {
            Ok(h) => handles.push(h),
            Err(Lost::Gone) => out.note(ctx, format!("PID {} has exited already", id.pid)),
            Err(Lost::Changed(why)) => {
                out.note(
                    ctx,
                    format!("aborted, nothing signalled: {why} since the plan was shown"),
                );
                return out.end(Outcome::Aborted);
            }
        }
    }
    if handles.is_empty() {
        // Every planned process exited on its own while the operator read the plan. Whatever
        // holds the port now was never shown to them: leave it alone.
        if super::restart::listening(address) && !others_serve {
            out.note(
                ctx,
                format!("aborted, nothing signalled: {address} is now held by another process, which was not in the plan; run fixer again to look at it"),
            );
            return out.end(Outcome::Aborted);
        }
        return confirm_free(address, others_serve, out, ctx);
    }
    if super::interrupted() {
        out.note(ctx, "interrupted before any signal was sent");
        return out.end(Outcome::Interrupted);
    }
    save_evidence(&handles, &mut out, ctx);
    if !signal_all(&handles, Signal::TERM, &mut out, ctx) {
        return out.end(Outcome::Failed);
    }
    let grace = ctx.grace;
    if !poll_until(grace, || handles.iter().all(Handle::exited)) {
        if super::interrupted() {
            return interrupted_after(&handles, "SIGTERM", out, ctx);
        }
        let left: Vec<&Handle> = handles.iter().filter(|h| !h.exited()).collect();
        let pids = pid_list(left.iter().copied());
        out.note(
            ctx,
            format!(
                "PID {pids} still running {} s after SIGTERM",
                grace.as_secs_f64()
            ),
        );
        match ctx
            .consent
            .ask(&format!("PID {pids} ignored SIGTERM. Send SIGKILL?"), false)
        {
            Answer::Approved(_) => {}
            Answer::Interrupted => return interrupted_after(&handles, "SIGTERM", out, ctx),
            _ => {
                out.note(ctx, "SIGKILL declined; the holder is still running");
                return out.end(Outcome::Declined);
            }
        }
        let left: Vec<Handle> = left
            .into_iter()
            .filter_map(|h| Handle::open(&h.id).ok())
            .collect();
        if super::interrupted() {
            return interrupted_after(&handles, "SIGTERM", out, ctx);
        }
        if !signal_all(&left, Signal::KILL, &mut out, ctx)
            || !poll_until(std::time::Duration::from_secs(5), || {
                left.iter().all(Handle::exited)
            })
        {
            out.note(ctx, "the holder survived SIGKILL (uninterruptible sleep?)");
            return out.end(Outcome::Failed);
        }
    }
    out.note(
        ctx,
        format!(
            "PID {} exited",
            procs
                .iter()
                .map(|p| p.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    confirm_free(address, others_serve, out, ctx)
}

/// What the kill destroys — each thread's state, wchan and system call, the kernel stack, the
/// open files — goes into the action's evidence (the audit log's end entry and `--report`), so
/// why it hung can still be found once the site is back. The terminal gets one line.
fn save_evidence(handles: &[Handle], out: &mut Applied, ctx: &mut Ctx<'_>) {
    let saved: Vec<String> = handles
        .iter()
        .flat_map(|h| crate::sys::process::forensics::snapshot(h.id.pid))
        .collect();
    if saved.is_empty() {
        return;
    }
    let pids = pid_list(handles.iter());
    out.note(
        ctx,
        format!(
            "saved PID {pids}'s threads, kernel stack and open files before the signal ({} lines, in the audit log and --report)",
            saved.len()
        ),
    );
    out.evidence.extend(saved);
    if let Some(dir) = ctx.core {
        for h in handles {
            let line = core_file(dir, h.id.pid, ctx.grace.max(CORE_TIMEOUT));
            out.note(ctx, line);
        }
    }
}

/// gcore stops the process while it copies its memory; a large one takes a while.
const CORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `gcore -o DIR/core PID` (gdb's), bounded in time; says where the file is or why there is none.
fn core_file(dir: &std::path::Path, pid: i32, within: std::time::Duration) -> String {
    let Some(gcore) = crate::sys::command::which("gcore") else {
        return format!("no core file of PID {pid}: gcore is not installed (apt install gdb)");
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        return format!("no core file of PID {pid}: {}: {e}", dir.display());
    }
    let prefix = dir.join("core");
    let mut cmd = std::process::Command::new(gcore);
    cmd.arg("-o").arg(&prefix).arg(pid.to_string());
    let file = dir.join(format!("core.{pid}"));
    match crate::sys::command::run(&mut cmd, within) {
        Ok(o) if o.success() && file.is_file() => {
            let size = std::fs::metadata(&file).map_or(0, |m| m.len());
            format!("core file of PID {pid}: {} ({size} bytes)", file.display())
        }
        Ok(o) if o.timed_out => format!(
            "no core file of PID {pid}: gcore did not finish within {} s",
            within.as_secs()
        ),
        Ok(o) => format!(
            "no core file of PID {pid}: gcore failed: {}",
            crate::sanitize::clean(o.stderr.lines().last().unwrap_or(""))
        ),
        Err(e) => format!("no core file of PID {pid}: {e:#}"),
    }
}

/// "4242, 4243", for evidence.
fn pid_list<'a>(handles: impl Iterator<Item = &'a Handle>) -> String {
    handles
        .map(|h| h.id.pid.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stopped by Ctrl-C or SIGTERM while waiting: which signalled processes have exited.
fn interrupted_after(
    handles: &[Handle],
    signal: &str,
    mut out: Applied,
    ctx: &mut Ctx<'_>,
) -> Applied {
    for h in handles {
        let state = if h.exited() {
            "has exited"
        } else {
            "is still running"
        };
        out.note(
            ctx,
            format!(
                "interrupted: PID {} was sent {signal} and {state}",
                h.id.pid
            ),
        );
    }
    out.end(Outcome::Interrupted)
}

/// Stopped processes only act on SIGTERM once continued, so they get SIGCONT right after it.
fn signal_all(handles: &[Handle], sig: Signal, out: &mut Applied, ctx: &mut Ctx<'_>) -> bool {
    for h in handles {
        if let Err(e) = h.signal(sig) {
            if !h.exited() {
                out.note(
                    ctx,
                    format!(
                        "{} → PID {} failed: {e}",
                        crate::sys::signal::signal_name(sig),
                        h.id.pid
                    ),
                );
                return false;
            }
        }
        out.note(
            ctx,
            format!(
                "{} → PID {}{}",
                crate::sys::signal::signal_name(sig),
                h.id.pid,
                h.via_note()
            ),
        );
        out.signalled.push(super::Signalled {
            id: h.id.clone(),
            signal: crate::sys::signal::signal_name(sig),
        });
        if sig == Signal::TERM {
            let _ = h.signal(Signal::CONT);
        }
    }
    true
}

fn confirm_free(
    address: &BackendAddr,
    others_serve: bool,
    mut out: Applied,
    ctx: &mut Ctx<'_>,
) -> Applied {
    if others_serve {
        // The planned processes have exited (or were gone); the other listeners stay, as planned.
        let still = if super::restart::listening(address) {
            "still served by the other listeners, as planned"
        } else {
            "no longer listened on: the other listeners have gone too"
        };
        out.note(ctx, format!("{address} is {still}"));
        return out;
    }
    let free = poll_until(std::time::Duration::from_secs(5), || {
        !super::restart::listening(address)
    });
    if free {
        out.note(ctx, format!("{address} is free"));
        out
    } else if super::interrupted() {
        out.note(ctx, format!("interrupted before {address} was seen free"));
        out.end(Outcome::Interrupted)
    } else {
        out.note(ctx, format!("{address} is still held by another process"));
        out.end(Outcome::Failed)
    }
}
