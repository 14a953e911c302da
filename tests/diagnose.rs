//! `fixer diagnose` against every lab fault: the verdicts, root cause and exit code a user sees.

mod common;

use common::{fixer, lab, step};
use fixer::lab::{Fault, Lab};
use serde_json::Value;

struct Run {
    code: i32,
    doc: Value,
}

fn diagnose_json(lab: &Lab) -> Run {
    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "1", "-p"])
        .arg(&lab.playbook)
        .output()
        .expect("running fixer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        doc,
    }
}

fn verdicts(doc: &Value) -> Vec<(String, String)> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expect_root(run: &Run, code: &str) {
    assert_eq!(run.doc["root_cause_code"], code, "{:#}", run.doc);
    assert_eq!(run.doc["healthy"], false);
    assert_eq!(run.code, 1, "{:#}", run.doc);
}

#[test]
fn healthy_lab_passes_every_step() {
    let (_dir, lab) = lab(Fault::None);
    let run = diagnose_json(&lab);
    assert_eq!(run.code, 0, "{:#}", run.doc);
    assert_eq!(run.doc["healthy"], true);
    assert!(run.doc["root_cause"].is_null());
    let names: Vec<_> = verdicts(&run.doc)
        .into_iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    assert_eq!(
        names,
        [
            "dns=ok",
            "nginx=ok",
            "upstream=ok",
            "error_log=ok",
            "backend_port=ok",
            "port_holder=ok",
            "tls=ok",
            "auth=ok",
            "recurl=ok"
        ]
    );
    let holder = &step(&run.doc, "port_holder")["details"];
    assert_eq!(holder["answering"], true);
    assert_eq!(
        holder["pid"].as_i64().unwrap() as i32,
        lab.pid(fixer::lab::Role::Backend).unwrap()
    );
    assert!(holder["cmdline"]
        .as_str()
        .unwrap()
        .contains("lab-backend.py"));
    // Sleeping in accept(), or running while it answers the probes of this very run.
    let state = holder["state"].as_str().unwrap();
    assert!(
        state == "S" || state == "R",
        "a healthy backend is S or R, not {state}"
    );
    assert!(holder["unit"].is_null());
}

#[test]
fn dead_backend_is_named_as_the_root_cause() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = diagnose_json(&lab);
    expect_root(&run, "backend-not-listening");
    let errors = step(&run.doc, "error_log");
    assert_eq!(
        errors["verdict"], "ok",
        "fixer's own probes are not read back: {errors:#}"
    );
    let cause = run.doc["root_cause"].as_str().unwrap();
    assert_eq!(
        cause,
        format!(
            "nothing listens on 127.0.0.1:{}, so nginx cannot reach the backend (502)",
            lab.backend_port
        )
    );
    assert_eq!(step(&run.doc, "port_holder")["verdict"], "skip");
    assert_eq!(step(&run.doc, "nginx")["verdict"], "ok");
    assert_eq!(step(&run.doc, "recurl")["verdict"], "fail");
    // No unit to ask: the kernel's own record of OOM kills is part of the evidence.
    let evidence = step(&run.doc, "backend_port")["evidence"]
        .as_array()
        .unwrap();
    assert!(
        evidence
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("kernel log (dmesg): ")),
        "{evidence:#?}"
    );
}

#[test]
fn stuck_holder_is_found_by_socket_not_by_name() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let run = diagnose_json(&lab);
    expect_root(&run, "holder-stuck");
    let d = &step(&run.doc, "port_holder")["details"];
    assert_eq!(d["answering"], false);
    assert_eq!(
        d["pid"].as_i64().unwrap() as i32,
        lab.pid(fixer::lab::Role::Backend).unwrap()
    );
    assert_eq!(d["pids"].as_array().unwrap().len(), 1);
    let cause = run.doc["root_cause"].as_str().unwrap();
    assert!(
        cause.contains("which does not accept connections; ")
            && cause.contains("(fixer's own probes among them)"),
        "{cause}"
    );
}

#[test]
fn stopped_backend_is_reported_as_stopped() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let run = diagnose_json(&lab);
    expect_root(&run, "holder-stopped");
    assert_eq!(step(&run.doc, "port_holder")["details"]["state"], "T");
}

#[test]
fn stdin_holder_is_blocked_on_stdin_like_the_streamlit_incident() {
    let (_dir, lab) = lab(Fault::StdinHolder);
    let run = diagnose_json(&lab);
    expect_root(&run, "holder-blocked-on-stdin");
    let pid = lab.pid(fixer::lab::Role::Backend).unwrap();
    let cause = run.doc["root_cause"].as_str().unwrap();
    assert!(
        cause.starts_with(&format!(
            "127.0.0.1:{} is held by PID {pid} (",
            lab.backend_port
        )),
        "{cause}"
    );
    assert!(
        cause.contains("which is blocked reading its stdin and cannot serve"),
        "{cause}"
    );
    let evidence = step(&run.doc, "port_holder")["evidence"].to_string();
    assert!(evidence.contains("read(fd 0)"), "{evidence}");
}

#[test]
fn wrong_upstream_port_is_an_upstream_mismatch() {
    let (_dir, lab) = lab(Fault::WrongPort);
    let run = diagnose_json(&lab);
    expect_root(&run, "upstream-mismatch");
    let cause = run.doc["root_cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("nginx proxies to 127.0.0.1:{}", lab.upstream_port)),
        "{cause}"
    );
    assert!(
        cause.contains(&format!(
            "but the backend is 127.0.0.1:{}",
            lab.backend_port
        )),
        "{cause}"
    );
    assert_eq!(step(&run.doc, "backend_port")["verdict"], "ok");
    assert_eq!(step(&run.doc, "port_holder")["verdict"], "ok");
}

