//! What `fixer fix` does when it may not act: `--dry-run`, no terminal and no `--yes`, and a
//! port holder that is not the backend. Nothing may change unless the rules allow it.

mod common;
mod fix_support;

use common::{gone, identity, lab, proc_state, status};
use fix_support::{cmdline, lab_backends, listeners, output, Run};
use fixer::lab::{Fault, Role};

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let holder = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.arg("--dry-run");
    let out = output(cmd);
    assert_eq!(out.code, 1, "{}", out.all());
    let plan = out
        .stdout
        .split_once("Plan: kill-holder")
        .unwrap_or_else(|| panic!("no kill plan:\n{}", out.all()))
        .1;
    assert!(plan.contains("send SIGTERM"), "{plan}");
    assert!(plan.contains(&format!("PID {} (ppid ", holder.0)), "{plan}");
    assert!(plan.contains("user root state S started "), "{plan}");
    assert!(plan.contains(&cmdline(holder.0)), "{plan}");
    assert!(plan.contains("Plan: restart-backend"), "{plan}");
    assert_eq!(out.last_line(), "Dry run: nothing was changed.");

    assert_eq!(identity(holder.0), Some(holder));
    assert_eq!(proc_state(holder.0), Some('S'));
    assert_eq!(lab_backends(&lab), [holder]);
    assert!(!run.audit.exists(), "a dry run writes no audit entries");
}

#[test]
fn no_terminal_and_no_yes_refuses_after_the_diagnosis() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let holder = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let out = output(run.fix(&lab));
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains("Root cause: 127.0.0.1:"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("[holder-stuck]"), "{}", out.all());
    assert!(out.stdout.contains("Plan: kill-holder"), "{}", out.all());
    assert_eq!(
        out.last_line(),
        "Refused: kill-holder needs consent and there is no terminal to ask on; re-run with --yes (or --dry-run to see the plan)."
    );
    assert_eq!(identity(holder.0), Some(holder));
    assert_eq!(lab_backends(&lab), [holder]);
    let log = run.audit_summary();
    assert_eq!(
        log,
        [("kill-holder".into(), "end".into(), "refused".into())]
    );
}

#[test]
fn foreign_holder_is_not_killed_by_yes_alone() {
    let (_dir, lab) = lab(Fault::ForeignHolder);
    let squatter = identity(lab.pid(Role::Squatter).unwrap()).unwrap();
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.arg("--yes");
    let out = output(cmd);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "WARNING: PID {} does not look like the backend",
            squatter.0
        )),
        "{}",
        out.all()
    );
    assert_eq!(
        out.last_line(),
        "Refused: kill-holder touches a process that is not the backend; confirm at a terminal, or add --force-foreign to --yes."
    );
    assert_eq!(identity(squatter.0), Some(squatter), "the squatter was hit");
    assert_eq!(listeners(lab.backend_port), [squatter.0]);
    assert!(lab_backends(&lab).is_empty(), "nothing was started");
}

#[test]
fn foreign_holder_is_killed_with_force_foreign_and_yes() {
    let (_dir, lab) = lab(Fault::ForeignHolder);
    let squatter = identity(lab.pid(Role::Squatter).unwrap()).unwrap();
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.args(["--yes", "--force-foreign"]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("WARNING: PID"),
        "the warning is still shown:\n{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains(&format!("· SIGTERM → PID {}", squatter.0)),
        "{}",
        out.all()
    );
    assert!(gone(squatter), "the squatter still runs");
    let backends = lab_backends(&lab);
    assert_eq!(backends.len(), 1, "{backends:?}");
    assert_eq!(listeners(lab.backend_port), [backends[0].0]);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let kill = run.audit()[0].clone();
    assert_eq!(kill["action"], "kill-holder");
    assert_eq!(kill["target"]["foreign"], true);
    assert_eq!(kill["target"]["pid"], squatter.0);
}
