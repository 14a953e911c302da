//! `fixer harden` on a host without systemd as PID 1, against the lab's real nginx and a
//! backend started by command: it reads, prints a unit file and the other snippets, and with
//! `--dry-run` changes nothing. (What `--apply` does to systemd is tested in harden_unit.rs,
//! inside a container.)

mod common;

use common::{fixer, lab};
use fixer::lab::Fault;
use serde_json::Value;

fn codes(doc: &Value) -> Vec<&str> {
    doc["harden"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["finding"]["code"].as_str().unwrap())
        .collect()
}

#[test]
fn a_lab_backend_gets_a_unit_file_and_a_log_rule() {
    let (_dir, lab) = lab(Fault::None);
    let out = fixer()
        .args(["harden", "--json", "-p"])
        .arg(&lab.playbook)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(codes(&doc), ["harden-no-unit", "harden-no-log-rotation"]);
    let change = &doc["harden"]["change"];
    assert_eq!(
        change["path"],
        "/etc/systemd/system/lab-none-backend.service"
    );
    let unit = change["text"].as_str().unwrap();
    let log = format!("{}/logs/backend.log", lab.dir.display());
    assert!(
        unit.contains(&format!("StandardOutput=append:{log}\n")),
        "{unit}"
    );
    assert!(unit.contains("\nExecStart=/"), "{unit}");
    assert!(
        unit.contains(&format!("--port {}", lab.backend_port)),
        "{unit}"
    );
    // The lab's nginx sets both timeouts (1 s) on the server: inherited, so no finding.
    let evidence = doc["harden"]["evidence"].to_string();
    assert!(
        evidence.contains("proxy_connect_timeout 1s, proxy_read_timeout 1s"),
        "{evidence}"
    );
    assert_eq!(
        doc["harden"]["items"][1]["place"],
        "/etc/logrotate.d/lab-none-backend"
    );
}

#[test]
fn dry_run_and_refusal_change_nothing() {
    let (_dir, lab) = lab(Fault::None);
    let audit = lab.dir.join("audit.jsonl");
    let run = |extra: &[&str]| {
        fixer()
            .args(["harden", "-p"])
            .arg(&lab.playbook)
            .arg("--audit-log")
            .arg(&audit)
            .args(extra)
            .env("FIXER_STATE_DIR", lab.dir.join("state"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["--apply", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Plan: harden-unit\n  write the unit file /etc/systemd/system/lab-none-backend.service\n"), "{stdout}");
    assert!(stdout.contains("Dry run: nothing was changed."), "{stdout}");
    let out = run(&["--apply"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!std::path::Path::new("/etc/systemd/system/lab-none-backend.service").exists());
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(audit.contains(r#""result":"refused""#), "{audit}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = fixer()
        .args([
            "harden",
            "--backend",
            "127.0.0.1:9",
            "--restart-unit",
            "no-such-fixer-unit",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    // From the unit directories here; `systemctl cat`'s "No files found" where systemd runs.
    assert!(
        stdout.contains("could not check: ") && stdout.contains("no-such-fixer-unit.service"),
        "{stdout}"
    );
    let out = fixer()
        .args(["harden", "--backend", "127.0.0.1:9", "--report", "x.md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
