//! The JSON Schema in docs/schema is the one generated from fixer's types, and real `--json`
//! output on a lab validates against it (with the `jsonschema` crate).
//!
//! After changing a document type: `FIXER_WRITE_SCHEMA=1 cargo test --test json_schema`.

mod common;
mod fix_support;

use std::path::PathBuf;

use common::lab;
use fix_support::{output, Output, Run};
use fixer::lab::{Fault, Lab};
use fixer::report::document::schemas;
use serde_json::Value;

fn schema_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(format!("{name}.json"))
}

fn schema(name: &str) -> Value {
    let text = std::fs::read_to_string(schema_path(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn checked_in_schemas_are_the_generated_ones() {
    let write = std::env::var_os("FIXER_WRITE_SCHEMA").is_some();
    for (name, generated) in schemas() {
        let path = schema_path(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} differs from the schema generated from the types; \
             run FIXER_WRITE_SCHEMA=1 cargo test --test json_schema and commit it",
            path.display()
        );
    }
}

/// The document printed on stdout, validated against `docs/schema/{name}.json`.
fn valid(name: &str, out: &Output) -> Value {
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", out.all()));
    let validator = jsonschema::validator_for(&schema(name)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{doc:#}");
    assert_eq!(doc["schema_version"], 1, "{doc:#}");
    doc
}

fn run(run: &Run, lab: &Lab, sub: &str) -> Output {
    let mut cmd = run.fixer(sub);
    cmd.arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1", "--json"]);
    output(cmd)
}

#[test]
fn diagnose_fix_and_verify_output_match_the_schema() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let r = Run::new();
    let diagnosed = valid("diagnose", &run(&r, &lab, "diagnose"));
    assert_eq!(diagnosed["exit_code"], 1, "{diagnosed:#}");
    let holder = common::step(&diagnosed, "port_holder");
    assert_eq!(holder["details"]["state"], "T", "{holder:#}");

    let before = valid("verify", &run(&r, &lab, "verify"));
    assert_eq!(before["healthy"], false, "{before:#}");

    let mut cmd = r.fix(&lab);
    cmd.args(["--yes", "--json"]);
    let fixed = valid("fix", &output(cmd));
    assert_eq!(fixed["verified"], true, "{fixed:#}");
    assert_eq!(fixed["actions"][0]["code"], "resume-holder", "{fixed:#}");

    let after = valid("verify", &run(&r, &lab, "verify"));
    assert_eq!(after["healthy"], true, "{after:#}");
}

#[test]
fn a_restart_and_a_dead_backend_match_the_schema() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let r = Run::new();
    let diagnosed = valid("diagnose", &run(&r, &lab, "diagnose"));
    assert_eq!(
        diagnosed["root_cause_code"], "backend-not-listening",
        "{diagnosed:#}"
    );
    let mut cmd = r.fix(&lab);
    cmd.args(["--yes", "--json"]);
    let fixed = valid("fix", &output(cmd));
    assert_eq!(fixed["verified"], true, "{fixed:#}");
}
