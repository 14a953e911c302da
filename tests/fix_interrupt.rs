//! An interrupted fix says what it left, and the prompt takes what the operator types: Ctrl-C
//! and SIGTERM at the safe points of `fixer fix` (the SIGTERM grace period, the question after
//! a kill), a second Ctrl-C, type-ahead, and the closing lines after a decline.

mod common;
mod fix_support;

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use common::{deadline, gone, identity, lab, port_free, wait_until};
use fix_support::{audit_of, lab_backends, silent_listener, stuck_lab, Pty, Run};
use fixer::lab::Fault;
use rustix::process::{kill_process, Pid, Signal};

/// Ctrl-C in the grace period after SIGTERM: the holder ignores SIGTERM, so fixer is waiting.
#[test]
fn ctrl_c_in_the_grace_period_stops_and_says_what_is_left() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let port = lab.backend_port;
    let run = Run::new();
    // Named like the lab's backend, so it matches the playbook's pattern.
    let stubborn = silent_listener(&run, "lab-backend.py", port, true);
    let id = identity(stubborn.pid()).unwrap();
    let mut cmd = run.fix(&lab);
    cmd.args(["--grace", "60"]);
    let mut t = Pty::spawn(&cmd);
    t.expect(&format!("(SIGTERM to PID {})? [y/N]", id.0));
    t.line("y");
    t.expect(&format!("SIGTERM → PID {}", id.0));
    t.key("\x03");
    t.expect("Interrupted by SIGINT: stopped at a safe point.");
    let (rest, code) = t.finish();
    assert_eq!(code, 130, "{rest}");
    assert!(rest.contains("Done: kill-holder (interrupted)."), "{rest}");
    assert!(
        rest.contains(&format!(
            "Left: PID {} was sent SIGTERM and is still running; 127.0.0.1:{port} listens; run `fixer fix -p",
            id.0
        )),
        "{rest}"
    );
    assert!(!rest.contains("Start the backend"), "{rest}");
    assert_eq!(identity(id.0), Some(id), "nothing else was sent");
    let log = run.audit();
    let end = audit_of(&log, "kill-holder", "end");
    assert_eq!(end.len(), 1, "{log:?}");
    assert_eq!(end[0]["result"], "interrupted");
    assert!(end[0]["evidence"].to_string().contains(&format!(
        "interrupted: PID {} was sent SIGTERM and is still running",
        id.0
    )));
}

/// SIGTERM to fixer at the question after the kill: the holder is gone, the backend not
/// started. That state is what the operator must be told.
#[test]
fn sigterm_after_the_kill_says_the_backend_is_not_running() {
    let (_dir, lab, holder, run) = stuck_lab();
    let port = lab.backend_port;
    let mut t = Pty::spawn(&run.fix(&lab));
    t.expect("? [y/N]");
    t.line("y");
    t.expect(&format!("127.0.0.1:{port} is free"));
    t.expect("Start the backend (");
    t.expect("? [y/N]");
    kill_process(Pid::from_raw(t.pid).unwrap(), Signal::TERM).unwrap();
    t.expect("Interrupted by SIGTERM: stopped at a safe point.");
    let (rest, code) = t.finish();
    assert_eq!(code, 130, "{rest}");
    assert!(rest.contains("Done: kill-holder (done)."), "{rest}");
    assert!(
        rest.contains(&format!(
            "Left: PID {} was sent SIGTERM and has exited; nothing listens on 127.0.0.1:{port}: the backend is not running; run `fixer fix -p {} ",
            holder.0,
            lab.playbook.display()
        )),
        "{rest}"
    );
    assert!(rest.contains("to start it."), "{rest}");
    assert!(gone(holder));
    assert!(lab_backends(&lab).is_empty());
    assert_killed_then_restart(&run, "interrupted");
}

/// Unattended (`--yes`, no terminal): SIGTERM from a supervisor or `timeout` in the grace
/// period.
#[test]
fn sigterm_without_a_terminal_in_the_grace_period() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let port = lab.backend_port;
    let run = Run::new();
    let stubborn = silent_listener(&run, "lab-backend.py", port, true);
    let id = identity(stubborn.pid()).unwrap();
    let report = run.path("incident.md");
    let mut cmd = run.fix(&lab);
    cmd.args(["--yes", "--grace", "60"])
        .arg("--report")
        .arg(&report)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let sent = format!("SIGTERM → PID {}", id.0);
    assert!(
        wait_until(deadline(30.0), || seen.lock().unwrap().contains(&sent)),
        "fixer never signalled the holder:\n{}",
        seen.lock().unwrap()
    );
    let fixer_pid = Pid::from_raw(child.id() as i32).unwrap();
    kill_process(fixer_pid, Signal::TERM).unwrap();
    let mut status = None;
    assert!(wait_until(deadline(30.0), || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    reader.join().unwrap();
    let out = seen.lock().unwrap().clone();
    assert_eq!(status.unwrap().code(), Some(130), "{out}");
    assert!(
        out.contains("Interrupted by SIGTERM: stopped at a safe point."),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Left: PID {} was sent SIGTERM and is still running",
            id.0
        )),
        "{out}"
    );
    let log = run.audit();
    assert_eq!(
        audit_of(&log, "kill-holder", "end")[0]["result"],
        "interrupted"
    );
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains("- **Outcome:** interrupted (Ctrl-C or SIGTERM)"),
        "{md}"
    );
}

