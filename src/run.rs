//! From parsed arguments to an exit code. Kept apart from `main` so tests can call it.

use crate::chain::{self, Quiet};
use std::time::Duration;

use crate::cli::{Cli, ColorChoice, Command, FixArgs, LogArgs, TargetArgs, VerifyArgs};
use crate::exit_code::ExitCode;
use crate::report::{self, human::Human, ColorWhen, Style};
use crate::{config, playbook};

mod discovered;
mod metrics;
mod shell;
mod watch;

/// `--color` as the report reads it.
fn color_when(choice: ColorChoice) -> ColorWhen {
    match choice {
        ColorChoice::Auto => ColorWhen::Auto,
        ColorChoice::Always => ColorWhen::Always,
        ColorChoice::Never => ColorWhen::Never,
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let color = color_when(cli.color);
    match cli.command {
        Command::Diagnose(args) => {
            // Only a diagnosis may read a remembered `nginx -T`: it acts on nothing.
            let _remembered = (!args.fresh).then(crate::nginx::memory::allow);
            match discovered::applies(&args.target) {
                Ok(true) => discovered::diagnose(&args.target, color),
                Ok(false) => diagnose(&args.target, color),
                Err(code) => code,
            }
        }
        Command::Fix(args) => {
            match discovered::applies(&with_name(args.target.clone(), args.name.clone())) {
                Ok(true) => discovered::fix(&args, color),
                Ok(false) => fix(args, color),
                Err(code) => code,
            }
        }
        Command::Verify(args) => {
            match discovered::applies(&with_name(args.target.clone(), args.name.clone())) {
                Ok(true) => discovered::verify(&args, color),
                Ok(false) => verify(args, color),
                Err(code) => code,
            }
        }
        Command::Init(args) => discovered::init(&args),
        Command::Harden(args) => crate::harden::run(args, color_when(cli.color)),
        Command::Watch(args) => watch::run(args, color),
        Command::Log(args) => log(&args),
        Command::Playbooks => playbooks(),
        Command::Lab { command } => lab(&command),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man(args) => shell::man(args.dir.as_deref()),
    }
}

/// The target from flags and playbook, completed from nginx's config where they say nothing
/// (ports, health URLs).
fn resolve(args: &TargetArgs) -> Result<crate::target::Target, ExitCode> {
    let mut target = config::resolve(args).map_err(|e| {
        report::error(&e.into());
        ExitCode::Usage
    })?;
    crate::discover::derive::complete(&mut target);
    Ok(target)
}

fn diagnose(args: &TargetArgs, color: ColorWhen) -> ExitCode {
    let target = match resolve(args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let style = Style::detect(color, args.json);
    let d = if args.json {
        let d = chain::diagnose(&target, &mut Quiet);
        report::json::print(&report::json::diagnosis("diagnose", &target, &d));
        d
    } else {
        let mut human = Human::new(style);
        human.header("diagnose", &target);
        let d = chain::diagnose(&target, &mut human);
        human.summary(&d);
        d
    };
    let incident = report::markdown::Incident {
        command: "diagnose",
        target: &target,
        diagnosis: &d,
        actions: &[],
        verification: None,
        verified: None,
        manual: &[],
        interrupted: false,
    };
    write_report(args.report.as_deref(), &incident);
    let code = d.exit_code();
    // The process ends here: freeing a 3 000-server-block config a directive at a time would
    // only delay the exit code by milliseconds; the kernel takes the memory back at once.
    std::mem::forget(d);
    code
}

/// A report that cannot be written is said on stderr; it does not change the exit code,
/// which describes the site, not the paperwork.
fn write_report(path: Option<&std::path::Path>, incident: &report::markdown::Incident<'_>) {
    let Some(path) = path else { return };
    let written = crate::sys::regular_file::create("report", path)
        .map_err(anyhow::Error::from)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, report::markdown::render(incident).as_bytes())
                .map_err(|e| anyhow::anyhow!("writing report {}: {e}", path.display()))
        });
    if let Err(e) = written {
        report::error(&e);
    }
}

fn playbooks() -> ExitCode {
    report::human::playbooks(&playbook::lookup::list());
    ExitCode::Healthy
}

fn lab(command: &crate::cli::LabCommand) -> ExitCode {
    let mut out = std::io::stdout();
    match crate::lab::command::run(command, &mut out) {
        Ok(()) => ExitCode::Healthy,
        Err(e) => {
            report::error(&e);
            ExitCode::Usage
        }
    }
}

fn seconds(flag: &str, secs: f64) -> Result<Duration, ExitCode> {
    let what = if flag == "--grace" {
        "grace period"
    } else {
        "wait"
    };
    crate::playbook::validate::check_wait(secs, what).map_err(|m| {
        report::error(&anyhow::anyhow!("{flag}: {m}"));
        ExitCode::Usage
    })
}

fn with_name(mut target: TargetArgs, name: Option<String>) -> TargetArgs {
    if target.playbook.is_none() {
        target.playbook = name;
    }
    target
}

