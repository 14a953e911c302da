//! The help of every subcommand is what operators read first; changes to it must be deliberate.
//! A change fails the test with a diff and writes nothing (`.config/insta.yaml` sets
//! `update: no`). To accept one: `INSTA_UPDATE=always cargo test --test help`, then review the
//! diff of tests/snapshots/ (`cargo insta` is not needed).

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
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("fixer {}", args.join(" ")),
    }, {
        insta::assert_snapshot!(name, text);
    });
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
        "watch",
        "log",
        "playbooks",
        "lab",
        "completions",
        "man",
    ] {
        check(&[sub, "--help"], sub);
    }
    check(&["lab", "up", "--help"], "lab-up");
}
