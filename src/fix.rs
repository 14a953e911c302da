//! `fixer fix`: diagnose, propose, ask, act, and re-check until healthy — at most a few
//! rounds, each bounded in time.

use std::time::{Duration, Instant};

use crate::action::{self, Ctx, Outcome, Record};
use crate::aftermath;
use crate::audit::AuditLog;
use crate::chain::{self, Diagnosis};
use crate::consent::{Answer, Approval, Consent, Mode};
use crate::exit_code::ExitCode;
use crate::plan::{self, Manual};
use crate::step::StepResult;
use crate::target::Target;

mod progress;
mod verify;
pub use progress::FixReport;
use verify::verify_poll;

/// Rounds of diagnose → act → verify. Three covers a resumed holder that still does not answer
/// (then kill and restart) and a second fault uncovered by a fix (nginx down *and* backend
/// down); more would be a loop.
const MAX_ROUNDS: usize = 3;

pub struct Options {
    pub consent: Consent,
    pub wait: Duration,
    pub grace: Duration,
    pub audit: AuditLog,
    /// `--core DIR`: core files of a holder before it is killed.
    pub core: Option<std::path::PathBuf>,
    /// `fixer watch --fix`: only these actions (the playbook's `[watch] auto_fix`); any other
    /// is refused, as is every action on a process that is not the backend. None: all.
    pub allowed: Option<Vec<String>>,
}

/// Everything `fix` did, for the JSON document.
pub struct FixRun {
    pub first: Diagnosis,
    pub actions: Vec<Record>,
    pub verification: Option<StepResult>,
    pub verified: bool,
    /// What fixer cannot change and the operator must (DNS records, configs).
    pub manual: Vec<Manual>,
    pub exit: ExitCode,
}

pub fn fix(target: &Target, opts: &Options, out: &mut dyn FixReport) -> FixRun {
    if let Err(e) = crate::sys::interrupt::catch() {
        out.message(&format!(
            "Note: Ctrl-C cannot be caught ({e:#}); it would stop fixer at once."
        ));
    }
    let mut actions = Vec::new();
    let mut started = Vec::new();
    let mut first = None;
    for round in 0..MAX_ROUNDS {
        out.round(round);
        let d = chain::diagnose(target, out.progress());
        out.diagnosis_done(&d);
        let first_d = first.get_or_insert_with(|| d.clone()).clone();
        let proposal = plan::propose(&d, target);
        let manual = proposal.manual;
        let finish = |actions, verification: Option<StepResult>, verified, exit| FixRun {
            first: first_d.clone(),
            actions,
            verification,
            verified,
            manual: manual.clone(),
            exit,
        };
        if action::interrupted() {
            let exit = stopped(target, &actions, &mut started, out);
            return finish(actions, None, false, exit);
        }
        if d.healthy() && round == 0 {
            out.message("Nothing to fix: every check passed.");
            let v = d.step(crate::step::StepName::Recurl).cloned();
            return finish(actions, v, true, d.exit_code());
        }
        if d.outcome() == chain::Outcome::Incomplete && round == 0 {
            out.message(&format!(
                "Incomplete: nothing was changed; health is not proven because a check could not run: {}.",
                d.incomplete_reason()
            ));
            return finish(actions, None, false, ExitCode::CheckFailed);
        }
        let plans = proposal.plans;
        if plans.is_empty() && !manual.is_empty() {
            out.manual(&manual);
            return finish(actions, None, false, ExitCode::Problem);
        }
        let mut resumed_only = !plans.is_empty();
        for p in &plans {
            if action::interrupted() {
                let exit = stopped(target, &actions, &mut started, out);
                return finish(actions, None, false, exit);
            }
            resumed_only &= p.code == action::ActionCode::ResumeHolder;
            let record = run_one(target, p, opts, out, &mut started);
            let outcome = record.result;
            actions.push(record);
            match outcome {
                Outcome::Done => {}
                Outcome::Planned => continue,
                Outcome::Declined => {
                    declined(target, &actions, &mut started, out);
                    return finish(actions, None, false, ExitCode::Declined);
                }
                Outcome::Interrupted => {
                    let exit = stopped(target, &actions, &mut started, out);
                    return finish(actions, None, false, exit);
                }
                Outcome::Aborted | Outcome::Failed => {
                    return finish(actions, None, false, ExitCode::ActionFailed)
                }
            }
        }
        if opts.consent.mode == Mode::DryRun {
            out.message("Dry run: nothing was changed.");
            out.manual(&manual);
            return finish(actions, None, false, ExitCode::Problem);
        }
        // A resumed process answers at once or not at all; don't spend the whole wait on it.
        let wait = if resumed_only {
            (target.timeout * 2 + Duration::from_secs(1)).min(opts.wait)
        } else {
            opts.wait
        };
        let resolved = target.with_config_protocol(d.backend_protocol);
        let (verification, healthy, died) = verify_poll(&resolved, wait, &mut started, out);
        if healthy {
            if actions.iter().any(started_without_supervisor) {
                out.message(UNSUPERVISED);
            }
            if !manual.is_empty() {
                // Fixed here and verified locally; users still reach the wrong place.
                out.verified_locally(&verification);
                out.manual(&manual);
                return finish(actions, Some(verification), true, ExitCode::Problem);
            }
            out.verified(&verification, true);
            return finish(actions, Some(verification), true, ExitCode::Healthy);
        }
        if action::interrupted() {
            let exit = stopped(target, &actions, &mut started, out);
            return finish(actions, Some(verification), false, exit);
        }
        if let Some(why) = died {
            out.verified(&verification, false);
            out.message(&why);
            return finish(actions, Some(verification), false, ExitCode::ActionFailed);
        }
        if plans.is_empty() || round + 1 == MAX_ROUNDS {
            out.verified(&verification, false);
            out.manual(&manual);
            return finish(actions, Some(verification), false, ExitCode::Problem);
        }
        out.message("Still unhealthy: walking the chain again.");
    }
    unreachable!("the loop returns on its last round")
}

