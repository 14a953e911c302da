//! The verdict on the holder, from readings fixer actually made. Each listening socket is
//! judged on its own; a finding against a process needs evidence that it is not serving.

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::StepResult;

type Rec = crate::step::Recorder<crate::step::details::PortHolderDetails>;
use crate::format::secs;
use crate::sys::accept::{self, AcceptReport};
use crate::sys::http::{Failure, FailureKind, Response};
use crate::sys::process::FdTarget;
use crate::target::{BackendSpec, Target};

use super::describe::{pid_list, waiting};
use super::unproven::{self, reading, Direct};
use super::{details, Condition, Context, HolderView, Listener, Readings};

/// What the evidence says about one listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Socket {
    Stopped,
    BlockedOnStdin,
    /// Connections wait in its queue while its holders have nothing accepted to work on.
    NotAccepting {
        queue: u32,
    },
    /// A unix socket whose accept queue stayed full for the whole connect timeout.
    QueueFull,
    /// Its holders accepted this many of fixer's connections.
    Accepting(usize),
    Unknown,
}

impl Socket {
    fn not_serving(&self) -> bool {
        matches!(
            self,
            Socket::Stopped
                | Socket::BlockedOnStdin
                | Socket::NotAccepting { .. }
                | Socket::QueueFull
        )
    }
}

pub(super) fn judge(
    mut rec: Rec,
    target: &Target,
    backend: &BackendSpec,
    r: &Readings,
    ctx: &Context<'_>,
) -> (StepResult, Option<HolderView>) {
    rec.see(r.probe_evidence.clone());
    let accept = accept_evidence(&mut rec, r);
    let pids: Vec<i32> = r
        .listeners
        .iter()
        .flat_map(|l| l.holders.iter().map(|p| p.pid))
        .collect();
    let held = accept::socket_inodes(&pids);
    let states: Vec<Socket> = r
        .listeners
        .iter()
        .map(|l| socket_state(l, accept, &held, &r.probe))
        .collect();
    if r.listeners.len() > 1 {
        for (l, s) in r.listeners.iter().zip(&states) {
            rec.see(format!("{}: {}", socket_label(l), socket_word(s)));
        }
    }
    let worst = states.iter().position(Socket::not_serving);
    let index = worst.unwrap_or(0);
    let l = &r.listeners[index];
    let others_accept = states
        .iter()
        .enumerate()
        .any(|(i, s)| i != index && matches!(s, Socket::Accepting(_)))
        // A socket that does not serve cannot have answered the direct probe: another did.
        || worst.is_some() && r.listeners.len() > 1 && r.probe.is_ok();
    let condition = match (&states[index], reading(&r.probe)) {
        (Socket::Stopped, _) => Condition::Stopped,
        (Socket::BlockedOnStdin, _) => Condition::BlockedOnStdin,
        (Socket::NotAccepting { .. } | Socket::QueueFull, _) => Condition::Stuck,
        (_, Direct::Answered) => Condition::Answering,
        // It took fixer's connection in a protocol fixer does not speak: serving, not judged.
        (Socket::Accepting(_), Direct::Unreadable(f)) if f.kind == FailureKind::NotSpoken => {
            Condition::Answering
        }
        (_, Direct::NoAnswer(_)) => Condition::Slow,
        (_, Direct::NotSent(_) | Direct::Unreadable(_)) => Condition::Unconfirmed,
    };
    let view = HolderView {
        main: l.holders[0].clone(),
        all: l.holders.clone(),
        condition,
        matches: backend.matches(&l.holders[0].cmdline.join(" ")),
    };
    let queue = accept
        .and_then(|a| queue_after(a, l.inode))
        .or(l.queue_before);
    details(&mut rec, &view, r.probe.is_ok(), queue);
    rec.details.listeners = Some(r.listeners.len());
    rec.details.others_accept = Some(others_accept);
    let result = verdict(
        rec,
        target,
        backend,
        &view,
        r,
        &states[index],
        others_accept,
        ctx,
    );
    (unproven::reconcile(result, ctx), Some(view))
}

