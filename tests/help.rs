//! The help of every subcommand is what operators read first; changes to it must be deliberate.
//! Run with FIXER_UPDATE_SNAPSHOTS=1 to accept a change, then review the diff.

mod common;

use common::fixer;

fn check(args: &[&str], name: &str) {
    let out = fixer()
        .args(args)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let path = format!("{}/tests/snapshots/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("FIXER_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, want,
        "help of {args:?} changed; FIXER_UPDATE_SNAPSHOTS=1 to accept"
    );
}

#[test]
fn help_snapshots() {
    check(&["--help"], "fixer");
    for sub in [
        "diagnose",
        "fix",
        "verify",
        "init",
        "harden",
        "log",
        "playbooks",
        "lab",
    ] {
        check(&[sub, "--help"], sub);
    }
    check(&["lab", "up", "--help"], "lab-up");
}