/// Ctrl-C or SIGTERM: fixer stopped at a safe point; say what was done and what is left.
fn stopped(
    target: &Target,
    actions: &[Record],
    started: &mut [action::Started],
    out: &mut dyn FixReport,
) -> ExitCode {
    let signal = crate::sys::interrupt::caught().unwrap_or("a signal");
    out.message(&format!(
        "Interrupted by {signal}: stopped at a safe point."
    ));
    closing(target, actions, started, out);
    ExitCode::Interrupted
}

/// The operator said no (or could not be asked: the refusal was said already). Nothing
/// changed only if nothing was done before this question.
fn declined(
    target: &Target,
    actions: &[Record],
    started: &mut [action::Started],
    out: &mut dyn FixReport,
) {
    let refused = actions.last().is_some_and(|r| r.consent == Approval::None);
    match (aftermath::done(actions).is_empty(), refused) {
        (true, true) => {}
        (true, false) => out.message("Declined: nothing was changed."),
        (false, _) => {
            if !refused {
                out.message("Declined: stopped here.");
            }
            closing(target, actions, started, out);
        }
    }
}

fn closing(
    target: &Target,
    actions: &[Record],
    started: &mut [action::Started],
    out: &mut dyn FixReport,
) {
    let done = aftermath::done(actions);
    out.message(&format!(
        "Done: {}.",
        if done.is_empty() {
            "nothing".to_string()
        } else {
            done.join(", ")
        }
    ));
    out.message(&format!(
        "Left: {}.",
        aftermath::state(actions, started, target)
    ));
}

/// Said after a backend was started by its command: the outage can come back, as it did in the
/// Flask incident, until something restarts the backend when it dies.
const UNSUPERVISED: &str = "Note: the backend was started by fixer, not by a supervisor: if it dies again, nothing restarts it. \
    Run it under systemd with Restart=always and put `fixer verify` in cron (docs/fix.md shows a unit).";

fn started_without_supervisor(r: &Record) -> bool {
    r.code == action::ActionCode::RestartBackend
        && r.result == Outcome::Done
        && matches!(r.target, action::target::ActionTarget::RestartCommand(_))
}

