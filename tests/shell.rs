//! `fixer completions SHELL` and `fixer man`, checked by the real shells and the real `man`
//! (bash, zsh, fish, elvish and man-db are installed by scripts/setup; PowerShell has no
//! Debian package, so its script is checked for content only).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixer;

const SUBCOMMANDS: &[&str] = &[
    "diagnose",
    "fix",
    "verify",
    "init",
    "harden",
    "log",
    "playbooks",
    "lab",
    "completions",
    "man",
];

fn run_fixer(args: &[&str]) -> String {
    let out = fixer().args(args).output().unwrap();
    assert!(out.status.success(), "fixer {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A shell the test needs; failing (never skipping) when scripts/setup has not installed it.
fn shell(name: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is not installed: run ./scripts/setup",
        path.display()
    );
    Command::new(path)
}

fn ok(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what}: {:?}\n{text}", out.status);
    text
}

fn script(dir: &Path, shell: &str) -> std::path::PathBuf {
    let path = dir.join(format!("fixer.{shell}"));
    std::fs::write(&path, run_fixer(&["completions", shell])).unwrap();
    path
}

/// What bash offers after `line` (the cursor at its end), with fixer's script loaded.
fn bash_complete(file: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let prev = if words.len() > 1 {
        words[words.len() - 2]
    } else {
        ""
    };
    let program = format!(
        "source '{}'; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({}); \
         COMP_CWORD={}; _fixer fixer '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        words.len() - 1,
        words.last().unwrap(),
    );
    let out = ok(
        shell("bash")
            .args(["--norc", "-c", &program])
            .output()
            .unwrap(),
        line,
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "bash");
    ok(
        shell("bash").arg("-n").arg(&file).output().unwrap(),
        "bash -n",
    );
    assert_eq!(bash_complete(&file, "fixer ver"), ["verify"]);
    let subs = bash_complete(&file, "fixer ");
    for sub in SUBCOMMANDS {
        assert!(subs.iter().any(|s| s == sub), "{sub} not in {subs:?}");
    }
    assert!(bash_complete(&file, "fixer verify --text").contains(&"--textfile".to_string()));
    assert_eq!(
        bash_complete(&file, "fixer verify --format "),
        ["human", "json", "prometheus"]
    );
    assert_eq!(
        bash_complete(&file, "fixer completions "),
        [
            "-h",
            "--color",
            "--help",
            "bash",
            "elvish",
            "fish",
            "powershell",
            "zsh"
        ]
    );
}

#[test]
fn zsh_fish_and_elvish_accept_their_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let zsh = script(dir.path(), "zsh");
    ok(shell("zsh").arg("-n").arg(&zsh).output().unwrap(), "zsh -n");
    assert!(std::fs::read_to_string(&zsh)
        .unwrap()
        .starts_with("#compdef fixer"));
    let fish = script(dir.path(), "fish");
    ok(
        shell("fish")
            .arg("--no-execute")
            .arg(&fish)
            .output()
            .unwrap(),
        "fish --no-execute",
    );
    // Loaded for real: fish then offers the subcommands after `fixer `.
    let offered = ok(
        shell("fish")
            .args(["--no-config", "-c"])
            .arg(format!(
                "source '{}'; complete --do-complete 'fixer '",
                fish.display()
            ))
            .output()
            .unwrap(),
        "fish complete",
    );
    for sub in SUBCOMMANDS {
        assert!(
            offered.lines().any(|l| l.split('\t').next() == Some(sub)),
            "{sub} not offered by fish:\n{offered}"
        );
    }
    let elvish = script(dir.path(), "elvish");
    // `edit:` exists only in elvish's interactive editor: a thin stand-in namespace (a fake,
    // named so) takes the completer and lists candidates, so the script runs for real.
    let program = format!(
        "var comp = (ns [&arg-completer=[&]]); \
         var ed = (ns [&completion:=$comp &complex-candidate~={{|t &display=''| put $t }}]); \
         eval (slurp < '{}') &ns=(ns [&edit:=$ed]); \
         $comp[arg-completer][fixer] fixer verify '' | to-lines",
        elvish.display()
    );
    let offered = ok(
        shell("elvish")
            .args(["-norc", "-c", &program])
            .output()
            .unwrap(),
        "elvish",
    );
    for flag in ["--format", "--textfile", "--wait", "--playbook"] {
        assert!(offered.lines().any(|l| l == flag), "{flag}:\n{offered}");
    }
    let ps = run_fixer(&["completions", "powershell"]);
    assert!(
        ps.contains("Register-ArgumentCompleter") && ps.contains("'fixer;verify'"),
        "{ps}"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = fixer().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

/// `man -l PAGE` as a user reads it: rendered text, and nothing on stderr (troff warns about
/// characters it cannot show, bad requests, …).
fn man(page: &Path) -> String {
    let out = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(page)
        .env("LANG", "C")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is not installed: run ./scripts/setup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{}: {stderr}",
        page.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_man_page_renders_and_names_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fixer.1");
    std::fs::write(&page, run_fixer(&["man"])).unwrap();
    let text = man(&page);
    assert!(text.contains("fixer - Find and fix"), "{text}");
    assert!(
        text.contains("DNS -> nginx"),
        "arrows survive LANG=C: {text}"
    );
    for sub in SUBCOMMANDS {
        assert!(text.contains(&format!("fixer-{sub}(1)")), "{sub}:\n{text}");
    }
}

#[test]
fn man_dir_writes_one_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    run_fixer(&["man", "--dir", dir.path().to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for sub in SUBCOMMANDS
        .iter()
        .chain(&["lab-up", "lab-down", "lab-list"])
    {
        assert!(
            names.contains(&format!("fixer-{sub}.1")),
            "{sub}: {names:?}"
        );
    }
    assert!(names.contains(&"fixer.1".to_string()));
    for name in &names {
        man(&dir.path().join(name));
    }
    let verify = man(&dir.path().join("fixer-verify.1"));
    for flag in ["--format", "--textfile", "--wait", "--json"] {
        assert!(verify.contains(flag), "{flag}:\n{verify}");
    }
}

#[test]
fn man_dir_that_does_not_exist_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = fixer()
        .args(["man", "--dir", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
