//! `fixer fix` at a terminal: the operator reads each plan and answers the prompts through a
//! pseudo-terminal, as over SSH. Checked: what they see, the exit code, the processes in /proc,
//! the site through nginx, and the audit log.

mod common;
mod fix_support;

use common::{deadline, gone, identity, lab, proc_state, status, wait_until};
use fix_support::{
    audit_of, cmdline, lab_backends, listeners, silent_listener, stuck_lab, Owned, Pty, Run,
};
use fixer::lab::{Fault, Lab};
use rustix::process::Signal;

#[test]
fn stuck_holder_answered_yes_is_killed_restarted_and_verified() {
    let (_dir, lab, holder, run) = stuck_lab();
    let port = lab.backend_port;
    let holder_cmd = cmdline(holder.0);

    let mut t = Pty::spawn(&run.fix(&lab));
    // The summary table is readable even on a terminal that reports no size.
    t.expect("│ port_holder  ┆ fail    ┆ 127.0.0.1:");
    t.expect("Root cause:");
    t.expect("Plan: kill-holder");
    t.expect(&format!("PID {} (ppid", holder.0));
    t.expect(&holder_cmd);
    t.expect(&format!(
        "Kill the holder of 127.0.0.1:{port} (SIGTERM to PID {})? [y/N]",
        holder.0
    ));
    t.line("y");
    t.expect(&format!("SIGTERM → PID {} (via pidfd)", holder.0));
    t.expect(&format!("127.0.0.1:{port} is free"));
    t.expect("Plan: restart-backend");
    t.expect(&format!(
        "Start the backend (python3 {}/lab-backend.py --port {port})? [y/N]",
        lab.dir.display()
    ));
    t.line("y");
    t.expect(&format!("127.0.0.1:{port} listens and /api/health answers"));
    let pid = t.pid;
    let (rest, code) = t.finish();
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("Fixed and verified: the site answers as expected."),
        "{rest}"
    );

    assert!(gone(holder), "the stuck holder is still running");
    let now = lab_backends(&lab);
    assert_eq!(now.len(), 1, "one new backend: {now:?}");
    assert!(!cmdline(now[0].0).contains("--mode stuck"));
    assert_eq!(listeners(port), [now[0].0]);
    assert_eq!(status(port, "/api/health").unwrap(), 200);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);

    let log = run.audit();
    assert_eq!(
        run.audit_phases(),
        [
            "kill-holder start -",
            "kill-holder end done",
            "restart-backend start -",
            "restart-backend end done"
        ]
    );
    for e in audit_of(&log, "kill-holder", "start")
        .into_iter()
        .chain(audit_of(&log, "kill-holder", "end"))
    {
        assert_eq!(e["target"]["pid"], holder.0, "{e}");
        assert_eq!(e["target"]["start_ticks"], holder.1, "{e}");
        assert_eq!(e["target"]["cmdline"], holder_cmd.as_str(), "{e}");
        assert_eq!(e["target"]["signal"], "SIGTERM");
        assert_eq!(e["consent"], "prompt");
        assert_eq!(e["pid"], pid, "the audit names fixer's own PID");
        assert_eq!(e["user"], "root");
    }
    let restarted = &audit_of(&log, "restart-backend", "end")[0];
    let evidence = restarted["evidence"].to_string();
    assert!(
        evidence.contains(&format!("started PID {}", now[0].0)),
        "{evidence}"
    );
}

#[test]
fn stuck_holder_answered_no_is_left_alone() {
    let (_dir, lab, holder, run) = stuck_lab();

    let mut t = Pty::spawn(&run.fix(&lab));
    t.expect("Plan: kill-holder");
    t.expect("Kill the holder of");
    t.expect("[y/N]");
    t.line("n");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "declined: {rest}");
    assert!(rest.contains("Declined: nothing was changed."), "{rest}");
    assert!(!rest.contains("Plan: restart-backend"), "{rest}");

    assert_eq!(identity(holder.0), Some(holder), "the same holder runs on");
    assert_eq!(proc_state(holder.0), Some('S'));
    assert_eq!(lab_backends(&lab), [holder], "nothing was started");
    assert_eq!(listeners(lab.backend_port), [holder.0]);
    assert_eq!(
        run.audit_summary(),
        [("kill-holder".into(), "end".into(), "declined".into())]
    );
}