fn run_one(
    target: &Target,
    p: &action::Plan,
    opts: &Options,
    out: &mut dyn FixReport,
    started: &mut Vec<action::Started>,
) -> Record {
    out.plan(p);
    let t0 = Instant::now();
    let started_at = crate::clock::now_rfc3339();
    let record = |consent, result, evidence| Record {
        started_at: started_at.clone(),
        code: p.code,
        target: p.target.clone(),
        plan: p.lines.clone(),
        consent,
        result,
        evidence,
        elapsed_ms: t0.elapsed().as_millis() as u64,
        signalled: Vec::new(),
    };
    if let Some(why) = not_allowed(opts, p) {
        out.message(&why);
        audit(opts, target, p, "not-allowed", Approval::None, &[]);
        return record(Approval::None, Outcome::Declined, vec![why]);
    }
    let approval = match opts.consent.ask(&p.question, p.foreign) {
        Answer::Approved(a) => a,
        Answer::PlanOnly => return record(Approval::None, Outcome::Planned, Vec::new()),
        Answer::Declined => {
            audit(opts, target, p, "declined", Approval::Prompt, &[]);
            return record(Approval::Prompt, Outcome::Declined, Vec::new());
        }
        Answer::Interrupted => {
            audit(opts, target, p, "interrupted", Approval::None, &[]);
            return record(Approval::None, Outcome::Interrupted, Vec::new());
        }
        Answer::Refused => {
            out.message(&refusal(p));
            audit(opts, target, p, "refused", Approval::None, &[]);
            return record(Approval::None, Outcome::Declined, vec![refusal(p)]);
        }
    };
    if let Err(e) = audit_start(opts, target, p, approval) {
        let why = format!("not acting: the audit log cannot be written ({e:#})");
        out.message(&why);
        return record(approval, Outcome::Aborted, vec![why]);
    }
    let mut say = |line: &str| out.action_line(line);
    let mut ctx = Ctx {
        consent: &opts.consent,
        grace: opts.grace,
        timeout: target.timeout,
        listen_wait: opts.wait,
        say: &mut say,
        started: Vec::new(),
        core: opts.core.as_deref(),
    };
    let applied = action::apply(p, &mut ctx);
    started.append(&mut ctx.started);
    // An action cut short by a signal stopped at its own safe point, whatever it concluded.
    let result = match applied.outcome {
        Outcome::Done => Outcome::Done,
        _ if action::interrupted() => Outcome::Interrupted,
        other => other,
    };
    audit(
        opts,
        target,
        p,
        aftermath::outcome_word(result),
        approval,
        &applied.evidence,
    );
    Record {
        signalled: applied.signalled,
        ..record(approval, result, applied.evidence)
    }
}

/// Why `fixer watch --fix` leaves this action to a person, if it does.
fn not_allowed(opts: &Options, p: &action::Plan) -> Option<String> {
    let allowed = opts.allowed.as_ref()?;
    if p.foreign {
        return Some(format!(
            "Not fixing unattended: {} touches a process that is not the backend; that needs a person (fixer fix).",
            p.code.as_str()
        ));
    }
    (!allowed.iter().any(|a| a == p.code.as_str())).then(|| {
        format!(
            "Not fixing unattended: {} is not in the playbook's [watch] auto_fix.",
            p.code.as_str()
        )
    })
}

fn refusal(p: &action::Plan) -> String {
    if p.foreign {
        format!("Refused: {} touches a process that is not the backend; confirm at a terminal, or add --force-foreign to --yes.", p.code.as_str())
    } else {
        format!("Refused: {} needs consent and there is no terminal to ask on; re-run with --yes (or --dry-run to see the plan).", p.code.as_str())
    }
}

fn audit_start(
    opts: &Options,
    target: &Target,
    p: &action::Plan,
    approval: Approval,
) -> anyhow::Result<()> {
    opts.audit.record(
        &target.name,
        "start",
        serde_json::json!({"action": p.code, "target": p.target, "plan": p.lines, "consent": approval}),
    )
}

/// Best effort: the start line was written, or there is nothing to record beyond the refusal.
fn audit(
    opts: &Options,
    target: &Target,
    p: &action::Plan,
    result: &str,
    approval: Approval,
    evidence: &[String],
) {
    let _ = opts.audit.record(
        &target.name,
        "end",
        serde_json::json!({"action": p.code, "target": p.target, "consent": approval, "result": result, "evidence": evidence}),
    );
}
