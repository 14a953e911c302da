//! `fixer fix --yes` (cron, automation; no terminal) against each fault it can repair: exit 0,
//! the site answering 200 through nginx, and the processes in /proc as the operator expects.

mod common;
mod fix_support;

use common::{gone, identity, lab, proc_state, status};
use fix_support::{audit_of, lab_backends, listeners, output, Output, Run};
use fixer::lab::{Fault, Lab, Role};
use serde_json::Value;

fn fix_yes(run: &Run, lab: &Lab) -> Output {
    let mut cmd = run.fix(lab);
    cmd.arg("--yes");
    output(cmd)
}

/// What every successful run ends with, and what the user checks by hand afterwards.
fn assert_fixed(out: &Output, lab: &Lab) {
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.last_line(),
        "Fixed and verified: the site answers as expected.",
        "{}",
        out.all()
    );
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    assert_eq!(status(lab.backend_port, "/api/health").unwrap(), 200);
}

#[test]
fn stopped_backend_is_resumed_not_killed() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let backend = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let out = fix_yes(&run, &lab);
    assert_fixed(&out, &lab);
    assert!(out.stdout.contains("Plan: resume-holder"), "{}", out.all());
    assert!(
        out.stdout
            .contains(&format!("· SIGCONT → PID {} (via pidfd)", backend.0)),
        "{}",
        out.all()
    );
    assert!(!out.stdout.contains("Plan: kill-holder"), "{}", out.all());
    assert_eq!(
        identity(backend.0),
        Some(backend),
        "the same process serves"
    );
    assert_ne!(proc_state(backend.0), Some('T'));
    assert_eq!(lab_backends(&lab), [backend]);
    let end = &audit_of(&run.audit(), "resume-holder", "end")[0].clone();
    assert_eq!(end["consent"], "yes-flag");
    assert_eq!(end["result"], "done");
}

#[test]
fn stdin_blocked_holder_is_killed_and_the_backend_started_detached() {
    let (_dir, lab) = lab(Fault::StdinHolder);
    let holder = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let out = fix_yes(&run, &lab);
    assert_fixed(&out, &lab);
    assert!(
        out.stdout.contains("[holder-blocked-on-stdin]"),
        "{}",
        out.all()
    );
    assert!(gone(holder), "the prompt-blocked holder still runs");
    let now = lab_backends(&lab);
    assert_eq!(now.len(), 1, "{now:?}");
    // Started the way a supervisor would: stdin is /dev/null, not a prompt waiting to block.
    let stdin = std::fs::read_link(format!("/proc/{}/fd/0", now[0].0)).unwrap();
    assert_eq!(stdin, std::path::Path::new("/dev/null"));
    assert_eq!(
        run.audit_summary()
            .iter()
            .map(|(a, p, r)| format!("{a} {p} {r}"))
            .collect::<Vec<_>>(),
        [
            "kill-holder start -",
            "kill-holder end done",
            "restart-backend start -",
            "restart-backend end done"
        ]
    );
    // What the kill destroyed was saved first: why it hung can still be read afterwards.
    let end = &audit_of(&run.audit(), "kill-holder", "end")[0].clone();
    let evidence: Vec<&str> = end["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    let pid = holder.0;
    assert!(
        evidence.iter().any(|e| e.starts_with(&format!(
            "PID {pid} thread {pid} (python3): state S, wchan "
        )) && e.contains("in read()")),
        "{evidence:#?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with(&format!("PID {pid}: ")) && e.contains(" open files: 0→")),
        "{evidence:#?}"
    );
    assert!(
        out.stdout.contains(&format!(
            "saved PID {pid}'s threads, kernel stack and open files before the signal"
        )),
        "{}",
        out.all()
    );
}

#[test]
fn dead_backend_is_started_from_the_playbook_command() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let out = fix_yes(&run, &lab);
    assert_fixed(&out, &lab);
    assert!(
        out.stdout.contains("Plan: restart-backend"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("Note: the backend was started by fixer, not by a supervisor"),
        "a command-started backend is unsupervised, and the operator is told: {}",
        out.all()
    );
    let now = lab_backends(&lab);
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(
        out.stdout.contains(&format!("· started PID {}", now[0].0)),
        "{}",
        out.all()
    );
    assert_eq!(listeners(lab.backend_port), [now[0].0]);
}

#[test]
fn nginx_down_is_started_with_its_own_binary_after_a_config_test() {
    let (_dir, lab) = lab(Fault::NginxDown);
    let run = Run::new();
    let out = fix_yes(&run, &lab);
    assert_fixed(&out, &lab);
    assert!(out.stdout.contains("Plan: start-nginx"), "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "· nginx listens on {}, {}",
            lab.http_port, lab.https_port
        )),
        "{}",
        out.all()
    );
    let end = &audit_of(&run.audit(), "start-nginx", "end")[0].clone();
    assert_eq!(end["result"], "done");
    assert!(
        end["evidence"].to_string().contains("syntax is ok"),
        "{end}"
    );
}

