//! `fixer verify --format prometheus` and `--textfile`: what node_exporter's textfile collector
//! reads. The output is parsed by the Prometheus project's own Python client parser
//! (`python3-prometheus-client`, installed by scripts/setup), not by a parser of our own.

mod common;
mod fix_support;

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use common::lab;
use fix_support::{output, Output, Run};
use fixer::lab::Fault;
use serde_json::Value;

/// Debian's python3, where apt installs the parser (a pyenv python on PATH would not have it).
const PYTHON: &str = "/usr/bin/python3";

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value}
                            for s in f.samples]})
print(json.dumps(out))
"#;

/// The metric families as the Prometheus client's parser reads `text`; panics when it refuses.
fn parse(text: &str) -> Vec<Value> {
    let mut child = Command::new(PYTHON)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running /usr/bin/python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "the parser is missing: run ./scripts/setup (apt package python3-prometheus-client)"
    );
    assert!(
        out.status.success(),
        "the parser refused:\n{stderr}\n{text}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn family<'a>(families: &'a [Value], name: &str) -> &'a Value {
    families
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name} in {families:#?}"))
}

fn samples(families: &[Value], name: &str) -> Vec<Value> {
    family(families, name)["samples"]
        .as_array()
        .unwrap()
        .clone()
}

fn verify(run: &Run, playbook: &Path, extra: &[&str]) -> Output {
    let mut cmd = run.fixer("verify");
    cmd.arg("-p")
        .arg(playbook)
        .args(["--timeout", "1"])
        .args(extra);
    output(cmd)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_healthy_site_as_prometheus_metrics() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let before = now();
    let out = verify(&run, &lab.playbook, &["--format", "prometheus"]);
    let after = now();
    assert_eq!(out.code, 0, "{}", out.all());
    let families = parse(&out.stdout);
    let text = &out.stdout;
    for name in [
        "fixer_healthy",
        "fixer_exit_code",
        "fixer_check_ok",
        "fixer_check_duration_seconds",
        "fixer_last_run_timestamp_seconds",
    ] {
        assert_eq!(family(&families, name)["type"], "gauge", "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "{text}");
        assert!(text.contains(&format!("# TYPE {name} gauge")), "{text}");
    }
    let healthy = samples(&families, "fixer_healthy");
    assert_eq!(healthy.len(), 1, "{healthy:?}");
    assert_eq!(healthy[0]["labels"]["playbook"], "lab-none");
    assert_eq!(healthy[0]["value"], 1.0);
    assert_eq!(samples(&families, "fixer_exit_code")[0]["value"], 0.0);

    let ok = samples(&families, "fixer_check_ok");
    assert_eq!(ok.len(), 5, "the lab's five verify URLs: {ok:#?}");
    assert!(ok.iter().all(|s| s["value"] == 1.0), "{ok:#?}");
    let backend = ok
        .iter()
        .find(|s| s["labels"]["via"] == "")
        .expect("the URL straight to the backend");
    assert!(
        backend["labels"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{backend}"
    );
    // The lab checks http://localhost:P/ twice (401 without the password, 200 with it):
    // every series must still be distinct, or node_exporter drops the metric.
    let distinct: HashSet<String> = ok.iter().map(|s| s["labels"].to_string()).collect();
    assert_eq!(distinct.len(), ok.len(), "{ok:#?}");
    let expects: HashSet<&str> = ok
        .iter()
        .map(|s| s["labels"]["expect"].as_str().unwrap())
        .collect();
    assert_eq!(expects, HashSet::from(["200", "401"]));

    let durations = samples(&families, "fixer_check_duration_seconds");
    assert_eq!(durations.len(), 5);
    for d in &durations {
        let secs = d["value"].as_f64().unwrap();
        assert!((0.0..=after - before).contains(&secs), "{d}");
    }
    let at = samples(&families, "fixer_last_run_timestamp_seconds")[0]["value"]
        .as_f64()
        .unwrap();
    assert!(
        (before - 0.001..=after + 0.001).contains(&at),
        "{at} not in {before}..{after}"
    );
}

#[test]
fn a_down_backend_in_the_textfile_and_the_report_on_stdout() {
    let (dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let metrics_dir = dir.path().join("textfile");
    std::fs::create_dir(&metrics_dir).unwrap();
    let file = metrics_dir.join("fixer.prom");
    std::fs::write(&file, "stale\n").unwrap();
    let stale_inode = std::fs::metadata(&file).unwrap().ino();

    let out = verify(&run, &lab.playbook, &["--textfile", file.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains("fixer verify") && !out.stdout.contains("# TYPE"),
        "the human report stays on stdout:\n{}",
        out.all()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let families = parse(&text);
    assert_eq!(samples(&families, "fixer_healthy")[0]["value"], 0.0);
    assert_eq!(samples(&families, "fixer_exit_code")[0]["value"], 1.0);
    let ok = samples(&families, "fixer_check_ok");
    let backend = ok.iter().find(|s| s["labels"]["via"] == "").unwrap();
    assert_eq!(
        backend["value"], 0.0,
        "nothing listens on the backend: {ok:#?}"
    );

    // Replaced by a rename (a new inode), readable by the collector's user, no temp left.
    let meta = std::fs::metadata(&file).unwrap();
    assert_ne!(
        meta.ino(),
        stale_inode,
        "written in place, not renamed over"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    let names: Vec<String> = std::fs::read_dir(&metrics_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fixer.prom"]);
}

#[test]
fn label_values_are_escaped_in_real_output() {
    let (dir, lab) = lab(Fault::None);
    let run = Run::new();
    let text = std::fs::read_to_string(&lab.playbook).unwrap();
    let weird = text
        .lines()
        .map(|l| {
            if l.starts_with("name = ") {
                r#"name = "a \"quoted\" back\\slash\nnewline""#.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let playbook = dir.path().join("weird.toml");
    std::fs::write(&playbook, weird).unwrap();
    let out = verify(&run, &playbook, &["--format", "prometheus"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains(r#"fixer_healthy{playbook="a \"quoted\" back\\slash\nnewline"} 1"#),
        "{}",
        out.stdout
    );
    let families = parse(&out.stdout);
    assert_eq!(
        samples(&families, "fixer_healthy")[0]["labels"]["playbook"],
        "a \"quoted\" back\\slash\nnewline"
    );
}

#[test]
fn a_textfile_that_cannot_be_written_is_said_and_the_exit_code_stays() {
    let (dir, lab) = lab(Fault::None);
    let run = Run::new();
    let missing = dir.path().join("no-such-dir/fixer.prom");
    let out = verify(
        &run,
        &lab.playbook,
        &["--json", "--textfile", missing.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("textfile") && out.stderr.contains("no-such-dir"),
        "{}",
        out.all()
    );
    serde_json::from_str::<Value>(&out.stdout).expect("--json still prints its document");
}

#[test]
fn format_json_is_the_json_document() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let out = verify(&run, &lab.playbook, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["command"], "verify");
    assert_eq!(doc["healthy"], true);
}

#[test]
fn format_and_json_are_one_choice() {
    let run = Run::new();
    let out = output({
        let mut c = run.fixer("verify");
        c.args(["-p", "login-502", "--json", "--format", "prometheus"]);
        c
    });
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("cannot be used with"), "{}", out.all());
}
