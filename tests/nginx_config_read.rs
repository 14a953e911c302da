//! `nginx -T` that gives no reading — it hangs past `--timeout`, or there is no nginx binary —
//! is a check that could not run (exit 3): never "config test ok", never `nginx-config-invalid`,
//! and `fix` neither starts nor reloads nginx on it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{fixer, lab, step};
use fixer::lab::Fault;
use serde_json::Value;

/// The lab's playbook with `[nginx] binary` replaced, written next to it.
fn with_binary(playbook: &Path, binary: &Path) -> PathBuf {
    let text = fs::read_to_string(playbook).unwrap();
    let text: String = text
        .lines()
        .map(|l| match l.starts_with("binary = ") {
            true => format!("binary = {:?}\n", binary.display().to_string()),
            false => format!("{l}\n"),
        })
        .collect();
    assert!(text.contains(&binary.display().to_string()), "{text}");
    let out = playbook.with_file_name("playbook-binary.toml");
    fs::write(&out, text).unwrap();
    out
}

/// A stand-in for nginx (a fake, named so): a binary that never finishes, as `nginx -T` does
/// when it waits on a resolver that does not answer.
fn hanging_nginx(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("hanging-nginx");
    fs::write(&path, "#!/bin/sh\nexec sleep 30\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run_json(args: &[&str], playbook: &Path) -> (i32, Value, Duration) {
    let t = Instant::now();
    let out = fixer().args(args).arg("-p").arg(playbook).output().unwrap();
    let elapsed = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap_or(-1), doc, elapsed)
}

fn assert_not_a_config_verdict(doc: &Value) {
    let text = doc.to_string();
    assert!(!text.contains("nginx-config-invalid"), "{doc:#}");
    assert!(!text.contains("config test ok"), "{doc:#}");
}

#[test]
fn a_hanging_config_test_is_bounded_by_the_timeout_and_could_not_run() {
    let (dir, lab) = lab(Fault::None);
    let pb = with_binary(&lab.playbook, &hanging_nginx(dir.path()));
    let (code, doc, elapsed) = run_json(&["diagnose", "--json", "--timeout", "1"], &pb);
    assert_eq!(code, 3, "{doc:#}");
    let nginx = step(&doc, "nginx");
    assert!(
        nginx["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not finish within 1 s")),
        "{nginx:#}"
    );
    assert_not_a_config_verdict(&doc);
    // Not the old fixed 10 s: one timeout plus a margin a slow machine still meets.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn a_missing_binary_could_not_run() {
    let (_dir, lab) = lab(Fault::None);
    let pb = with_binary(&lab.playbook, Path::new("/nonexistent/nginx"));
    let (code, doc, _) = run_json(&["diagnose", "--json", "--timeout", "1"], &pb);
    assert_eq!(code, 3, "{doc:#}");
    let nginx = step(&doc, "nginx");
    assert!(nginx["error"].as_str().is_some(), "{nginx:#}");
    assert_not_a_config_verdict(&doc);
}

#[test]
fn fix_neither_starts_nor_refuses_on_an_unread_config() {
    let (dir, lab) = lab(Fault::NginxDown);
    let pb = with_binary(&lab.playbook, &hanging_nginx(dir.path()));
    let (_, doc, _) = run_json(&["fix", "--dry-run", "--json", "--timeout", "1"], &pb);
    assert_eq!(doc["root_cause_code"], "nginx-not-running", "{doc:#}");
    assert_eq!(doc["actions"].as_array().map(Vec::len), Some(0), "{doc:#}");
    assert_not_a_config_verdict(&doc);

    let out = fixer()
        .args(["fix", "--dry-run", "--timeout", "1", "-p"])
        .arg(&pb)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fixer neither starts nor reloads nginx"),
        "{stdout}"
    );
}