/// A second Ctrl-C does not wait for the safe point: pressed while the diagnosis waits on a
/// stuck backend (a 5 s probe), fixer exits at once, without the closing lines.
#[test]
fn a_second_ctrl_c_exits_at_once() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let run = Run::new();
    let mut cmd = run.fixer("fix");
    cmd.arg("-p")
        .arg(&lab.playbook)
        .arg("--audit-log")
        .arg(&run.audit)
        .args(["--timeout", "5"]);
    let mut t = Pty::spawn(&cmd);
    t.expect("nginx");
    // Two signals pending at once are one; the second must come after the first was taken.
    // A terminal sends its SIGINT asynchronously, so the first one is sent directly: it is
    // pending when kill() returns, and taken once it leaves the pending set.
    kill_process(Pid::from_raw(t.pid).unwrap(), Signal::INT).unwrap();
    assert!(wait_until(deadline(10.0), || !sigint_pending(t.pid)));
    t.key("\x03");
    let (rest, code) = t.finish();
    assert_eq!(code, 130, "{rest}");
    assert!(!rest.contains("Interrupted by SIGINT"), "{rest}");
    assert!(run.audit().is_empty(), "no action was started");
}

/// Whether a SIGINT waits to be delivered to the process (ShdPnd in /proc/PID/status).
fn sigint_pending(pid: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("ShdPnd:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc_sigint() - 1)) != 0)
}

fn libc_sigint() -> u32 {
    2
}

/// `y⏎` answers only the question it was typed for: a second `y⏎` typed ahead is discarded
/// before the next question, which waits for its own answer.
#[test]
fn type_ahead_does_not_answer_the_next_question() {
    let (_dir, lab, holder, run) = stuck_lab();
    let port = lab.backend_port;
    let mut t = Pty::spawn(&run.fix(&lab));
    t.expect("? [y/N]");
    t.key("y\ny\n");
    t.expect(&format!("127.0.0.1:{port} is free"));
    t.expect("Start the backend (");
    t.expect("? [y/N]");
    t.line("n");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "{rest}");
    assert!(!rest.contains("nothing was changed"), "{rest}");
    assert!(rest.contains("Declined: stopped here."), "{rest}");
    assert!(rest.contains("Done: kill-holder (done)."), "{rest}");
    assert!(
        rest.contains(&format!(
            "Left: PID {} was sent SIGTERM and has exited; nothing listens on 127.0.0.1:{port}: the backend is not running; run `fixer fix",
            holder.0
        )),
        "{rest}"
    );
    assert!(
        lab_backends(&lab).is_empty(),
        "the type-ahead started a backend"
    );
    assert!(port_free(port));
    assert_killed_then_restart(&run, "declined");
}

/// A lone keypress is not an answer: only Enter ends it, and a word like `yes` counts.
#[test]
fn an_answer_is_a_whole_line() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let port = lab.backend_port;
    let run = Run::new();
    let mut t = Pty::spawn(&run.fix(&lab));
    t.expect("? [y/N]");
    t.key("ye");
    t.key("s\n");
    t.expect(&format!("127.0.0.1:{port} is free"));
    t.expect("? [y/N]");
    t.line("y");
    t.expect(&format!("127.0.0.1:{port} listens and /api/health answers"));
    let (rest, code) = t.finish();
    assert_eq!(code, 0, "{rest}");
    assert_eq!(lab_backends(&lab).len(), 1);
}

/// Kills (by exact identity) a process fixer started for this test, when dropped.
struct StartedByFixer(Option<(i32, u64)>);

impl Drop for StartedByFixer {
    fn drop(&mut self) {
        if let Some(id) = self.0.filter(|id| !gone(*id)) {
            fix_support::signal_exact(id, Signal::KILL);
        }
    }
}

/// Ctrl-C while fixer waits for the backend it started to answer: that process is left
/// running, and the operator is told so.
#[test]
fn ctrl_c_while_the_started_backend_comes_up() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let port = lab.backend_port;
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.args(["--restart-cmd", "sleep 600"]);
    let mut t = Pty::spawn(&cmd);
    t.expect("Start the backend (sleep 600)? [y/N]");
    t.line("y");
    t.expect("started PID ");
    let pid: i32 = t.expect(" (sh -c)").trim().parse().unwrap();
    let mut started = StartedByFixer(identity(pid));
    assert!(started.0.is_some(), "PID {pid} is not running");
    t.key("\x03");
    let before = t.expect("Interrupted by SIGINT: stopped at a safe point.");
    assert!(
        before.contains(&format!(
            "interrupted while waiting for 127.0.0.1:{port}: the command (PID {pid}) was started and is left running"
        )),
        "{before}"
    );
    let (rest, code) = t.finish();
    assert_eq!(code, 130, "{rest}");
    assert!(
        rest.contains("Done: restart-backend (interrupted)."),
        "{rest}"
    );
    assert!(
        rest.contains(&format!(
            "Left: the backend fixer started (PID {pid}) is running; nothing listens on 127.0.0.1:{port} yet; run `fixer fix"
        )),
        "{rest}"
    );
    assert!(
        !gone(started.0.unwrap()),
        "fixer left what it started running"
    );
    let log = run.audit();
    assert_eq!(
        audit_of(&log, "restart-backend", "end")[0]["result"],
        "interrupted"
    );
    if let Some(id) = started.0.take() {
        fix_support::signal_exact(id, Signal::KILL);
    }
}

/// The audit log shows the holder killed and the restart that followed ending as `restart`.
fn assert_killed_then_restart(run: &Run, restart: &str) {
    assert_eq!(
        run.audit_phases(),
        [
            "kill-holder start -".to_string(),
            "kill-holder end done".to_string(),
            format!("restart-backend end {restart}"),
        ]
    );
}
