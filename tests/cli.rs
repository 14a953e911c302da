//! Usage errors: what an operator sees when the playbook is wrong or missing.

mod common;

use common::fixer;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = fixer()
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_playbook_lists_the_known_ones() {
    let (code, _, err) = run(&["diagnose", "-p", "no-such-thing"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "fixer: error: unknown playbook \"no-such-thing\"; known playbooks: login-502, streamlit-502"
    );
}

#[test]
fn malformed_playbook_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"bad\"\n[backend]\naddress = \"127.0.0.1:8080\"\nmatch = \"(unclosed\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["diagnose", "-p", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "{}:4: backend.match: invalid regex",
            path.display()
        )),
        "{err}"
    );

    std::fs::write(&path, "[nginx]\nports = [80]\nport = 443\n").unwrap();
    let (code, _, err) = run(&["diagnose", "-p", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 3") && err.contains("unknown field `port`"),
        "{err}"
    );
}

#[test]
fn no_playbook_and_no_flags_uses_the_default_playbook_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("playbooks")).unwrap();
    std::fs::write(
        dir.path().join("playbooks/default.toml"),
        "[nginx]\nports = [9]\n[backend]\naddress = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    let out = fixer()
        .args(["diagnose", "--timeout", "0.5"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("fixer diagnose — playbook default (playbooks/default.toml)"),
        "{stdout}"
    );
    // A default playbook that does not parse is an error, never a reason to look elsewhere.
    std::fs::write(dir.path().join("playbooks/default.toml"), "port = 1\n").unwrap();
    let out = fixer()
        .arg("diagnose")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let (code, _, err) = run(&["diagnose", "--backend", "example.com:80"]);
    assert_eq!(code, 2);
    assert!(err.contains("--backend"), "{err}");
}

#[test]
fn playbooks_lists_built_in_ones() {
    let (code, out, _) = run(&["playbooks"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("login-502") && out.contains("built-in"),
        "{out}"
    );
    assert!(out.contains("streamlit-502"), "{out}");
}