fn accept_evidence<'a>(rec: &mut Rec, r: &'a Readings) -> Option<&'a AcceptReport> {
    match &r.accept {
        None => None,
        Some(Err(e)) => {
            rec.see(format!(
                "accept probe: not made ({}); no accept-queue reading",
                clean(e)
            ));
            None
        }
        Some(Ok(a)) => {
            let not_connected = a.fates.len() - a.accepted() - a.waiting();
            rec.see(format!(
                "accept probe: {} connection(s) opened, nothing sent: {} accepted, {} still waiting to be accepted after {} ms{}",
                a.fates.len(),
                a.accepted(),
                a.waiting(),
                a.waited.as_millis(),
                if not_connected > 0 {
                    format!(", {not_connected} not connected")
                } else {
                    String::new()
                }
            ));
            Some(a)
        }
    }
}

fn queue_after(a: &AcceptReport, inode: u64) -> Option<u32> {
    a.listeners_after
        .iter()
        .find(|s| s.inode == inode)
        .map(|s| s.rx_queue)
}

fn socket_state(
    l: &Listener,
    accept: Option<&AcceptReport>,
    held: &std::collections::BTreeMap<i32, std::collections::HashSet<u64>>,
    probe: &Result<Response, Failure>,
) -> Socket {
    if l.holders.iter().any(|p| p.state.is_stopped()) {
        return Socket::Stopped;
    }
    if l.holders.iter().any(|p| p.blocked_reading_stdin()) {
        return Socket::BlockedOnStdin;
    }
    let Some(a) = accept else {
        // A unix connect fails at once while the queue is full; the probe retried until its
        // connect timeout, so nobody accepted in all that time.
        return match probe {
            Err(f) if f.kind == FailureKind::ConnectTimeout && l.queue_before.is_none() => {
                Socket::QueueFull
            }
            _ => Socket::Unknown,
        };
    };
    let pids: Vec<i32> = l.holders.iter().map(|p| p.pid).collect();
    let ours = a.accepted_by(&pids);
    if ours > 0 {
        return Socket::Accepting(ours);
    }
    // Not read (every connection was taken on the only listener): not known to be idle.
    let busy = a.open_accepted.as_ref().is_none_or(|open| {
        open.iter().any(|inode| {
            pids.iter()
                .any(|p| held.get(p).is_some_and(|s| s.contains(inode)))
        })
    });
    // Without every holder's fd table, "has nothing accepted to work on" is not known.
    let fds_read = pids.iter().all(|p| held.contains_key(p));
    match queue_after(a, l.inode) {
        Some(queue) if queue > 0 && !busy && fds_read => Socket::NotAccepting { queue },
        // One listener that accepted fixer's connection, though the acceptor had closed it
        // again before it could be named.
        _ if a.accepted() > 0 && a.listeners_after.len() <= 1 => Socket::Accepting(a.accepted()),
        _ => Socket::Unknown,
    }
}

fn socket_label(l: &Listener) -> String {
    format!(
        "socket {} (inode {}, PID {})",
        l.local,
        l.inode,
        pid_list(&l.holders)
    )
}

