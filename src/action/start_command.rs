//! Start the backend with the playbook's command, as a shell command line (`cd /srv/app &&
//! exec python3 -m http.server 8080`, `VAR=1 python3 app.py`), detached in its own session
//! with stdin from /dev/null. The backend is whatever process then holds the port — the shell
//! may stay as its parent, exec it, or exit after it daemonised — and its output is quoted
//! from the log when it exits at once or never listens.

use super::restart::{listening, listening_inodes, Health};
use super::{poll_until, Applied, Ctx, Outcome, Started};
use crate::sys::process::{children_map, descendants, ProcessInfo};
use crate::sys::signal::Identity;
use crate::sys::{holders, spawn};
use crate::target::BackendAddr;

pub fn apply(
    d: &spawn::Detached,
    address: &BackendAddr,
    health: &Health<'_>,
    ctx: &mut Ctx<'_>,
) -> Applied {
    let mut out = Applied::new();
    let from = spawn::log_len(&d.log);
    let mut child = match spawn::spawn(d) {
        Ok(c) => c,
        Err(e) => {
            out.note(ctx, format!("could not start the backend: {e:#}"));
            return out.end(Outcome::Failed);
        }
    };
    out.note(
        ctx,
        format!("started PID {} (sh -c): {}", child.id(), d.command),
    );
    let mut exited = None;
    let timeout = ctx.timeout;
    let wait = ctx.listen_wait;
    let up = poll_until(wait, || {
        if exited.is_none() {
            exited = child.try_wait().ok().flatten();
            if let Some(status) = exited.filter(|s| s.success()) {
                out.note(
                    ctx,
                    format!("the command exited ({status}); waiting for a process it left behind to listen on {address}"),
                );
            }
        }
        // A command that failed is done; one that exited 0 may have left a daemon behind.
        exited.is_some_and(|s| !s.success())
            || listening(address) && health.answers(address, timeout)
    });
    if let Some(status) = exited.filter(|s| !s.success()) {
        out.note(ctx, format!("the command exited at once ({status})"));
        quote_log(d, from, &mut out, ctx);
        return out.end(Outcome::Failed);
    }
    if !up && super::interrupted() {
        out.note(
            ctx,
            format!(
                "interrupted while waiting for {address}: the command (PID {}) was started and is left running",
                child.id()
            ),
        );
        ctx.started.push(Started {
            child,
            backend: None,
        });
        return out.end(Outcome::Interrupted);
    }
    if !up {
        let why = match exited {
            Some(status) => {
                format!("the command exited ({status}) and nothing answers {health} on {address}")
            }
            None => format!(
                "{address} did not answer {health} within {} s",
                ctx.listen_wait.as_secs()
            ),
        };
        out.note(ctx, why);
        quote_log(d, from, &mut out, ctx);
        ctx.started.push(Started {
            child,
            backend: None,
        });
        return out.end(Outcome::Failed);
    }
    let backend = holder(address, child.id() as i32);
    out.note(ctx, format!("{address} listens and {health} answers"));
    if let Some(p) = &backend {
        let cmd = p.cmdline_str();
        out.note(ctx, format!("the backend is PID {} ({cmd})", p.pid));
    }
    ctx.started.push(Started {
        child,
        backend: backend.as_ref().map(Identity::of),
    });
    out
}

/// The process holding the backend's listening socket, looked for first among what the
/// command started.
fn holder(address: &BackendAddr, shell: i32) -> Option<ProcessInfo> {
    let mut likely = vec![shell];
    likely.extend(descendants(shell, &children_map()));
    let scan = holders::find_holders(&listening_inodes(address), &likely);
    let mut pids: Vec<i32> = scan.holders.into_values().flatten().collect();
    pids.sort_unstable();
    let procs: Vec<ProcessInfo> = pids
        .iter()
        .filter_map(|&p| ProcessInfo::read(p).ok())
        .collect();
    // The main holder: the one whose parent does not hold the socket too (a pre-fork master).
    procs
        .iter()
        .find(|p| !pids.contains(&p.ppid))
        .or(procs.first())
        .cloned()
}

fn quote_log(d: &spawn::Detached, from: u64, out: &mut Applied, ctx: &mut Ctx<'_>) {
    let lines = spawn::tail_since(&d.log, from);
    if lines.is_empty() {
        out.note(ctx, format!("  {}: nothing was written", d.log.display()));
    }
    for line in lines {
        out.note(
            ctx,
            format!("  {}: {}", d.log.display(), crate::sanitize::clean(&line)),
        );
    }
}