#[test]
fn nginx_down_is_reported() {
    let (_dir, lab) = lab(Fault::NginxDown);
    let run = diagnose_json(&lab);
    expect_root(&run, "nginx-not-running");
}

#[test]
fn broken_nginx_config_quotes_nginx_t() {
    let (_dir, lab) = lab(Fault::NginxConfigBroken);
    let run = diagnose_json(&lab);
    expect_root(&run, "nginx-config-invalid");
    let evidence = step(&run.doc, "nginx")["evidence"].to_string();
    assert!(evidence.contains("[emerg]"), "{evidence}");
    assert_eq!(step(&run.doc, "upstream")["verdict"], "skip");
}

#[test]
fn dns_pointing_elsewhere_is_the_root_cause_even_when_this_host_is_healthy() {
    let (_dir, lab) = lab(Fault::DnsElsewhere);
    let run = diagnose_json(&lab);
    expect_root(&run, "dns-points-elsewhere");
    let cause = run.doc["root_cause"].as_str().unwrap();
    assert!(cause.contains("192.0.2.10"), "{cause}");
    assert_eq!(step(&run.doc, "recurl")["verdict"], "ok");
}

#[test]
fn foreign_holder_is_called_foreign() {
    let (_dir, lab) = lab(Fault::ForeignHolder);
    let run = diagnose_json(&lab);
    expect_root(&run, "holder-foreign");
    let d = &step(&run.doc, "port_holder")["details"];
    assert_eq!(d["matches"], false);
    assert!(d["cmdline"].as_str().unwrap().contains("squatter.py"));
}

#[test]
fn human_report_ends_with_the_root_cause_sentence() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let out = fixer()
        .args(["diagnose", "--timeout", "1", "-p"])
        .arg(&lab.playbook)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stdout.contains('\x1b'),
        "no colour without a terminal:\n{stdout}"
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(
        last,
        format!(
            "Root cause: nothing listens on 127.0.0.1:{}, so nginx cannot reach the backend (502) [backend-not-listening]",
            lab.backend_port
        )
    );
    assert!(stdout.contains("✗ backend_port"), "{stdout}");
    assert!(stdout.contains("- port_holder"), "{stdout}");
}

#[test]
fn flags_stand_in_for_a_playbook() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let out = fixer()
        .args([
            "diagnose",
            "--json",
            "--timeout",
            "1",
            "--domain",
            "localhost",
            "--backend",
        ])
        .arg(format!("127.0.0.1:{}", lab.backend_port))
        .args([
            "--nginx-port",
            &lab.http_port.to_string(),
            "--nginx-port",
            &lab.https_port.to_string(),
        ])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["playbook"]["name"], "command-line");
    assert_eq!(doc["root_cause_code"], "backend-not-listening", "{doc:#}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn error_log_counts_what_users_hit() {
    let (_dir, lab) = lab(Fault::BackendDown);
    for _ in 0..3 {
        assert_eq!(common::status(lab.http_port, "/api/health").unwrap(), 502);
    }
    let run = diagnose_json(&lab);
    let errors = step(&run.doc, "error_log");
    assert_eq!(errors["verdict"], "warn", "{errors:#}");
    assert_eq!(errors["finding"]["code"], "log-connection-refused");
    assert_eq!(
        errors["details"]["groups"][0]["code"],
        "log-connection-refused"
    );
    let evidence = errors["evidence"].to_string();
    assert!(
        evidence
            .contains("3× connect() failed (111: Connection refused) while connecting to upstream"),
        "{evidence}"
    );
    let about = format!("3 upstream error(s) about 127.0.0.1:{}", lab.backend_port);
    let cause = errors["finding"]["cause"].as_str().unwrap();
    assert!(cause.contains(&about), "{cause}");
    assert_eq!(run.doc["root_cause_code"], "backend-not-listening");
    // The root cause quotes the log: how many users hit it, and since when.
    let root = run.doc["root_cause"].as_str().unwrap();
    let said = format!(
        "nothing listens on 127.0.0.1:{}, so nginx cannot reach the backend (502) (3 'connection refused' in nginx's error log since ",
        lab.backend_port
    );
    assert!(root.starts_with(&said), "{root}");
}

#[test]
fn report_file_is_a_markdown_incident_report_without_secrets() {
    let (dir, lab) = lab(Fault::BackendDown);
    let report = dir.path().join("incident.md");
    let out = fixer()
        .args(["diagnose", "--timeout", "1", "--report"])
        .arg(&report)
        .arg("-p")
        .arg(&lab.playbook)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.starts_with("# Incident report: lab-backend-down"),
        "{md}"
    );
    assert!(
        md.contains("- **Root cause:** nothing listens on 127.0.0.1:"),
        "{md}"
    );
    assert!(md.contains("(`backend-not-listening`)"), "{md}");
    assert!(
        md.contains("## Timeline") && md.contains("## Evidence"),
        "{md}"
    );
    let password = std::fs::read_to_string(&lab.password_file).unwrap();
    assert!(
        !md.contains(password.trim()),
        "the basic-auth password leaked into the report"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let (_dir, lab) = lab(Fault::None);
    let run = |extra: &[&str], no_color: bool| {
        let mut cmd = fixer();
        cmd.args(["diagnose", "--timeout", "1", "-p"])
            .arg(&lab.playbook)
            .args(extra);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert!(
        run(&["--color", "always"], false).contains("\x1b["),
        "--color always colours"
    );
    assert!(!run(&[], false).contains('\x1b'), "no terminal, no colour");
    assert!(!run(&["--color", "never"], false).contains('\x1b'));
    assert!(
        !run(&["--json", "--color", "always"], false).contains('\x1b'),
        "JSON is never coloured"
    );
}
