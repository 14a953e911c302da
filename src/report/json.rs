//! The `--json` document. Its keys are a contract with users' scripts: add, never rename.

use serde_json::{json, Value};

use crate::chain::Diagnosis;
use crate::target::Target;

pub fn diagnosis(command: &str, target: &Target, d: &Diagnosis) -> Value {
    let root = d.root_cause();
    json!({
        "fixer_version": env!("CARGO_PKG_VERSION"),
        "command": command,
        "playbook": {"name": target.name, "source": target.source},
        "started_at": d.started_at,
        "elapsed_ms": d.elapsed_ms,
        "healthy": d.healthy(),
        "root_cause": root.map(|f| f.cause.clone()),
        "root_cause_code": root.map(|f| f.code.as_str()),
        "exit_code": d.exit_code().code(),
        "steps": d.steps,
    })
}

pub fn print(doc: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".into())
    );
}
