//! The `--json` documents as types. Their keys are a contract with users' scripts: add, never
//! rename. `docs/schema/*.json` is generated from these types (a test keeps them in step).

use schemars::JsonSchema;
use serde::Serialize;

use crate::action::Record;
use crate::chain::Outcome;
use crate::discover::survey::Row;
use crate::finding::FindingCode;
use crate::plan::Manual;
use crate::step::{StepName, StepResult};

pub use crate::SCHEMA_VERSION;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlaybookRef {
    pub name: String,
    /// Where the playbook was read from (a path, or `built-in`).
    pub source: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CouldNotRun {
    pub step: StepName,
    pub error: Option<String>,
}

/// `fixer diagnose --json`, and the first part of `fixer fix --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiagnoseDoc {
    pub schema_version: u32,
    pub fixer_version: String,
    pub command: String,
    pub playbook: PlaybookRef,
    pub started_at: String,
    pub elapsed_ms: u64,
    pub healthy: bool,
    pub outcome: Outcome,
    /// Steps whose check could not run at all (e.g. permission denied).
    pub could_not_run: Vec<CouldNotRun>,
    pub root_cause: Option<String>,
    pub root_cause_code: Option<FindingCode>,
    pub exit_code: i32,
    pub steps: Vec<StepResult>,
}

/// `fixer fix --json`: the first diagnosis, then what was done and the verification after it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FixDoc {
    #[serde(flatten)]
    pub diagnosis: DiagnoseDoc,
    pub actions: Vec<Record>,
    pub verification: Option<StepResult>,
    pub verified: bool,
    /// What fixer cannot change and the operator must (DNS records, configs).
    pub manual: Vec<Manual>,
}

/// `fixer verify --json`: the recurl step alone.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerifyDoc {
    pub schema_version: u32,
    pub fixer_version: String,
    pub command: String,
    pub playbook: PlaybookRef,
    pub healthy: bool,
    /// `healthy`, `problem` or `incomplete`.
    pub outcome: Outcome,
    pub exit_code: i32,
    pub steps: Vec<StepResult>,
}

/// `fixer diagnose|verify|fix --json` with no playbook: every backend nginx's config reaches.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurveyDoc {
    pub schema_version: u32,
    pub fixer_version: String,
    pub command: String,
    /// Always `null`: no playbook was given.
    pub playbook: Option<PlaybookRef>,
    pub discovered: bool,
    pub nginx: Vec<SurveyNginx>,
    pub unread: Vec<SurveyUnread>,
    pub elapsed_ms: u64,
    pub healthy: bool,
    pub exit_code: i32,
    pub rows: Vec<SurveyRow>,
    pub backends: Vec<SurveyBackend>,
    /// `fix` only: one entry per broken backend, a fix document or why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixes: Option<Vec<SurveyFix>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurveyNginx {
    pub master_pid: Option<i32>,
    pub config: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurveyUnread {
    pub nginx: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurveyRow {
    #[serde(flatten)]
    pub row: Row,
    pub verdict: String,
    pub broken: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SurveyBackend {
    pub name: String,
    pub address: Option<String>,
    pub nginx_ports: Vec<u16>,
    pub healthy: bool,
    pub root_cause: Option<String>,
    pub root_cause_code: Option<FindingCode>,
    pub steps: Vec<StepResult>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SurveyFix {
    Fixed(Box<FixDoc>),
    /// A backend nginx reaches in a protocol fixer does not probe over plain HTTP.
    Skipped {
        name: String,
        skipped: String,
    },
}

/// Each document's JSON Schema, named as in `docs/schema/NAME.json`.
pub fn schemas() -> Vec<(&'static str, String)> {
    fn one<T: JsonSchema>() -> String {
        let schema = schemars::schema_for!(T);
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
    vec![
        ("diagnose", one::<DiagnoseDoc>()),
        ("fix", one::<FixDoc>()),
        ("verify", one::<VerifyDoc>()),
        ("survey", one::<SurveyDoc>()),
    ]
}
