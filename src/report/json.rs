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
        "outcome": d.outcome(),
        "could_not_run": d.could_not_run().iter().map(|s| json!({"step": s.name, "error": s.error})).collect::<Vec<_>>(),
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

pub fn fix(target: &Target, run: &crate::fix::FixRun) -> Value {
    let mut doc = diagnosis("fix", target, &run.first);
    doc["actions"] = json!(run.actions);
    doc["verification"] = json!(run.verification);
    doc["verified"] = json!(run.verified);
    doc["manual"] = json!(run.manual);
    doc["exit_code"] = json!(run.exit.code());
    if run.verified {
        doc["outcome"] = json!(crate::chain::Outcome::Healthy);
    }
    doc
}

pub fn verify(
    target: &Target,
    step: &crate::step::StepResult,
    code: crate::exit_code::ExitCode,
) -> Value {
    json!({
        "fixer_version": env!("CARGO_PKG_VERSION"),
        "command": "verify",
        "playbook": {"name": target.name, "source": target.source},
        "healthy": code == crate::exit_code::ExitCode::Healthy,
        "outcome": match code {
            crate::exit_code::ExitCode::Healthy => "healthy",
            crate::exit_code::ExitCode::CheckFailed => "incomplete",
            _ => "problem",
        },
        "exit_code": code.code(),
        "steps": [step],
    })
}
