//! `fixer watch`, driven: the flags turned into a watch, its rounds run and reported, and
//! `--install` / `--uninstall` asked for and carried out. The watch itself (`crate::watch`)
//! decides and acts; this is where it meets the operator and the report.

use std::time::Duration;

use serde_json::json;

use crate::cli::{TargetArgs, WatchArgs};
use crate::consent::{Answer, Consent};
use crate::exit_code::ExitCode;
use crate::notify;
use crate::report::{self, watch as out, watch::Out};
use crate::target::Target;
use crate::watch::{self, event, memory, round, view::Plan, Setup};

/// How often a sleeping watch looks whether it was asked to stop.
const STOP_POLL: Duration = Duration::from_millis(200);

pub fn run(args: WatchArgs, color: report::ColorWhen) -> ExitCode {
    let usage = |e: String| {
        report::error(&anyhow::anyhow!(e));
        ExitCode::Usage
    };
    let interval = match watch::interval(&args.interval) {
        Ok(i) => i,
        Err(e) => return usage(e),
    };
    let mut target_args = args.target.clone();
    if target_args.playbook.is_none() {
        target_args.playbook = args.name.clone();
    }
    if target_args.report.is_some() {
        return usage(
            "--report is for diagnose and fix; watch sends its news to --notify receivers".into(),
        );
    }
    // The secrets are read by each round, where the unit's env file provides them.
    if args.install || args.uninstall {
        return install(&args, &target_args, interval);
    }
    let setup = match watch::setup(&args, interval) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let target = match crate::config::resolve(&target_args) {
        Ok(mut t) => {
            crate::discover::derive::complete(&mut t);
            t
        }
        Err(e) => {
            report::error(&e.into());
            return ExitCode::Usage;
        }
    };
    let mut out = Out::new(report::Style::detect(color, args.target.json));
    out.start(&target, &setup, args.fix, args.once);
    if args.once {
        return one(&target, &setup, args.fix, &mut out);
    }
    let _ = crate::sys::interrupt::catch();
    let mut done = 0u32;
    loop {
        let exit = one(&target, &setup, args.fix, &mut out);
        done += 1;
        if args.rounds.is_some_and(|n| done >= n) || !sleep(setup.interval) {
            return exit;
        }
    }
}

/// Sleeps `d` unless Ctrl-C or SIGTERM comes first; false when it did.
fn sleep(d: Duration) -> bool {
    let stopped = || crate::sys::interrupt::caught().is_some();
    // Looks every STOP_POLL whether it was asked to stop; "ready" only once stopped.
    !crate::pace::until(STOP_POLL, d, || false, stopped)
}

/// One round: check, maybe fix, remember, notify on a change. Its exit code is verify's.
fn one(target: &Target, setup: &Setup, fix: bool, out: &mut Out) -> ExitCode {
    let key = target.site_key();
    let before = memory::load(&key);
    let mut working = before.clone();
    let settings = round::Settings {
        fix,
        audit: &setup.audit,
    };
    let r = round::run(target, &settings, &mut working);
    let after = event::remember(&working, &r);
    let event = event::of(&before, &r, &target.watch, after.unhealthy_rounds);
    let message = event.map(|e| event::message(target, e, &before, &after, &r));
    let deliveries = match &message {
        Some(m) => notify::send_all(&setup.notifiers, &setup.ding, m),
        None => Vec::new(),
    };
    let saved = memory::save(&key, &after).err();
    out.round(target, &r, message.as_ref(), &deliveries, saved.as_ref());
    r.exit
}

/// `--install` / `--uninstall`: the plan, shown; consent; the audit entry; then the change.
fn install(args: &WatchArgs, target_args: &TargetArgs, interval: Duration) -> ExitCode {
    match watch::install::plan(args, target_args, interval) {
        Ok(p) => act(args, p),
        Err(e) => {
            report::error(&anyhow::anyhow!(e));
            ExitCode::Usage
        }
    }
}

fn act(args: &WatchArgs, p: Plan) -> ExitCode {
    out::install_plan(&p);
    if p.crontab.is_some() {
        return ExitCode::Healthy;
    }
    let consent = Consent::from_flags(args.yes, args.dry_run, false);
    let question = if p.install {
        format!("Install and start fixer-watch@{}.timer?", p.instance)
    } else {
        format!("Stop and remove fixer-watch@{}.timer?", p.instance)
    };
    let audit = crate::audit::AuditLog::new(args.audit_log.clone());
    let action = if p.install {
        "install-watch"
    } else {
        "uninstall-watch"
    };
    let target = json!({"timer": format!("fixer-watch@{}.timer", p.instance),
        "files": p.files.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>(),
        "remove": p.remove.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()});
    let approval = match consent.ask(&question, false) {
        Answer::Approved(a) => a,
        Answer::PlanOnly => {
            out::install_message("Dry run: nothing was changed.");
            return ExitCode::Healthy;
        }
        Answer::Refused => {
            out::install_message(&format!("Refused: {} needs consent and there is no terminal to ask on; re-run with --yes (or --dry-run to see the plan).", watch::install::flag(args)));
            return ExitCode::Declined;
        }
        Answer::Declined | Answer::Interrupted => {
            out::install_message("Declined: nothing was changed.");
            return ExitCode::Declined;
        }
    };
    let name = p.instance.clone();
    if let Err(e) = audit.record(
        &name,
        "start",
        json!({"action": action, "target": target, "consent": approval}),
    ) {
        report::error(&e.context("not acting: the audit log cannot be written"));
        return ExitCode::ActionFailed;
    }
    let (ok, evidence) = watch::install::apply(&p, &mut |line| out::install_message(line));
    let result = if ok { "done" } else { "failed" };
    let _ = audit.record(
        &name,
        "end",
        json!({"action": action, "target": target,
        "consent": approval, "result": result, "evidence": evidence}),
    );
    if ok {
        ExitCode::Healthy
    } else {
        ExitCode::ActionFailed
    }
}