fn fix(args: FixArgs, color: ColorWhen) -> ExitCode {
    let json = args.target.json;
    let target_args = with_name(args.target.clone(), args.name.clone());
    let target = match resolve(&target_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = match fix_options(&args) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let (_lock, cannot_lock) = match crate::lock::acquire(&target) {
        Ok(l) => (Some(l), None),
        Err(crate::lock::LockError::CannotLock(e)) => (None, Some(e)),
        Err(e) => {
            report::error(&e.into());
            return ExitCode::CheckFailed;
        }
    };
    // Without a lock fixer may not act, but the diagnosis and the plan are still worth showing.
    let mut opts = opts;
    if cannot_lock.is_some() {
        opts.consent = crate::consent::Consent::from_flags(args.yes, true, args.force_foreign);
    }
    let run = if json {
        let mut out = report::fix::SilentFix::for_json(&opts.consent);
        let mut run = crate::fix::fix(&target, &opts, &mut out);
        unlocked(&mut run, cannot_lock.as_ref());
        report::json::print(&report::json::fix(&target, &run));
        run
    } else {
        let mut out = report::fix::HumanFix::new(Style::detect(color, false));
        out.human().header("fix", &target);
        let mut run = crate::fix::fix(&target, &opts, &mut out);
        unlocked(&mut run, cannot_lock.as_ref());
        run
    };
    let incident = report::markdown::Incident {
        command: "fix",
        target: &target,
        diagnosis: &run.first,
        actions: &run.actions,
        verification: run.verification.as_ref(),
        verified: Some(run.verified),
        manual: &run.manual,
        interrupted: run.exit == ExitCode::Interrupted,
    };
    write_report(target_args.report.as_deref(), &incident);
    let proved = run
        .verification
        .as_ref()
        .is_some_and(|v| v.verdict == crate::step::Verdict::Ok);
    if run.verified && proved && run.exit == ExitCode::Healthy {
        remember_healthy(&target);
    }
    run.exit
}

/// A fix that had to stay a dry run for want of a lock says so, and why, unless there was
/// nothing to do anyway.
fn unlocked(run: &mut crate::fix::FixRun, why: Option<&anyhow::Error>) {
    let Some(why) = why else { return };
    if run.exit == ExitCode::Healthy {
        return;
    }
    report::error(&anyhow::anyhow!(
        "{why:#}: fixer cannot take its lock, so it only showed the plan; acting needs root \
         (sudo fixer fix …) or a writable FIXER_STATE_DIR"
    ));
    run.exit = ExitCode::CheckFailed;
}

/// Records that the site was just verified healthy, so later runs tell the error log's old
/// lines from new ones. Not being able to write it changes nothing about this run: the next
/// diagnose then just says no verified time is recorded.
fn remember_healthy(target: &crate::target::Target) {
    let _ = crate::state::record_verified(&target.site_key());
}

fn fix_options(args: &FixArgs) -> Result<crate::fix::Options, ExitCode> {
    let wait = seconds("--wait", args.wait)?;
    let grace = seconds("--grace", args.grace)?;
    Ok(crate::fix::Options {
        consent: crate::consent::Consent::from_flags(args.yes, args.dry_run, args.force_foreign),
        wait,
        grace,
        audit: crate::audit::AuditLog::new(args.audit_log.clone()),
        core: args.core.clone(),
        allowed: None,
    })
}

fn verify(args: VerifyArgs, color: ColorWhen) -> ExitCode {
    let json = args.target.json || args.format == crate::cli::VerifyFormat::Json;
    let target_args = with_name(args.target.clone(), args.name.clone());
    let target = match resolve(&target_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let wait = match seconds("--wait", args.wait) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let mut pace = crate::pace::Pace::every(Duration::from_millis(500), wait);
    let target = crate::check::upstream::resolve_protocol(&target);
    let step = loop {
        let step = crate::check::recurl::run(&target);
        let healthy = step.verdict != crate::step::Verdict::Fail && step.error.is_none();
        if healthy || !pace.wait() {
            break step;
        }
    };
    // The certificate and the login, as a cron job should see them: an expired certificate or
    // a refused password is unhealthy even while every URL answers. Only the verify URLs are
    // looked at (no `nginx -T`): verify stays a check of what users reach.
    let nginx = crate::check::nginx::NginxView::default();
    let steps = [
        step,
        crate::check::tls::run(&target, &nginx),
        crate::check::auth::run(&target),
    ];
    let failed = |s: &crate::step::StepResult| s.verdict == crate::step::Verdict::Fail;
    let code = if steps.iter().any(|s| s.error.is_some()) {
        ExitCode::CheckFailed
    } else if steps.iter().any(failed) {
        ExitCode::Problem
    } else {
        if steps[0].verdict == crate::step::Verdict::Ok {
            remember_healthy(&target);
        }
        ExitCode::Healthy
    };
    let step = &steps[0];
    metrics::emit(
        &args,
        &[report::prometheus::Site {
            name: &target.name,
            healthy: code == ExitCode::Healthy,
            exit_code: code.code(),
            urls: step.details.urls(),
        }],
    );
    if json {
        report::json::print(&report::json::verify(&target, &steps, code));
    } else if !metrics::on_stdout(&args) {
        let mut human = Human::new(Style::detect(color, false));
        human.header("verify", &target);
        human.verification(&steps, code == ExitCode::Healthy);
    }
    code
}

fn log(args: &LogArgs) -> ExitCode {
    let path = args
        .audit_log
        .clone()
        .unwrap_or_else(crate::state::default_audit_log);
    match crate::audit::recent(&path, args.lines) {
        Ok(entries) => {
            report::human::audit(&path, &entries, args.json);
            ExitCode::Healthy
        }
        Err(e) => {
            report::error(&e);
            ExitCode::CheckFailed
        }
    }
}
