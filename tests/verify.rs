//! `fixer verify`: the exit code a cron job or CI step relies on, the `--json` document, and
//! `--wait` polling until a site comes back.

mod common;
mod fix_support;

use std::process::Stdio;

use common::{deadline, lab, wait_until};
use fix_support::{output, Output, Owned, Run};
use fixer::lab::{Fault, Lab};
use serde_json::Value;

fn verify(run: &Run, lab: &Lab, extra: &[&str]) -> Output {
    let mut cmd = run.fixer("verify");
    cmd.arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1"])
        .args(extra);
    output(cmd)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", out.all()))
}

/// (url, status or error kind, healthy) of each checked URL.
fn urls(doc: &Value) -> Vec<(String, String, bool)> {
    doc["steps"][0]["details"]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let got = u["status"]
                .as_u64()
                .map_or_else(|| u["error_kind"].to_string(), |s| s.to_string());
            (
                u["url"].as_str().unwrap().to_string(),
                got,
                u["healthy"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn healthy_lab_verifies_with_exit_0() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let out = verify(&run, &lab, &["--json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let doc = json(&out);
    assert_eq!(doc["command"], "verify");
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["steps"][0]["name"], "recurl");
    assert_eq!(doc["steps"][0]["verdict"], "ok");
    let checked = urls(&doc);
    assert_eq!(checked.len(), 5, "{doc:#}");
    assert!(checked.iter().all(|(_, _, ok)| *ok), "{checked:?}");
    let statuses: Vec<&str> = checked.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["200", "200", "200", "401", "200"]);

    let human = verify(&run, &lab, &[]);
    assert_eq!(human.code, 0, "{}", human.all());
    assert!(
        human.last_line().starts_with("Healthy: "),
        "{}",
        human.all()
    );
    // verify takes no lock; the only state it writes is when it last saw the site healthy.
    assert!(!run.state.join("fix.lock").exists());
    let state: Vec<String> = std::fs::read_dir(&run.state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(state, ["verified"]);
    let record = run
        .state
        .join("verified")
        .join(format!("lab-none_127.0.0.1_{}", lab.backend_port));
    assert!(record.is_file(), "{}", record.display());
}

#[test]
fn broken_lab_fails_verify_with_exit_1() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let out = verify(&run, &lab, &["--json"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc = json(&out);
    assert_eq!(doc["healthy"], false);
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["steps"][0]["verdict"], "fail");
    assert!(!run.state.exists(), "a failed verify records nothing");
    let checked = urls(&doc);
    let backend = format!("http://127.0.0.1:{}/api/health", lab.backend_port);
    let nginx = format!("http://localhost:{}/api/health", lab.http_port);
    let row = |url: &str| checked.iter().find(|(u, _, _)| u == url).unwrap().clone();
    assert!(!row(&backend).2, "{checked:?}");
    assert_eq!(row(&nginx).1, "502", "{checked:?}");

    let human = verify(&run, &lab, &[]);
    assert_eq!(human.code, 1, "{}", human.all());
    assert!(
        human.last_line().starts_with("Unhealthy: "),
        "{}",
        human.all()
    );
    assert!(human.stdout.contains("┆ 502 "), "{}", human.all());
}

fn refused_connects(lab: &Lab) -> usize {
    std::fs::read_to_string(lab.dir.join("logs/error.log"))
        .unwrap_or_default()
        .matches("connect() failed (111: Connection refused)")
        .count()
}

#[test]
fn verify_wait_polls_until_the_site_comes_back() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let before = refused_connects(&lab);
    let mut cmd = run.fixer("verify");
    let mut verify = cmd
        .arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1", "--wait", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once nginx has logged a refused connection, verify has seen the site down at least once.
    assert!(
        wait_until(deadline(10.0), || refused_connects(&lab) > before),
        "verify never reached nginx"
    );
    assert!(verify.try_wait().unwrap().is_none(), "verify gave up early");

    let _backend = Owned::python(
        &lab.dir.join("lab-backend.py"),
        &["--port".into(), lab.backend_port.to_string()],
    );
    let mut status = None;
    assert!(
        wait_until(deadline(25.0), || {
            status = verify.try_wait().unwrap();
            status.is_some()
        }),
        "verify --wait 20 did not return"
    );
    let out = verify.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.unwrap().code(), Some(0), "{stdout}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.starts_with("Healthy: "), "{stdout}");
}
