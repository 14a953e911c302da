//! The result of one chain step: a verdict, the evidence behind it, and maybe a finding.

use std::time::Instant;

use serde::Serialize;

use crate::finding::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Skip,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Skip => "skip",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// The chain's steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Dns,
    Nginx,
    Upstream,
    ErrorLog,
    BackendPort,
    PortHolder,
    Recurl,
}

impl StepName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Dns => "dns",
            StepName::Nginx => "nginx",
            StepName::Upstream => "upstream",
            StepName::ErrorLog => "error_log",
            StepName::BackendPort => "backend_port",
            StepName::PortHolder => "port_holder",
            StepName::Recurl => "recurl",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: StepName,
    pub verdict: Verdict,
    /// One line saying what was seen, for the step's headline.
    pub summary: String,
    pub evidence: Vec<String>,
    pub finding: Option<Finding>,
    pub details: serde_json::Value,
    /// Set when the check itself could not run (as opposed to finding a problem).
    pub error: Option<String>,
    /// When the step started, local time, RFC 3339.
    pub started_at: String,
    pub elapsed_ms: u64,
}

/// Collects a step's evidence while the check runs, then seals it with a verdict.
pub struct Recorder {
    name: StepName,
    started: Instant,
    started_at: String,
    evidence: Vec<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Recorder {
    pub fn start(name: StepName) -> Self {
        Recorder {
            name,
            started: Instant::now(),
            started_at: crate::clock::now_rfc3339(),
            evidence: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    /// Records one line of evidence: what was looked at and what was seen.
    pub fn see(&mut self, line: impl Into<String>) {
        self.evidence.push(line.into());
    }

    pub fn detail(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.details.insert(key.to_string(), value);
    }

    pub fn ok(self, summary: impl Into<String>) -> StepResult {
        self.seal(Verdict::Ok, summary.into(), None, None)
    }

    pub fn skip(self, reason: impl Into<String>) -> StepResult {
        self.seal(Verdict::Skip, reason.into(), None, None)
    }

    pub fn warn(self, summary: impl Into<String>, finding: Option<Finding>) -> StepResult {
        self.seal(Verdict::Warn, summary.into(), finding, None)
    }

    pub fn fail(self, finding: Finding) -> StepResult {
        let summary = finding.cause.clone();
        self.seal(Verdict::Fail, summary, Some(finding), None)
    }

    /// The check could not run at all (e.g. permission denied reading /proc).
    pub fn could_not_run(self, error: &anyhow::Error) -> StepResult {
        let msg = format!("{error:#}");
        self.seal(
            Verdict::Skip,
            format!("could not run: {msg}"),
            None,
            Some(msg),
        )
    }

    fn seal(
        self,
        verdict: Verdict,
        summary: String,
        finding: Option<Finding>,
        error: Option<String>,
    ) -> StepResult {
        StepResult {
            name: self.name,
            verdict,
            summary,
            evidence: self.evidence,
            finding,
            details: serde_json::Value::Object(self.details),
            error,
            started_at: self.started_at,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}
