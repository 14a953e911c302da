//! `fixer harden`: prevention after the outage. Gathers what would keep the next one short
//! (`check::harden`), shows each finding with the text that fixes it, and with `--apply`
//! writes the systemd part (`action::harden`) after consent, audited like every action. Exit
//! 0 when nothing is left to harden, 1 when something is, 4 declined, 5 the change failed.

pub use crate::cli::HardenArgs;

use std::time::Instant;

use serde_json::json;

use crate::action::harden::Record;
use crate::action::{self, ActionCode, Outcome};
use crate::audit::AuditLog;
use crate::check::harden::{self, Change, Hardening};
use crate::consent::{Answer, Approval, Consent};
use crate::exit_code::ExitCode;
use crate::report::{self, harden::Out, Style};
use crate::target::Target;

pub fn run(args: HardenArgs, color: crate::report::ColorWhen) -> ExitCode {
    let json = args.target.json;
    let mut target_args = args.target.clone();
    if target_args.playbook.is_none() {
        target_args.playbook = args.name.clone();
    }
    if target_args.report.is_some() {
        report::error(&anyhow::anyhow!(
            "--report is for diagnose and fix; harden's --json holds everything it found"
        ));
        return ExitCode::Usage;
    }
    let target = match crate::config::resolve(&target_args) {
        Ok(t) => t,
        Err(e) => {
            report::error(&e.into());
            return ExitCode::Usage;
        }
    };
    let mut out = Out::new(Style::detect(color, json));
    let before = harden::gather(&target);
    out.findings(&target, &before);
    let (record, after, code) = act(&target, &args, &before, &mut out);
    out.finish(&target, &before, record.as_ref(), after.as_ref(), code);
    code
}

/// Applies the change when asked to and there is one; the exit code says what is left.
fn act(
    target: &Target,
    args: &HardenArgs,
    before: &Hardening,
    out: &mut Out,
) -> (Option<Record>, Option<Hardening>, ExitCode) {
    let left = |h: &Hardening| match (h.items.is_empty(), h.errors.is_empty()) {
        (true, true) => ExitCode::Healthy,
        (true, false) => ExitCode::CheckFailed,
        (false, _) => ExitCode::Problem,
    };
    let Some(change) = before
        .change
        .as_ref()
        .filter(|_| args.apply || args.dry_run)
    else {
        out.hint(before, args.apply);
        return (None, None, left(before));
    };
    // A unit change while a `fixer fix` of the same backend restarts it would race: the same
    // locks as fix. A dry run changes nothing and needs none.
    let _lock = if args.dry_run {
        None
    } else {
        match crate::lock::acquire(target) {
            Ok(l) => Some(l),
            Err(e) => {
                report::error(&e.into());
                return (None, None, ExitCode::CheckFailed);
            }
        }
    };
    let consent = Consent::from_flags(args.yes, args.dry_run, false);
    let audit = AuditLog::new(args.audit_log.clone());
    let record = apply_one(target, change, &consent, &audit, out);
    let code = match record.result {
        Outcome::Done => None,
        Outcome::Planned => Some(left(before)),
        Outcome::Declined => Some(ExitCode::Declined),
        _ => Some(ExitCode::ActionFailed),
    };
    if let Some(code) = code {
        return (Some(record), None, code);
    }
    let after = harden::gather(target);
    out.after(&after);
    let code = left(&after);
    (Some(record), Some(after), code)
}

fn apply_one(
    target: &Target,
    change: &Change,
    consent: &Consent,
    audit: &AuditLog,
    out: &mut Out,
) -> Record {
    let lines = action::harden::plan_lines(change);
    out.plan(&lines);
    let t0 = Instant::now();
    let started_at = crate::clock::now_rfc3339();
    let record = |consent, result, evidence| Record {
        code: ActionCode::HardenUnit,
        target: action::harden::target(change),
        plan: lines.clone(),
        consent,
        result,
        evidence,
        started_at: started_at.clone(),
        elapsed_ms: t0.elapsed().as_millis() as u64,
    };
    let end = |result: &str, approval: Approval, evidence: &[String]| {
        let _ = audit.record(
            &target.name,
            "end",
            json!({"action": ActionCode::HardenUnit, "target": action::harden::target(change),
                   "consent": approval, "result": result, "evidence": evidence}),
        );
    };
    let approval = match consent.ask(&action::harden::question(change), false) {
        Answer::Approved(a) => a,
        Answer::PlanOnly => {
            out.message("Dry run: nothing was changed.");
            return record(Approval::None, Outcome::Planned, Vec::new());
        }
        Answer::Refused => {
            let why = "Refused: --apply needs consent and there is no terminal to ask on; re-run with --yes (or --dry-run to see the plan).";
            out.message(why);
            end("refused", Approval::None, &[]);
            return record(Approval::None, Outcome::Declined, vec![why.into()]);
        }
        // Declined at the prompt (or interrupted while asking).
        _ => {
            out.message("Declined: nothing was changed.");
            end("declined", Approval::Prompt, &[]);
            return record(Approval::Prompt, Outcome::Declined, Vec::new());
        }
    };
    let started = audit.record(
        &target.name,
        "start",
        json!({"action": ActionCode::HardenUnit, "target": action::harden::target(change),
               "plan": lines, "consent": approval}),
    );
    if let Err(e) = started {
        let why = format!("not acting: the audit log cannot be written ({e:#})");
        out.message(&why);
        return record(approval, Outcome::Aborted, vec![why]);
    }
    let applied = action::harden::apply(change, &mut |line| out.action_line(line));
    let word = if applied.outcome == Outcome::Done {
        "done"
    } else {
        "failed"
    };
    end(word, approval, &applied.evidence);
    record(approval, applied.outcome, applied.evidence)
}
