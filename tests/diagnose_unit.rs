//! Why the backend died, read from systemd and its journal, against real systemd as PID 1 in a
//! throwaway container (see tests/container_support and docs/testing.md).

mod common;
mod container_support;

use container_support::{AppUnit, Container, Out, APP_UNIT};
use serde_json::Value;

/// `fixer diagnose -p app --json` inside the container, parsed; it exits 1 (a problem).
fn diagnose(c: &Container) -> (Value, Out) {
    let out = c.fixer(&["diagnose", "-p", "app", "--json", "--timeout", "1"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    (doc, out)
}

fn backend_port(doc: &Value) -> &Value {
    common::step(doc, "backend_port")
}

fn evidence(doc: &Value) -> Vec<String> {
    backend_port(doc)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigkill_is_named_as_the_root_cause() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.sh_ok("systemctl kill -s KILL app.service");
    c.wait_for(20, "app.service to fail", |c| {
        c.prop(APP_UNIT, "ActiveState") == "failed"
    });

    let (doc, out) = diagnose(&c);
    assert_eq!(doc["root_cause_code"], "backend-killed", "{}", out.all());
    let cause = doc["root_cause"].as_str().unwrap();
    assert!(
        cause.starts_with("app.service was killed by SIGKILL at 20"),
        "{cause}"
    );
    assert!(
        cause.contains("; nothing listens on 127.0.0.1:8080"),
        "{cause}"
    );
    let ev = evidence(&doc);
    assert!(
        ev.iter().any(
            |e| e.starts_with("systemctl show app.service: ActiveState=failed")
                && e.contains("Result=signal")
        ),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.starts_with("journal: ") && e.contains("status=9/KILL")),
        "{ev:#?}"
    );

    // The human report says the same in its root-cause line.
    let human = c.fixer(&["diagnose", "-p", "app", "--timeout", "1"]);
    assert!(
        human
            .stdout
            .contains("Root cause: app.service was killed by SIGKILL"),
        "{}",
        human.all()
    );
}

#[test]
fn exit_status_and_last_words_are_shown() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.sh_ok("mkdir -p /etc/app && touch /etc/app/broken");
    // The app refuses to start with its broken config (Type=simple: the restart itself
    // succeeds, the process exits right after).
    c.sh_ok("systemctl restart app.service");
    c.wait_for(20, "app.service to fail", |c| {
        c.prop(APP_UNIT, "ActiveState") == "failed"
    });

    let (doc, out) = diagnose(&c);
    assert_eq!(doc["root_cause_code"], "backend-exited", "{}", out.all());
    assert!(
        doc["root_cause"]
            .as_str()
            .unwrap()
            .starts_with("app.service exited with status 1 at "),
        "{}",
        out.all()
    );
    let ev = evidence(&doc);
    assert!(
        ev.iter()
            .any(|e| e.contains("config /etc/app/broken: refusing to start")),
        "{ev:#?}"
    );
}

#[test]
fn crash_loop_into_the_start_limit() {
    let c = Container::boot();
    c.crash_loop(|c| {
        c.prop(APP_UNIT, "ActiveState") == "failed" && c.prop(APP_UNIT, "NRestarts") == "3"
    });

    let (doc, out) = diagnose(&c);
    assert_eq!(
        doc["root_cause_code"],
        "backend-start-limit",
        "{}",
        out.all()
    );
    assert!(
        doc["root_cause"]
            .as_str()
            .unwrap()
            .contains("hit systemd's start limit"),
        "{}",
        out.all()
    );
}

#[test]
fn a_clean_stop_stays_not_listening_with_the_history_as_evidence() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.sh_ok("systemctl stop app.service");

    let (doc, out) = diagnose(&c);
    assert_eq!(
        doc["root_cause_code"],
        "backend-not-listening",
        "{}",
        out.all()
    );
    let ev = evidence(&doc);
    assert!(
        ev.iter()
            .any(|e| e.contains("ActiveState=inactive") && e.contains("Result=success")),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.starts_with("journal: ") && e.contains("Stopped")),
        "{ev:#?}"
    );
}
