//! The result of one chain step: a verdict, the evidence behind it, and maybe a finding.

use std::time::Instant;

use serde::Serialize;

use crate::finding::Finding;

pub mod details;
pub use details::StepDetails;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Dns,
    Nginx,
    Upstream,
    ErrorLog,
    BackendPort,
    PortHolder,
    Recurl,
    Tls,
    Auth,
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
            StepName::Tls => "tls",
            StepName::Auth => "auth",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StepResult {
    pub name: StepName,
    pub verdict: Verdict,
    /// One line saying what was seen, for the step's headline.
    pub summary: String,
    pub evidence: Vec<String>,
    pub finding: Option<Finding>,
    pub details: StepDetails,
    /// Set when the check itself could not run (as opposed to finding a problem).
    pub error: Option<String>,
    /// When the step started, local time, RFC 3339.
    pub started_at: String,
    pub elapsed_ms: u64,
}

/// A step that could not run at all, with no check behind it (its details are empty).
pub fn could_not_run(name: StepName, error: &anyhow::Error) -> StepResult {
    Recorder::<details::NoDetails>::start(name).could_not_run(error)
}

/// Collects a step's evidence and its typed details while the check runs, then seals them
/// with a verdict.
pub struct Recorder<D> {
    name: StepName,
    started: Instant,
    started_at: String,
    evidence: Vec<String>,
    /// What the step found, filled in as the check goes.
    pub details: D,
}

/// When a step's work began, for a step whose requests are sent before its verdict is
/// written (recurl and tls ask while `nginx -T` runs): its time then covers them.
#[derive(Debug, Clone)]
pub struct Began {
    instant: Instant,
    at: String,
}

impl Began {
    pub fn now() -> Self {
        Began {
            instant: Instant::now(),
            at: crate::clock::now_rfc3339(),
        }
    }
}

impl<D: Default + Into<StepDetails>> Recorder<D> {
    pub fn start(name: StepName) -> Self {
        Self::began(name, Began::now())
    }

    pub fn began(name: StepName, began: Began) -> Self {
        Recorder {
            name,
            started: began.instant,
            started_at: began.at,
            evidence: Vec::new(),
            details: D::default(),
        }
    }

    /// Records one line of evidence: what was looked at and what was seen.
    pub fn see(&mut self, line: impl Into<String>) {
        self.evidence.push(line.into());
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
            details: self.details.into(),
            error,
            started_at: self.started_at,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}
