//! One fix at a time for real: per target even across state directories, with the holder's PID
//! named; and a user who may not act still gets the diagnosis.

mod common;
mod fix_support;

use std::os::unix::process::CommandExt;

use common::lab;
use fix_support::{output, Pty, Run};
use fixer::lab::Fault;

#[test]
fn a_second_fix_of_the_same_backend_is_refused_even_with_another_state_dir() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let first = Run::new();
    let mut t = Pty::spawn(&first.fix(&lab));
    t.expect("[y/N]");

    let second = Run::new();
    let mut cmd = second.fix(&lab);
    cmd.arg("--yes");
    let out = output(cmd);
    assert_eq!(out.code, 3, "{}", out.all());
    let want = format!(
        "another `fixer fix` is already running for backend 127.0.0.1:{} (PID {},",
        lab.backend_port, t.pid
    );
    assert!(out.stderr.contains(&want), "{}", out.all());
    assert!(
        out.stdout.is_empty(),
        "it stopped before diagnosing: {}",
        out.all()
    );

    t.key("n\n");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "{rest}");
}

#[test]
fn a_user_who_cannot_lock_sees_the_diagnosis_then_why_nothing_was_done() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let (_bin_dir, bin) = common::fixer_for_anyone();
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["fix", "--timeout", "1", "--yes", "-p"])
        .arg(&lab.playbook)
        .env("HOME", "/nonexistent")
        .env_remove("XDG_STATE_HOME")
        .env_remove("FIXER_STATE_DIR")
        .env("NO_COLOR", "1")
        .current_dir("/")
        .uid(65534)
        .gid(65534);
    let out = output(cmd);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stdout.contains("Root cause:"), "{}", out.all());
    assert!(out.stdout.contains("Plan: "), "{}", out.all());
    assert!(
        out.stderr
            .contains("creating /nonexistent/.local/state/fixer")
            && out.stderr.contains(
                "fixer cannot take its lock, so it only showed the plan; acting needs root"
            ),
        "{}",
        out.all()
    );
    assert!(
        common::status(lab.backend_port, "/").is_err(),
        "nothing was started"
    );
}
