//! One round of `fixer watch`: verify; when that fails, walk the read-only chain for the root
//! cause, and with `--fix` repair what the playbook allows — unless the flap limit is reached.

use std::time::Duration;

use crate::chain::{self, Diagnosis, Progress, Quiet};
use crate::consent::{Consent, Mode};
use crate::exit_code::ExitCode;
use crate::finding::Finding;
use crate::fix::{FixReport, Options};
use crate::step::{StepResult, Verdict};
use crate::target::Target;

use super::memory::Memory;

/// How long an unattended fix keeps re-checking (past nginx's fail_timeout), and how long a
/// stopped holder is given after SIGTERM: the same defaults as `fixer fix`.
const FIX_WAIT: Duration = Duration::from_secs(30);
const FIX_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
    /// A check could not run: nothing is known about the site.
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
        }
    }
}

pub struct Round {
    pub health: Health,
    pub exit: ExitCode,
    /// The last verification: the one after a fix, if one was made.
    pub verification: Option<StepResult>,
    pub root_cause: Option<Finding>,
    /// Why the site could not be checked (health unknown).
    pub error: Option<String>,
    /// What fixing did, e.g. `restart-backend (done)`.
    pub actions: Vec<String>,
    /// Whether any action changed the system (it counts against the flap limit).
    pub fixed_something: bool,
    /// What the fix loop said (refusals, "not in auto_fix", …).
    pub notes: Vec<String>,
    /// Fixing was due but stopped by the flap limit.
    pub gave_up: bool,
}

pub struct Settings<'a> {
    pub fix: bool,
    pub audit: &'a std::path::Path,
}

pub fn run(target: &Target, settings: &Settings, memory: &mut Memory) -> Round {
    let resolved = crate::check::upstream::resolve_protocol(target);
    let step = crate::check::recurl::run(&resolved);
    let mut round = Round {
        health: Health::Healthy,
        exit: ExitCode::Healthy,
        verification: None,
        root_cause: None,
        error: None,
        actions: Vec::new(),
        fixed_something: false,
        notes: Vec::new(),
        gave_up: false,
    };
    if let Some(e) = &step.error {
        round.health = Health::Unknown;
        round.exit = ExitCode::CheckFailed;
        round.error = Some(e.clone());
        round.verification = Some(step);
        return round;
    }
    if step.verdict != Verdict::Fail {
        round.verification = Some(step);
        return round;
    }
    round.health = Health::Unhealthy;
    round.exit = ExitCode::Problem;
    round.verification = Some(step);
    if settings.fix {
        fix(target, settings, memory, &mut round);
    } else {
        let d = chain::diagnose(target, &mut Quiet);
        round.root_cause = d.root_cause().cloned();
    }
    round
}

fn fix(target: &Target, settings: &Settings, memory: &mut Memory, round: &mut Round) {
    let policy = &target.watch;
    let diagnose_only = |round: &mut Round| {
        round.root_cause = chain::diagnose(target, &mut Quiet).root_cause().cloned();
    };
    if policy.auto_fix.is_empty() {
        round.notes.push(
            "Not fixing: the playbook's [watch] auto_fix allows no action (docs/watch.md)".into(),
        );
        return diagnose_only(round);
    }
    let made = memory.fixes_within(policy.window, crate::clock::now_unix());
    if made >= policy.max_fixes as usize {
        round.gave_up = true;
        return diagnose_only(round);
    }
    let _lock = match crate::lock::acquire(target) {
        Ok(l) => l,
        Err(e) => {
            round.notes.push(format!("Not fixing this round: {e}"));
            return diagnose_only(round);
        }
    };
    let opts = Options {
        consent: Consent {
            mode: Mode::Auto,
            force_foreign: false,
        },
        wait: FIX_WAIT,
        grace: FIX_GRACE,
        audit: crate::audit::AuditLog::new(Some(settings.audit.to_path_buf())),
        core: None,
        allowed: Some(policy.auto_fix.clone()),
    };
    let mut out = Collect {
        quiet: Quiet,
        notes: Vec::new(),
    };
    let run = crate::fix::fix(target, &opts, &mut out);
    round.notes = out.notes;
    round.root_cause = run.first.root_cause().cloned();
    round.actions = crate::aftermath::done(&run.actions);
    round.fixed_something = !round.actions.is_empty();
    if round.fixed_something {
        memory.fixes.push(crate::clock::now_unix());
    }
    if run.verification.is_some() {
        round.verification = run.verification.clone();
    }
    if run.verified && run.exit == ExitCode::Healthy {
        round.health = Health::Healthy;
        round.exit = ExitCode::Healthy;
    } else if run.exit == ExitCode::CheckFailed {
        round.health = Health::Unknown;
        round.exit = ExitCode::CheckFailed;
    }
}

/// The fix loop's words, kept for the round's report and notification instead of printed as
/// they come: nobody is watching a timer's run live.
struct Collect {
    quiet: Quiet,
    notes: Vec<String>,
}

impl FixReport for Collect {
    fn round(&mut self, _: usize) {}
    fn progress(&mut self) -> &mut dyn Progress {
        &mut self.quiet
    }
    fn diagnosis_done(&mut self, _: &Diagnosis) {}
    fn message(&mut self, msg: &str) {
        self.notes.push(msg.to_string());
    }
    fn plan(&mut self, _: &crate::action::Plan) {}
    fn action_line(&mut self, line: &str) {
        self.notes.push(format!("  {line}"));
    }
    fn verifying(&mut self, _: Duration) {}
    fn verify_attempt(&mut self, _: usize, _: &StepResult, _: bool) {}
    fn verifying_done(&mut self) {}
    fn verified(&mut self, _: &StepResult, _: bool) {}
    fn verified_locally(&mut self, _: &StepResult) {}
    fn manual(&mut self, items: &[crate::plan::Manual]) {
        for m in items {
            self.notes
                .push(format!("Left to you: {} [{}]", m.change, m.code));
        }
    }
}
