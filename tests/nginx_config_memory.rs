//! `fixer diagnose` uses the `nginx -T` of an earlier run while every file it read is
//! unchanged; an edit, `--fresh`, and `fixer fix` each run nginx -T again. The nginx binary is
//! a wrapper (a thin fake, named so) that counts its runs, then runs the real nginx.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{deadline, fixer, lab, step, wait_until};
use fixer::lab::Fault;
use serde_json::Value;

/// `/usr/sbin/nginx` behind a script that appends a line to `runs` each time it starts.
fn counting_nginx(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let runs = dir.join("nginx-runs");
    let path = dir.join("counting-nginx");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec /usr/sbin/nginx \"$@\"\n",
            runs.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    (path, runs)
}

/// The lab's playbook with `[nginx] binary` replaced, written into `dir`.
fn with_binary(playbook: &Path, binary: &Path, dir: &Path) -> PathBuf {
    let text: String = fs::read_to_string(playbook)
        .unwrap()
        .lines()
        .map(|l| match l.starts_with("binary = ") {
            true => format!("binary = {:?}\n", binary.display().to_string()),
            false => format!("{l}\n"),
        })
        .collect();
    let out = dir.join("playbook-counting.toml");
    fs::write(&out, text).unwrap();
    out
}

fn test_runs(runs: &Path) -> usize {
    fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("-T"))
        .count()
}

struct Site {
    playbook: PathBuf,
    runs: PathBuf,
    state: tempfile::TempDir,
    _tools: tempfile::TempDir,
}

impl Site {
    /// The lab behind the counting wrapper, with the wrapper, its playbook and fixer's state
    /// outside the lab's directory (a directory nginx's config is in is watched).
    fn new(lab: &fixer::lab::Lab) -> Site {
        let tools = tempfile::tempdir().unwrap();
        let (binary, runs) = counting_nginx(tools.path());
        // A file changed within 100 ms before nginx -T started may have changed while it
        // read it, and such a dump is not remembered: let lab up's last writes age first.
        let settled = |p: &Path| {
            fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                let ctime = std::time::UNIX_EPOCH
                    + std::time::Duration::new(m.ctime() as u64, m.ctime_nsec() as u32);
                ctime.elapsed().is_ok_and(|a| a.as_millis() > 250)
            })
        };
        assert!(wait_until(deadline(10.0), || settled(&lab.dir)
            && settled(&lab.dir.join("nginx.conf"))));
        Site {
            playbook: with_binary(&lab.playbook, &binary, tools.path()),
            runs,
            state: tempfile::tempdir().unwrap(),
            _tools: tools,
        }
    }

    fn run(&self, args: &[&str]) -> Value {
        let out = fixer()
            .env("FIXER_STATE_DIR", self.state.path())
            .args(args)
            .args(["--json", "--timeout", "2", "-p"])
            .arg(&self.playbook)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

fn config_test(doc: &Value) -> &Value {
    &step(doc, "nginx")["details"]["config_test"]
}

fn remembered(doc: &Value) -> bool {
    !config_test(doc)["remembered"].is_null()
}

fn verdicts(doc: &Value) -> Vec<(String, String)> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].to_string(), s["verdict"].to_string()))
        .collect()
}

#[test]
fn diagnose_reuses_the_config_test_until_a_file_changes_and_fix_never_does() {
    let (_dir, lab) = lab(Fault::None);
    let site = Site::new(&lab);
    let runs = &site.runs;

    let first = site.run(&["diagnose"]);
    assert_eq!(first["exit_code"], 0, "{first:#}");
    assert!(!remembered(&first), "{first:#}");
    assert_eq!(test_runs(runs), 1);

    // The next diagnosis reads the same config without running nginx -T.
    let second = site.run(&["diagnose"]);
    assert!(remembered(&second), "{:#}", step(&second, "nginx"));
    assert_eq!(test_runs(runs), 1, "nginx -T ran again");
    assert_eq!(verdicts(&second), verdicts(&first));
    assert_eq!(config_test(&second)["ok"], true);
    let evidence = step(&second, "nginx")["evidence"].to_string();
    assert!(evidence.contains("not run again"), "{evidence}");
    assert!(evidence.contains("--fresh runs it"), "{evidence}");
    let verdict = step(&second, "nginx")["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        verdict.contains("config test ok (") && verdict.contains("ago, its files unchanged since)"),
        "{verdict}"
    );
    assert_eq!(
        step(&second, "upstream")["details"],
        step(&first, "upstream")["details"]
    );

    // --fresh runs it.
    let fresh = site.run(&["diagnose", "--fresh"]);
    assert!(!remembered(&fresh));
    assert_eq!(test_runs(runs), 2);

    // fix plans only on a config nginx -T printed in its own run.
    let fix = site.run(&["fix", "--dry-run"]);
    assert!(!remembered(&fix), "{fix:#}");
    assert_eq!(test_runs(runs), 3);

    // An edit, even one that keeps the size and the mtime, is seen.
    let conf = lab.dir.join("nginx.conf");
    let text = fs::read_to_string(&conf).unwrap();
    let mtime = fs::metadata(&conf).unwrap().modified().unwrap();
    fs::write(
        &conf,
        text.replacen("worker_connections 64;", "worker_connections 65;", 1),
    )
    .unwrap();
    fs::File::options()
        .write(true)
        .open(&conf)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let edited = site.run(&["diagnose"]);
    assert!(!remembered(&edited), "{:#}", step(&edited, "nginx"));
    assert_eq!(test_runs(runs), 4);

    // A broken config is tested afresh every time: its failure is never remembered.
    fs::write(&conf, format!("{text}\nno_such_directive on;\n")).unwrap();
    for _ in 0..2 {
        let broken = site.run(&["diagnose"]);
        assert_eq!(
            config_test(&broken)["ok"],
            false,
            "{:#}",
            step(&broken, "nginx")
        );
        assert!(!remembered(&broken));
    }
    assert_eq!(test_runs(runs), 6);
    fs::write(&conf, text).unwrap();
}

#[test]
fn a_remembered_config_another_user_could_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, lab) = lab(Fault::None);
    let site = Site::new(&lab);
    let runs = &site.runs;
    site.run(&["diagnose"]);
    let stored: Vec<PathBuf> = fs::read_dir(site.state.path().join("nginx-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    fs::set_permissions(&stored[0], fs::Permissions::from_mode(0o646)).unwrap();
    let doc = site.run(&["diagnose"]);
    assert!(!remembered(&doc));
    assert_eq!(test_runs(runs), 2);
}
