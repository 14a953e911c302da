//! The lab faults whose cause only nginx's error log names: each is diagnosed end to end with
//! real nginx and a real backend, and the finding code, root-cause sentence and exit code are
//! what a user sees. None of them may be answered with a kill or a restart.

mod common;
mod fix_support;

use common::{lab, step};
use fix_support::{output, Run};
use fixer::lab::{Fault, Lab};
use serde_json::Value;

struct Diagnosed {
    code: i32,
    doc: Value,
}

impl Diagnosed {
    fn root(&self) -> &str {
        self.doc["root_cause"].as_str().unwrap_or("")
    }

    fn log_code(&self) -> &str {
        step(&self.doc, "error_log")["finding"]["code"]
            .as_str()
            .unwrap_or("")
    }
}

/// Users hit the site through nginx first, so its error log holds what they got.
fn users_hit(lab: &Lab, times: usize) {
    for _ in 0..times {
        let _ = common::status(lab.http_port, "/api/health");
    }
}

fn diagnose(run: &Run, lab: &Lab) -> Diagnosed {
    let mut cmd = run.fixer("diagnose");
    cmd.args(["--json", "--timeout", "1", "-p"])
        .arg(&lab.playbook);
    let out = output(cmd);
    let doc = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    Diagnosed {
        code: out.code,
        doc,
    }
}

/// `fix --dry-run` plans no kill and no restart, and acts on nothing.
fn plans_no_kill_or_restart(run: &Run, lab: &Lab) {
    let mut cmd = run.fixer("fix");
    cmd.arg("-p")
        .arg(&lab.playbook)
        .arg("--audit-log")
        .arg(&run.audit)
        .args(["--timeout", "1", "--dry-run"]);
    let out = output(cmd);
    let all = out.all();
    for plan in [
        "Plan: kill-holder",
        "Plan: restart-backend",
        "Plan: resume-holder",
    ] {
        assert!(!all.contains(plan), "{all}");
    }
    assert!(all.contains("Left for you to change"), "{all}");
    assert!(run.audit().is_empty(), "a dry run acted: {:?}", run.audit());
}

fn expect(d: &Diagnosed, code: &str, sentence: &[&str]) {
    assert_eq!(d.code, 1, "{:#}", d.doc);
    assert_eq!(d.doc["root_cause_code"], code, "{:#}", d.doc);
    assert_eq!(d.log_code(), code, "{:#}", d.doc);
    for s in sentence {
        assert!(d.root().contains(s), "{s:?} not in {:?}", d.root());
    }
    let group = &step(&d.doc, "error_log")["details"]["groups"][0];
    assert_eq!(group["code"], code, "{group:#}");
}

#[test]
fn a_slow_backend_is_a_timeout_in_the_log_and_never_a_kill() {
    let (_dir, mut lab) = lab(Fault::SlowBackend);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    expect(
        &d,
        "log-upstream-timeout",
        &[
            "answers slower than nginx waits",
            "slow is not stuck",
            "'upstream timed out' in nginx's error log since ",
        ],
    );
    let holder = step(&d.doc, "port_holder");
    assert_eq!(holder["finding"]["code"], "holder-slow", "{holder:#}");
    plans_no_kill_or_restart(&run, &lab);
    common::down_and_check(&mut lab);
}

#[test]
fn a_backend_answering_500_is_blamed_not_nginx() {
    let (_dir, mut lab) = lab(Fault::Backend500);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    assert_eq!(d.code, 1, "{:#}", d.doc);
    assert_eq!(
        d.doc["root_cause_code"], "http-backend-error",
        "{:#}",
        d.doc
    );
    assert!(
        d.root()
            .contains("answered 500 Internal Server Error: the backend itself is failing"),
        "{}",
        d.root()
    );
    assert!(!d.root().contains("nginx"), "{}", d.root());
    assert_eq!(step(&d.doc, "error_log")["verdict"], "ok");
    common::down_and_check(&mut lab);
}

#[test]
fn a_backend_that_closes_without_answering_crashed_mid_request() {
    let (_dir, mut lab) = lab(Fault::CrashMidRequest);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    expect(
        &d,
        "log-premature-close",
        &[
            "the backend closes nginx's connections without answering",
            "'upstream prematurely closed connection' in nginx's error log since ",
        ],
    );
    plans_no_kill_or_restart(&run, &lab);
    common::down_and_check(&mut lab);
}

#[test]
fn plain_http_to_a_tls_port_is_an_invalid_header() {
    let (_dir, mut lab) = lab(Fault::TlsUpstream);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    expect(
        &d,
        "log-invalid-header",
        &["the backend does not answer nginx in HTTP (a TLS or uwsgi port behind proxy_pass http://?)"],
    );
    common::down_and_check(&mut lab);
}

#[test]
fn headers_larger_than_nginx_buffers_are_named() {
    let (_dir, mut lab) = lab(Fault::TooBigHeader);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    expect(
        &d,
        "log-too-big-header",
        &[
            "larger than nginx's proxy_buffer_size",
            "the backend itself answers",
        ],
    );
    let action = step(&d.doc, "error_log")["finding"]["action"].to_string();
    assert!(action.contains("proxy_buffer_size"), "{action}");
    plans_no_kill_or_restart(&run, &lab);
    common::down_and_check(&mut lab);
}

#[test]
fn a_saturated_nginx_is_not_read_as_a_dead_backend() {
    let (_dir, mut lab) = lab(Fault::NginxSaturated);
    let run = Run::new();
    users_hit(&lab, 2);
    let d = diagnose(&run, &lab);
    expect(
        &d,
        "log-worker-connections",
        &[
            "nginx itself is saturated",
            "the backend is not at fault",
            "worker_connections is 4",
        ],
    );
    for name in ["backend_port", "port_holder"] {
        assert_eq!(step(&d.doc, name)["verdict"], "ok", "{:#}", d.doc);
    }
    let limits = &step(&d.doc, "error_log")["details"]["nginx_limits"];
    assert_eq!(limits["worker_connections"], 4, "{limits:#}");
    assert_eq!(
        limits["master_pid"].as_i64(),
        lab.pid(fixer::lab::Role::Nginx).map(i64::from)
    );
    plans_no_kill_or_restart(&run, &lab);
    common::down_and_check(&mut lab);
}
