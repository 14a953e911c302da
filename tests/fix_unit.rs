//! Restarting a backend through its systemd unit.

mod common;
mod fix_support;

use common::{lab, status};
use fix_support::{lab_backends, output, Output, Run};
use fixer::lab::{Fault, Lab};

/// PID 1 on the test machines is not systemd, so the real `systemctl` cannot restart
/// anything. This stand-in exists only for that reason and is deliberately thin: it records
/// its arguments, and on `restart` starts the lab's backend (so health follows); `is-active`
/// and `show` print what systemd prints for a healthy unit. What is tested is fixer's side:
/// which commands it runs, in which order, and what it shows of them.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
echo "$*" >> "@CALLS@"
case "$1" in
  restart) python3 "@LAB@/lab-backend.py" --port @PORT@ </dev/null >>"@LAB@/logs/fake-unit.log" 2>&1 & ;;
  is-active) echo active ;;
  show) printf 'NRestarts=0\nResult=success\nExecMainStatus=0\n' ;;
  *) echo "fake systemctl: $1 is not faked" >&2; exit 1 ;;
esac
"#;

/// Runs `fixer fix --yes --restart-unit fake.service` with `script` first on PATH as
/// `systemctl`; returns the output and the calls the stand-in recorded.
fn fix_with_fake_systemctl(run: &Run, lab: &Lab, script: &str) -> (Output, String) {
    let bin = run.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = run.path("systemctl-calls");
    let script = script
        .replace("@CALLS@", &calls.display().to_string())
        .replace("@RESET@", &run.path("reset-done").display().to_string())
        .replace("@LAB@", &lab.dir.display().to_string())
        .replace("@PORT@", &lab.backend_port.to_string());
    run.script("bin/systemctl", &script);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = run.fix(lab);
    cmd.args(["--yes", "--restart-unit", "fake.service"])
        .env("PATH", path);
    let out = output(cmd);
    let called = std::fs::read_to_string(&calls).unwrap_or_default();
    (out, called)
}

#[test]
fn fix_via_fake_systemctl_on_path() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let (out, called) = fix_with_fake_systemctl(&run, &lab, FAKE_SYSTEMCTL);
    assert_eq!(out.code, 0, "{}", out.all());

    assert_eq!(
        called.lines().collect::<Vec<_>>(),
        [
            "restart fake.service",
            "is-active fake.service",
            "show -p NRestarts,Result,ExecMainStatus fake.service"
        ]
    );
    let shown: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("· systemctl "))
        .collect();
    assert_eq!(
        shown,
        [
            "restart fake.service: exit 0",
            "is-active fake.service: active",
            "show fake.service: NRestarts=0 Result=success ExecMainStatus=0"
        ],
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("Plan: restart-backend\n  systemctl restart fake.service\n"),
        "{}",
        out.all()
    );
    assert_eq!(lab_backends(&lab).len(), 1);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let end = run.audit().last().unwrap().clone();
    assert_eq!(end["action"], "restart-backend");
    assert_eq!(end["target"]["unit"], "fake.service");
    assert_eq!(end["result"], "done");
}

/// The same thin stand-in, for a unit that hit systemd's start limit: `restart` fails and
/// `show` says `Result=start-limit-hit` until `reset-failed` has run.
const FAKE_SYSTEMCTL_LIMITED: &str = r#"#!/bin/sh
echo "$*" >> "@CALLS@"
case "$1" in
  restart)
    if [ ! -e "@RESET@" ]; then
      echo "Job for fake.service failed because the start limit was hit." >&2; exit 1
    fi
    python3 "@LAB@/lab-backend.py" --port @PORT@ </dev/null >>"@LAB@/logs/fake-unit.log" 2>&1 & ;;
  reset-failed) : > "@RESET@" ;;
  is-active) echo active ;;
  show)
    if [ -e "@RESET@" ]; then r=success; else r=start-limit-hit; fi
    printf 'NRestarts=5\nResult=%s\nExecMainStatus=1\n' "$r" ;;
  *) echo "fake systemctl: $1 is not faked" >&2; exit 1 ;;
esac
"#;

#[test]
fn start_limit_hit_is_reset_then_restarted_via_fake_systemctl_on_path() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let (out, called) = fix_with_fake_systemctl(&run, &lab, FAKE_SYSTEMCTL_LIMITED);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        called.lines().collect::<Vec<_>>(),
        [
            "restart fake.service",
            "show -p NRestarts,Result,ExecMainStatus fake.service",
            "reset-failed fake.service",
            "restart fake.service",
            "is-active fake.service",
        ]
    );
    assert!(out.stdout.contains("start limit was hit"), "{}", out.all());
    assert!(
        out.stdout
            .contains("fake.service hit systemd's start limit (StartLimitBurst)"),
        "{}",
        out.all()
    );
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
}
