//! A process that bound the backend's port without listening: invisible to ss/lsof, fatal to a
//! restart (EADDRINUSE). diagnose names it; fix --yes stops it and starts the backend.

mod common;
mod sys_support;

use common::{fixer, lab};
use fixer::lab::Fault;
use serde_json::Value;
use sys_support::Spawned;

/// Binds 127.0.0.1:PORT, never listens, prints "bound", sleeps. Its extra argument makes its
/// command line match the lab playbook's `lab-backend\.py`, as a half-started backend would.
const BINDER: &str = r#"
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", flush=True)
time.sleep(600)
"#;

#[test]
fn bound_but_not_listening_is_found_and_fixed() {
    let (dir, lab) = lab(Fault::BackendDown);
    let port = lab.backend_port.to_string();
    let binder = Spawned::python(BINDER, &[&port, "lab-backend.py-half-started"]);
    assert_eq!(binder.line(), "bound");

    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "1", "-p"])
        .arg(&lab.playbook)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["root_cause_code"], "backend-port-bound", "{doc:#}");
    let cause = doc["root_cause"].as_str().unwrap();
    assert!(cause.contains(&format!("PID {}", binder.pid())), "{cause}");
    assert!(cause.contains("EADDRINUSE"), "{cause}");

    let out = fixer()
        .args([
            "fix",
            "--yes",
            "--json",
            "--timeout",
            "1",
            "--grace",
            "2",
            "-p",
        ])
        .arg(&lab.playbook)
        .arg("--audit-log")
        .arg(dir.path().join("audit.jsonl"))
        .env("FIXER_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let codes: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["kill-holder", "restart-backend"]);
    assert_eq!(doc["verified"], true);
    assert_eq!(common::status(lab.http_port, "/api/health").unwrap(), 200);
}
