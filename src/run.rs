//! From parsed arguments to an exit code. Kept apart from `main` so tests can call it.

use crate::chain::{self, Quiet};
use std::time::Duration;

use crate::cli::{Cli, ColorChoice, Command, FixArgs, LogArgs, TargetArgs, VerifyArgs};
use crate::exit_code::ExitCode;
use crate::report::{self, human::Human, Style};
use crate::{config, playbook};

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Diagnose(args) => diagnose(&args, cli.color),
        Command::Fix(args) => fix(args, cli.color),
        Command::Verify(args) => verify(args, cli.color),
        Command::Harden(args) => crate::harden::run(args, cli.color),
        Command::Log(args) => log(&args),
        Command::Playbooks => playbooks(cli.color),
        Command::Lab { command } => lab(&command),
    }
}

fn resolve(args: &TargetArgs) -> Result<crate::target::Target, ExitCode> {
    config::resolve(args).map_err(|e| {
        report::error(&e.into());
        ExitCode::Usage
    })
}

fn diagnose(args: &TargetArgs, color: crate::cli::ColorChoice) -> ExitCode {
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
    };
    write_report(args.report.as_deref(), &incident);
    d.exit_code()
}

/// A report that cannot be written is said on stderr; it does not change the exit code,
/// which describes the site, not the paperwork.
fn write_report(path: Option<&std::path::Path>, incident: &report::markdown::Incident<'_>) {
    let Some(path) = path else { return };
    if let Err(e) = std::fs::write(path, report::markdown::render(incident)) {
        report::error(&anyhow::anyhow!("writing report {}: {e}", path.display()));
    }
}

fn playbooks(color: crate::cli::ColorChoice) -> ExitCode {
    let style = Style::detect(color, false);
    report::human::playbooks(style, &playbook::lookup::list());
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
    if secs.is_finite() && (0.0..=3600.0).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        report::error(&anyhow::anyhow!(
            "{flag} must be between 0 and 3600 seconds"
        ));
        Err(ExitCode::Usage)
    }
}

fn with_name(mut target: TargetArgs, name: Option<String>) -> TargetArgs {
    if target.playbook.is_none() {
        target.playbook = name;
    }
    target
}

fn fix(args: FixArgs, color: ColorChoice) -> ExitCode {
    let json = args.target.json;
    let target_args = with_name(args.target, args.name);
    let target = match resolve(&target_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (wait, grace) = match (seconds("--wait", args.wait), seconds("--grace", args.grace)) {
        (Ok(w), Ok(g)) => (w, g),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let _lock = match crate::lock::acquire() {
        Ok(l) => l,
        Err(e) => {
            report::error(&e.into());
            return ExitCode::CheckFailed;
        }
    };
    let opts = crate::fix::Options {
        consent: crate::consent::Consent::from_flags(args.yes, args.dry_run, args.force_foreign),
        wait,
        grace,
        audit: crate::audit::AuditLog::new(args.audit_log),
    };
    let run = if json {
        // Whoever may be asked (a foreign holder asks even with --yes) sees the plan first.
        let may_ask =
            opts.consent.mode != crate::consent::Mode::DryRun && crate::consent::can_prompt();
        let mut out = if may_ask {
            report::fix::SilentFix::showing_plans()
        } else {
            report::fix::SilentFix::new()
        };
        let run = crate::fix::fix(&target, &opts, &mut out);
        report::json::print(&report::json::fix(&target, &run));
        run
    } else {
        let mut out = report::fix::HumanFix::new(Style::detect(color, false));
        out.human().header("fix", &target);
        crate::fix::fix(&target, &opts, &mut out)
    };
    let incident = report::markdown::Incident {
        command: "fix",
        target: &target,
        diagnosis: &run.first,
        actions: &run.actions,
        verification: run.verification.as_ref(),
        verified: Some(run.verified),
    };
    write_report(target_args.report.as_deref(), &incident);
    run.exit
}

fn verify(args: VerifyArgs, color: ColorChoice) -> ExitCode {
    let json = args.target.json;
    let target_args = with_name(args.target, args.name);
    let target = match resolve(&target_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let wait = match seconds("--wait", args.wait) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let deadline = std::time::Instant::now() + wait;
    let step = loop {
        let step = crate::check::recurl::run(&target);
        let healthy = step.verdict != crate::step::Verdict::Fail && step.error.is_none();
        if healthy || std::time::Instant::now() >= deadline {
            break step;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let code = if step.error.is_some() {
        ExitCode::CheckFailed
    } else if step.verdict == crate::step::Verdict::Fail {
        ExitCode::Problem
    } else {
        ExitCode::Healthy
    };
    if json {
        report::json::print(&report::json::verify(&target, &step, code));
    } else {
        let mut human = Human::new(Style::detect(color, false));
        human.header("verify", &target);
        human.verification(&step, code == ExitCode::Healthy);
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
