//! Bad input is refused when it is read, with exit 2 and a message that says where and why,
//! before any probe could turn fixer's own mistake into a finding about the system.

mod common;

use std::fs;

use common::fixer;

struct Out {
    code: i32,
    stderr: String,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = fixer()
        .args(args)
        .envs(env.iter().copied())
        .env_remove("FIXER_YES")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn playbook(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    fs::write(&path, text).unwrap();
    let shown = path.display().to_string();
    (dir, shown)
}

#[test]
fn a_health_path_with_a_space_is_refused_before_any_probe() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = backend.local_addr().unwrap().port();
    let (_dir, path) = playbook(&format!(
        "[backend]\naddress = \"127.0.0.1:{port}\"\nhealth_path = \"/api/health check\"\n"
    ));
    let out = run(&["fix", "-p", &path, "--dry-run"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "fixer: error: {path}:3: backend.health_path: \"/api/health check\" contains a space \
             at byte 11; percent-encode it (a space is %20)"
        )
    );
}

#[test]
fn flag_errors_name_the_flag_and_the_range() {
    let out = run(
        &["diagnose", "--backend", "127.0.0.1:1", "--timeout", "0"],
        &[],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        "fixer: error: --timeout: 0 is not a usable timeout; give between 0.01 and 300 seconds"
    );
    // Waits and grace periods follow the same one rule for seconds.
    let out = run(&["fix", "--backend", "127.0.0.1:1", "--grace=5000"], &[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        "fixer: error: --grace: 5000 is not a usable grace period; give between 0 and 3600 seconds"
    );
    let out = run(&["verify", "--backend", "127.0.0.1:1", "--wait=-1"], &[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        "fixer: error: --wait: -1 is not a usable wait; give between 0 and 3600 seconds"
    );
    let out = run(&["diagnose", "--health", "http://127.0.0.1:99999/"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--health: \"http://127.0.0.1:99999/\" has port \"99999\"; a port is a number from 1 to 65535"),
        "{}",
        out.stderr
    );
    for args in [
        &["diagnose", "--backend", "127.0.0.1:0"][..],
        &["diagnose", "--backend", "127.0.0.1:1", "--nginx-port", "0"],
        &["diagnose", "--backend", "127.0.0.1:1", "--expect", "99"],
        &["diagnose", "--health", "http://127.0.0.1:0/"],
    ] {
        let out = run(args, &[]);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("command line:0"), "{}", out.stderr);
    }
}

#[test]
fn a_bad_regex_keeps_its_line_breaks() {
    let out = run(
        &[
            "diagnose",
            "--backend",
            "127.0.0.1:1",
            "--match",
            "(unclosed",
        ],
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "fixer: error: --match: invalid regex: regex parse error:\n    (unclosed\n    ^\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn fixer_yes_takes_the_usual_spellings() {
    for value in ["1", "yes", "on", "true"] {
        let out = run(
            &["fix", "-p", "/nonexistent/site.toml"],
            &[("FIXER_YES", value)],
        );
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("/nonexistent/site.toml"),
            "FIXER_YES={value}: {}",
            out.stderr
        );
    }
    let out = run(
        &["fix", "--dry-run", "-p", "/nonexistent/site.toml"],
        &[("FIXER_YES", "1")],
    );
    assert!(
        !out.stderr.contains("cannot be used with"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_mistyped_name_gets_a_suggestion() {
    let out = run(&["diagnose", "-p", "login502"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("unknown playbook \"login502\" (did you mean login-502?)"),
        "{}",
        out.stderr
    );
}

#[test]
fn empty_ports_huge_keys_and_deep_nesting_get_short_located_messages() {
    let (_d, path) = playbook("[nginx]\nports = []\n");
    let out = run(&["diagnose", "-p", &path], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("{path}:2: nginx.ports: is empty")),
        "{}",
        out.stderr
    );
    let (_d, path) = playbook(&format!("[site]\n{} = 1\n", "k".repeat(200_000)));
    let out = run(&["diagnose", "-p", &path], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("line 2") && out.stderr.len() < 600,
        "{}",
        out.stderr
    );
    let (_d, path) = playbook(&format!(
        "a = {}{}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    ));
    let out = run(&["diagnose", "-p", &path], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("line 1") && out.stderr.len() < 300,
        "{}",
        out.stderr
    );
}