/// `fixer fix` with flags only (no playbook) for a stubborn holder on the lab's backend port,
/// checked through the lab's nginx.
fn stubborn_fix(run: &Run, lab: &Lab) -> std::process::Command {
    let port = lab.backend_port;
    let mut cmd = run.fixer("fix");
    cmd.args(["--backend", &format!("127.0.0.1:{port}")])
        .args(["--match", r"stubborn-holder\.py"])
        .arg("--restart-cmd")
        .arg(format!(
            "python3 {}/lab-backend.py --port {port}",
            lab.dir.display()
        ))
        .args(["--domain", "localhost"])
        .args(["--nginx-port", &lab.http_port.to_string()])
        .args(["--health", &format!("http://127.0.0.1:{port}/api/health")])
        .args([
            "--health",
            &format!("http://localhost:{}/api/health", lab.http_port),
        ])
        .args(["--expect", "200", "--timeout", "1", "--wait", "20"])
        .args(["--grace", "0.5", "--audit-log"])
        .arg(&run.audit);
    cmd
}

/// The lab with its backend down and, on the backend's port, a holder that ignores SIGTERM.
fn stubborn_lab() -> (tempfile::TempDir, Lab, Run, Owned, (i32, u64)) {
    let (dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let stubborn = silent_listener(&run, "stubborn-holder.py", lab.backend_port, true);
    let id = identity(stubborn.pid()).unwrap();
    (dir, lab, run, stubborn, id)
}

/// A holder that ignores SIGTERM, run with flags only (no playbook) against the lab's nginx:
/// SIGTERM, the grace period, a second prompt, SIGKILL.
#[test]
fn holder_ignoring_sigterm_gets_sigkill_after_the_grace_period_and_a_second_yes() {
    let (_dir, lab, run, _stubborn, id) = stubborn_lab();
    let port = lab.backend_port;
    let cmd = stubborn_fix(&run, &lab);
    let mut t = Pty::spawn(&cmd);
    t.expect("fixer fix — playbook command-line");
    t.expect(&format!(
        "Kill the holder of 127.0.0.1:{port} (SIGTERM to PID {})?",
        id.0
    ));
    t.line("y");
    t.expect(&format!("SIGTERM → PID {}", id.0));
    t.expect(&format!("PID {} still running 0.5 s after SIGTERM", id.0));
    assert_eq!(identity(id.0), Some(id), "alive while fixer asks again");
    t.expect(&format!(
        "PID {} ignored SIGTERM. Send SIGKILL? [y/N]",
        id.0
    ));
    t.line("y");
    t.expect(&format!("SIGKILL → PID {}", id.0));
    t.expect(&format!("PID {} exited", id.0));
    t.expect("Start the backend (python3");
    t.line("y");
    let (rest, code) = t.finish();
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("Fixed and verified"), "{rest}");
    assert!(gone(id), "the stubborn holder survived");
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let end = &audit_of(&run.audit(), "kill-holder", "end")[0].clone();
    assert_eq!(end["result"], "done");
    assert!(end["evidence"].to_string().contains("SIGKILL"), "{end}");
}

/// Declining the SIGKILL leaves the holder running, starts nothing, and exits 4.
#[test]
fn declining_sigkill_leaves_the_stubborn_holder_alone() {
    let (_dir, lab, run, _stubborn, id) = stubborn_lab();
    let port = lab.backend_port;
    let cmd = stubborn_fix(&run, &lab);
    let mut t = Pty::spawn(&cmd);
    t.expect(&format!("(SIGTERM to PID {})?", id.0));
    t.line("y");
    t.expect(&format!(
        "PID {} ignored SIGTERM. Send SIGKILL? [y/N]",
        id.0
    ));
    t.line("n");
    t.expect("SIGKILL declined; the holder is still running");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "{rest}");
    assert!(!rest.contains("Start the backend"), "{rest}");
    // SIGTERM was sent: the closing lines say so, not "nothing was changed".
    assert!(!rest.contains("nothing was changed"), "{rest}");
    assert!(rest.contains("Done: kill-holder (declined)."), "{rest}");
    assert!(
        rest.contains(&format!(
            "Left: PID {} was sent SIGTERM and is still running; 127.0.0.1:{port} listens; run `fixer fix --backend 127.0.0.1:{port} --match 'stubborn-holder\\.py' --restart-cmd",
            id.0
        )),
        "{rest}"
    );
    assert!(rest.contains("to check and finish."), "{rest}");
    assert_eq!(
        identity(id.0),
        Some(id),
        "the holder must still be the same process"
    );
    let end = &audit_of(&run.audit(), "kill-holder", "end")[0].clone();
    assert_eq!(end["result"], "declined");
}