#[test]
fn fix_json_lists_each_action_and_whether_it_was_verified() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.args(["--yes", "--json"]);
    let out = output(cmd);
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", out.all()));
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(doc["command"], "fix");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["root_cause_code"], "backend-not-listening");
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{doc:#}");
    let a = &actions[0];
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "code",
            "consent",
            "elapsed_ms",
            "evidence",
            "plan",
            "result",
            "started_at",
            "target"
        ]
    );
    assert_eq!(a["code"], "restart-backend");
    assert_eq!(a["consent"], "yes-flag");
    assert_eq!(a["result"], "done");
    assert_eq!(
        a["target"]["address"],
        format!("127.0.0.1:{}", lab.backend_port)
    );
    assert!(a["plan"][0]
        .as_str()
        .unwrap()
        .starts_with("start: python3 "));
    assert!(a["elapsed_ms"].as_u64().is_some());
    assert!(a["evidence"].as_array().unwrap().iter().any(|e| e
        .as_str()
        .unwrap()
        .ends_with("listens and /api/health answers")));
    assert_eq!(doc["verification"]["verdict"], "ok", "{doc:#}");
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
}

#[test]
fn fix_log_shows_the_audit_entries_as_a_table() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    assert_fixed(&fix_yes(&run, &lab), &lab);
    let mut cmd = run.fixer("log");
    cmd.arg("--audit-log").arg(&run.audit);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("{} (2 entries)", run.audit.display()),
        "{}",
        out.all()
    );
    let header = lines.iter().find(|l| l.contains("time")).unwrap();
    for col in [
        "time", "user", "playbook", "action", "phase", "result", "target",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .filter(|l| l.contains("restart-backend"))
        .map(|l| {
            l.split(['│', '┆'])
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    let command = format!(
        "python3 {}/lab-backend.py --port {}",
        lab.dir.display(),
        lab.backend_port
    );
    for (row, (phase, result)) in rows.iter().zip([("start", "-"), ("end", "done")]) {
        assert_eq!(
            row[1..],
            [
                "root",
                "lab-backend-down",
                "restart-backend",
                phase,
                result,
                &command
            ],
            "{row:?}"
        );
    }

    let mut json = run.fixer("log");
    json.arg("--json").arg("--audit-log").arg(&run.audit);
    let out = output(json);
    let entries: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries, run.audit());
}

/// `--core DIR`: a core file of the stuck holder is written before it is killed (gdb's gcore),
/// so why it hung can be read in a debugger after the site is back.
#[test]
fn core_of_a_stuck_holder_is_kept_with_core() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let holder = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let cores = run.path("cores");
    let mut cmd = run.fix(&lab);
    cmd.arg("--yes").arg("--core").arg(&cores);
    let out = output(cmd);
    assert_fixed(&out, &lab);
    let core = cores.join(format!("core.{}", holder.0));
    let size = std::fs::metadata(&core)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", core.display(), out.all()))
        .len();
    assert!(size > 0);
    assert!(
        out.stdout.contains(&format!(
            "core file of PID {}: {} ({size} bytes)",
            holder.0,
            core.display()
        )),
        "{}",
        out.all()
    );
    assert!(gone(holder));
}
