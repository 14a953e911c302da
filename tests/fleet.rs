//! docs/fleet.md and the Ansible playbooks in docs/fleet/: they parse as YAML, every fixer
//! command in them parses with fixer's own clap definitions (a renamed flag fails here), and
//! verify.yml runs for real with ansible-playbook against localhost on a lab.

mod common;
mod fix_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use common::lab;
use fix_support::Run;
use fixer::lab::Fault;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

fn playbooks() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(docs().join("fleet"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "verify.yml and fix.yml: {files:?}");
    files
}

/// The command lines of every command/shell task, as written.
fn commands(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::Array(items) => items.iter().for_each(|i| commands(i, out)),
        Yaml::Hash(map) => {
            for (key, value) in map {
                let module = key.as_str().unwrap_or("");
                if matches!(
                    module,
                    "ansible.builtin.command" | "command" | "ansible.builtin.shell" | "shell"
                ) {
                    match value {
                        Yaml::String(line) => out.push(line.clone()),
                        Yaml::Hash(args) => {
                            let cmd = args
                                .get(&Yaml::String("cmd".into()))
                                .and_then(Yaml::as_str)
                                .expect("a command task with `cmd:`");
                            out.push(cmd.to_string());
                        }
                        other => panic!("unexpected {module} arguments: {other:?}"),
                    }
                } else {
                    commands(value, out);
                }
            }
        }
        _ => {}
    }
}

/// The argument vectors a templated command line stands for: each `{{ VAR | default('X') }}`
/// as its default, and a playbook variable also as a real playbook name.
fn expand(line: &str) -> Vec<Vec<String>> {
    let re = regex::Regex::new(r"\{\{\s*(\w+)\s*\|\s*default\('([^']*)'\)\s*\}\}").unwrap();
    let mut variants = vec![line.to_string()];
    for cap in re.captures_iter(line) {
        let mut values = vec![cap[2].to_string()];
        if cap[1].contains("playbook") {
            values.push("login-502".into());
        }
        let whole = &cap[0];
        variants = variants
            .iter()
            .flat_map(|v| values.iter().map(move |x| v.replacen(whole, x, 1)))
            .collect();
    }
    variants
        .into_iter()
        .map(|v| {
            assert!(
                !v.contains("{{") && !v.contains(['"', '\'', '\\']),
                "a template or quoting this test does not understand: {line}"
            );
            v.split_whitespace().map(str::to_string).collect()
        })
        .collect()
}

/// Parses `argv` (starting with `fixer`) exactly as the binary would.
fn parses(argv: &[String], from: &str) {
    assert_eq!(argv.first().map(String::as_str), Some("fixer"), "{from}");
    if let Err(e) = fixer::cli::Cli::command().try_get_matches_from(argv) {
        panic!(
            "{from}: `{}` is not a valid fixer command:\n{e}",
            argv.join(" ")
        );
    }
}

#[test]
fn the_ansible_playbooks_parse_and_use_real_flags() {
    for file in playbooks() {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
        assert_eq!(docs.len(), 1, "{}", file.display());
        let plays = docs[0].as_vec().expect("a list of plays");
        for play in plays {
            assert_eq!(play["hosts"].as_str(), Some("web"), "{}", file.display());
            assert!(play["tasks"].as_vec().is_some_and(|t| !t.is_empty()));
        }
        let mut lines = Vec::new();
        commands(&docs[0], &mut lines);
        assert!(!lines.is_empty(), "{}: no fixer command", file.display());
        for line in &lines {
            for argv in expand(line) {
                parses(&argv, &file.display().to_string());
                // The next tasks read the JSON document.
                assert!(argv.contains(&"--json".to_string()), "{line}");
            }
        }
    }
}

#[test]
fn the_commands_in_fleet_md_use_real_flags() {
    let text = std::fs::read_to_string(docs().join("fleet.md")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let command = if line.starts_with("ansible web ") {
            // The ad-hoc module argument: -a "fixer …"
            line.split_once("-a \"")
                .and_then(|(_, rest)| rest.strip_suffix('"'))
                .unwrap_or_else(|| panic!("an ad-hoc line without -a \"…\": {line}"))
        } else if let Some((_, cron)) = line.split_once(" root fixer ") {
            &format!("fixer {}", cron.split('>').next().unwrap())
        } else {
            continue;
        };
        for argv in expand(command) {
            parses(&argv, line);
        }
        checked += 1;
    }
    assert!(
        checked >= 4,
        "the ad-hoc lines and the cron line: {checked}"
    );
}

/// `ansible-playbook docs/fleet/verify.yml` against localhost (connection local), with the
/// fixer under test first on PATH; returns (exit code, output, the collected results).
fn ansible_verify(playbook: &Path, run: &Run) -> (i32, String, Option<Value>) {
    let tool = Path::new("/usr/bin/ansible-playbook");
    assert!(
        tool.exists(),
        "ansible-playbook is not installed: run ./scripts/setup (apt package ansible-core)"
    );
    let dir = run.dir.path();
    let inventory = dir.join("inventory");
    std::fs::write(
        &inventory,
        "[web]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .unwrap();
    let results = dir.join("results.json");
    let bin = Path::new(env!("CARGO_BIN_EXE_fixer")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new(tool)
        .arg("-i")
        .arg(&inventory)
        .arg(docs().join("fleet/verify.yml"))
        .arg("-e")
        .arg(format!("fixer_playbook={}", playbook.display()))
        .arg("-e")
        .arg(format!("fixer_results={}", results.display()))
        // Already root here: no sudo.
        .args(["-e", "ansible_become=false"])
        .env("PATH", path)
        .env("FIXER_STATE_DIR", &run.state)
        .env("HOME", dir)
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let collected = std::fs::read_to_string(&results)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")));
    (out.status.code().unwrap_or(-1), text, collected)
}

#[test]
fn verify_yml_passes_on_a_healthy_host_and_fails_the_play_on_a_broken_one() {
    let (_dir, healthy) = lab(Fault::None);
    let run = Run::new();
    let (code, out, results) = ansible_verify(&healthy.playbook, &run);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("localhost: healthy"), "{out}");
    let doc = &results.expect("the collected results")["localhost"];
    assert_eq!(doc["command"], "verify", "{doc:#}");
    assert_eq!(doc["healthy"], true);

    let (_dir2, broken) = lab(Fault::BackendDown);
    let run = Run::new();
    let (code, out, results) = ansible_verify(&broken.playbook, &run);
    assert_eq!(
        code, 2,
        "ansible-playbook's exit code for a failed host:\n{out}"
    );
    assert!(
        out.contains("localhost: not healthy (exit 1)"),
        "the assertion's message:\n{out}"
    );
    let doc = &results.expect("collected before the assertion fails")["localhost"];
    assert_eq!(doc["healthy"], false, "{doc:#}");
    assert_eq!(doc["exit_code"], 1);
}