/// Between the plan and the answer the planned holder exits and another program takes the
/// port: fixer must notice, signal nothing, and leave the newcomer alone.
#[test]
fn holder_replaced_between_plan_and_yes_is_not_signalled() {
    let (_dir, lab, old, run) = stuck_lab();
    let port = lab.backend_port;

    let mut t = Pty::spawn(&run.fix(&lab));
    t.expect(&format!("(SIGTERM to PID {})? [y/N]", old.0));
    fix_support::signal_exact(old, Signal::KILL);
    assert!(wait_until(deadline(10.0), || gone(old) && listeners(port).is_empty()));
    let newcomer = silent_listener(&run, "newcomer.py", port, false);
    let new = identity(newcomer.pid()).unwrap();
    t.line("y");
    t.expect(&format!("PID {} has exited already", old.0));
    t.expect("aborted, nothing signalled");
    let (rest, code) = t.finish();
    assert_eq!(code, 5, "{rest}");
    assert!(!rest.contains("SIGTERM →"), "{rest}");
    assert!(!rest.contains("Plan: restart-backend"), "{rest}");

    assert_eq!(identity(new.0), Some(new), "the newcomer was touched");
    assert_eq!(proc_state(new.0), Some('S'));
    assert_eq!(listeners(port), [new.0]);
    let end = audit_of(&run.audit(), "kill-holder", "end")[0].clone();
    assert_eq!(end["result"], "aborted", "{end}");
}

#[test]
fn second_fix_while_the_first_waits_at_its_prompt_is_refused_with_the_holders_pid() {
    let (_dir, lab, holder, run) = stuck_lab();

    let mut first = Pty::spawn(&run.fix(&lab));
    first.expect("Kill the holder of");
    first.expect("[y/N]");

    let started = std::time::Instant::now();
    let mut second = run.fix(&lab);
    second.arg("--yes");
    let out = fix_support::output(second);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{}", out.all());
    let said = format!(
        "fixer: error: another `fixer fix` is already running (PID {}, lock ",
        first.pid
    );
    assert!(out.stderr.starts_with(&said), "{}", out.all());
    assert!(!out.stdout.contains("Root cause"), "{}", out.all());
    assert!(took.as_secs_f64() < 2.0, "refused only after {took:?}");
    assert_eq!(identity(holder.0), Some(holder), "the second run acted");

    first.line("n");
    let (rest, code) = first.finish();
    assert_eq!(code, 4, "{rest}");
    assert_eq!(identity(holder.0), Some(holder));
    // The lock went with the first run.
    let mut again = run.fix(&lab);
    again.arg("--dry-run");
    assert_eq!(fix_support::output(again).code, 1);
}

/// `--json` keeps stdout for the document, yet the operator at the terminal still sees the
/// plan (on stderr) before being asked.
#[test]
fn fix_json_at_a_terminal_shows_the_plan_before_asking() {
    let (_dir, lab, holder, run) = stuck_lab();
    let mut cmd = run.fix(&lab);
    cmd.arg("--json");

    let mut t = Pty::spawn(&cmd);
    let before = t.expect("Plan: kill-holder");
    assert!(!before.contains("Root cause"), "{before}");
    t.expect(&format!("PID {} (ppid", holder.0));
    t.expect(&cmdline(holder.0));
    t.expect(&format!("(SIGTERM to PID {})? [y/N]", holder.0));
    t.line("n");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "{rest}");
    let json = &rest[rest
        .find("\n{")
        .unwrap_or_else(|| panic!("no JSON in {rest}"))..];
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(doc["exit_code"], 4);
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["actions"][0]["code"], "kill-holder");
    assert_eq!(doc["actions"][0]["consent"], "prompt");
    assert_eq!(doc["actions"][0]["result"], "declined");
    assert_eq!(identity(holder.0), Some(holder));
}
