//! The `--json` documents: the one place typed results become JSON. Their keys are a
//! contract with users' scripts: add, never rename (see `document.rs`).

use serde::Serialize;

use super::document::{CouldNotRun, DiagnoseDoc, FixDoc, PlaybookRef, VerifyDoc, SCHEMA_VERSION};
use crate::chain::{Diagnosis, Outcome};
use crate::exit_code::ExitCode;
use crate::step::StepResult;
use crate::target::Target;

pub(crate) fn playbook(target: &Target) -> PlaybookRef {
    PlaybookRef {
        name: target.name.clone(),
        source: target.source.clone(),
    }
}

pub fn diagnosis(command: &str, target: &Target, d: &Diagnosis) -> DiagnoseDoc {
    let root = d.root_cause();
    DiagnoseDoc {
        schema_version: SCHEMA_VERSION,
        fixer_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command.to_string(),
        playbook: playbook(target),
        started_at: d.started_at.clone(),
        elapsed_ms: d.elapsed_ms,
        healthy: d.healthy(),
        outcome: d.outcome(),
        could_not_run: d
            .could_not_run()
            .iter()
            .map(|s| CouldNotRun {
                step: s.name,
                error: s.error.clone(),
            })
            .collect(),
        root_cause: root.map(|f| f.cause.clone()),
        root_cause_code: root.map(|f| f.code),
        exit_code: d.exit_code().code(),
        steps: d.steps.clone(),
    }
}

/// Prints a document with its keys sorted, as every fixer release has.
pub fn print(doc: &impl Serialize) {
    let text = serde_json::to_value(doc)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| "{}".into());
    outln!("{text}");
}

pub fn fix(target: &Target, run: &crate::fix::FixRun) -> FixDoc {
    let mut diagnosis = diagnosis("fix", target, &run.first);
    diagnosis.exit_code = run.exit.code();
    if run.verified {
        diagnosis.outcome = Outcome::Healthy;
    }
    FixDoc {
        diagnosis,
        actions: run.actions.clone(),
        verification: run.verification.clone(),
        verified: run.verified,
        manual: run.manual.clone(),
    }
}

pub fn verify(target: &Target, steps: &[StepResult], code: ExitCode) -> VerifyDoc {
    VerifyDoc {
        schema_version: SCHEMA_VERSION,
        fixer_version: env!("CARGO_PKG_VERSION").to_string(),
        command: "verify".to_string(),
        playbook: playbook(target),
        healthy: code == ExitCode::Healthy,
        outcome: match code {
            ExitCode::Healthy => Outcome::Healthy,
            ExitCode::CheckFailed => Outcome::Incomplete,
            _ => Outcome::Problem,
        },
        exit_code: code.code(),
        steps: steps.to_vec(),
    }
}