fn socket_word(s: &Socket) -> String {
    match s {
        Socket::Stopped => "its holder is stopped (state T)".into(),
        Socket::BlockedOnStdin => "its holder is blocked reading stdin".into(),
        Socket::NotAccepting { queue } => format!(
            "does not accept: {} in its accept queue and its holders have no accepted connection open",
            waiting(*queue)
        ),
        Socket::QueueFull => "does not accept: its accept queue stayed full".into(),
        Socket::Accepting(n) => format!("accepts connections ({n} of fixer's accepted)"),
        Socket::Unknown => "the evidence cannot tell whether it accepts".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn verdict(
    rec: Rec,
    target: &Target,
    backend: &BackendSpec,
    v: &HolderView,
    r: &Readings,
    socket: &Socket,
    others_accept: bool,
    ctx: &Context<'_>,
) -> StepResult {
    let who = if r.listeners.len() > 1 {
        format!(
            "one of {} listening sockets on {} is held by PID {} ({})",
            r.listeners.len(),
            backend.address,
            v.main.pid,
            v.main.cmdline_str()
        )
    } else {
        format!(
            "{} is held by PID {} ({})",
            backend.address,
            v.main.pid,
            v.main.cmdline_str()
        )
    };
    let restart = match (v.main.restartable_unit(), others_accept) {
        (Some(u), false) => format!("restart its systemd unit {u}"),
        (_, true) => format!(
            "kill that holder (PID {}) only; the other listener keeps serving",
            pid_list(&v.all)
        ),
        (None, false) => format!(
            "kill the holder (PID {}) and start the backend again",
            pid_list(&v.all)
        ),
    };
    let queue_note = match (socket, r.accept.as_ref()) {
        (Socket::NotAccepting { queue }, Some(Ok(a))) if a.waiting() > 0 => format!(
            "; {} in its accept queue (fixer's own probes among them)",
            waiting(*queue)
        ),
        (Socket::NotAccepting { queue }, _) => {
            format!("; {} in its accept queue", waiting(*queue))
        }
        (Socket::QueueFull, _) => format!(
            "; its accept queue stayed full for {}",
            secs(crate::sys::http::connect_timeout(target.timeout))
        ),
        _ => String::new(),
    };
    let foreign = || {
        Finding::new(
            FindingCode::HolderForeign,
            format!(
                "{who}, which does not match the backend's pattern: another program has the backend's port{}",
                match v.condition {
                    Condition::Answering => " (it answers)",
                    _ => "",
                }
            ),
        )
        .with_action("find out what that program is before touching it; fixer kills it only after an explicit warning")
    };
    let reading = reading(&r.probe);
    let finding = match (v.condition, v.matches) {
        (Condition::Answering, Some(false)) => foreign(),
        (Condition::Answering, _) => {
            let also = if r.listeners.len() > 1 {
                format!(" (every one of its {} listening sockets accepts)", r.listeners.len())
            } else {
                String::new()
            };
            return rec.ok(format!(
                "PID {} ({}) holds {} and {}{also}",
                v.main.pid,
                v.main.cmdline_str(),
                backend.address,
                crate::sys::probe::answers(backend.protocol(), &r.probe)
            ));
        }
        (Condition::Slow | Condition::Unconfirmed, Some(false)) => foreign(),
        (Condition::Slow, _) => {
            let accepts = matches!(socket, Socket::Accepting(_));
            return unproven::slow(rec, target, backend, v, &reading, ctx, accepts);
        }
        (Condition::Unconfirmed, _) => return unproven::unconfirmed(rec, backend, v, &reading),
        (_, Some(false)) => foreign(),
        (Condition::Stopped, _) => Finding::new(
            FindingCode::HolderStopped,
            format!("{who}, which is stopped (state T) and cannot serve{queue_note}"),
        )
        .with_action("resume it with SIGCONT; if it still does not answer, ".to_string() + &restart),
        (Condition::BlockedOnStdin, _) => Finding::new(
            FindingCode::HolderBlockedOnStdin,
            format!(
                "{who}, which is blocked reading its {} and cannot serve{queue_note}",
                if matches!(v.main.stdin, FdTarget::Tty(_)) { "terminal" } else { "stdin" }
            ),
        )
        .with_action(format!("{restart}, with stdin from /dev/null")),
        (Condition::Stuck, _) if *socket == Socket::QueueFull => Finding::new(
            FindingCode::HolderStuck,
            format!("{who}, which does not accept connections{queue_note}"),
        )
        .with_action(restart),
        (Condition::Stuck, _) => Finding::new(
            FindingCode::HolderStuck,
            format!(
                "{who}, which does not accept connections{queue_note}, none taken in {} of watching, and it has no accepted connection to work on",
                secs(target.timeout)
            ),
        )
        .with_action(restart),
    };
    rec.fail(finding)
}
