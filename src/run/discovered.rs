//! The commands with nothing given — no playbook, no flags, no default playbook — over what
//! discovery finds on this host: every server block of every running nginx and the backends
//! they proxy to.

use std::time::Duration;

use crate::cli::{FixArgs, InitArgs, TargetArgs, VerifyArgs};
use crate::discover::init::{self, Picked, Selector};
use crate::discover::survey::{self, Depth, Survey};
use crate::exit_code::ExitCode;
use crate::playbook::{self, PlaybookError};
use crate::report::document::SurveyFix;
use crate::report::{self, ColorWhen, Style};

/// True when nothing names a site and no default playbook exists; a default playbook that is
/// there but broken is still an error (exit 2), not a reason to guess.
pub fn applies(args: &TargetArgs) -> Result<bool, ExitCode> {
    if !crate::config::names_nothing(args) {
        return Ok(false);
    }
    match playbook::lookup::find_default() {
        Err(PlaybookError::NoDefault { .. }) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) => {
            report::error(&e.into());
            Err(ExitCode::Usage)
        }
    }
}

fn timeout(secs: Option<f64>) -> Result<Duration, ExitCode> {
    secs.map_or(Ok(playbook::validate::DEFAULT_TIMEOUT), |s| {
        crate::config::timeout_flag(s).map_err(|e| {
            report::error(&e.into());
            ExitCode::Usage
        })
    })
}

/// `--report` writes one site's incident report; a discovery run covers many.
fn refuse_report(args: &TargetArgs) -> Result<(), ExitCode> {
    if args.report.is_some() {
        report::error(&anyhow::anyhow!(
            "--report writes the incident report of one site: give -p PLAYBOOK (`fixer init` writes one)"
        ));
        return Err(ExitCode::Usage);
    }
    Ok(())
}

fn show(command: &str, survey: &Survey, json: bool, color: ColorWhen) {
    if json {
        report::json::print(&report::survey::json(command, survey));
    } else {
        report::survey::human(Style::detect(color, false), command, survey);
    }
}

pub fn diagnose(args: &TargetArgs, color: ColorWhen) -> ExitCode {
    let t = match refuse_report(args).and_then(|()| timeout(args.timeout)) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let survey = survey::run(t, Depth::Chain);
    show("diagnose", &survey, args.json, color);
    survey.exit_code()
}

pub fn verify(args: &VerifyArgs, color: ColorWhen) -> ExitCode {
    let t = match refuse_report(&args.target).and_then(|()| timeout(args.target.timeout)) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let survey = survey::run(t, Depth::VerifyOnly);
    super::metrics::emit(args, &sites(&survey));
    let json = args.target.json || args.format == crate::cli::VerifyFormat::Json;
    if !super::metrics::on_stdout(args) {
        show("verify", &survey, json, color);
    }
    survey.exit_code()
}

/// Each backend as a site of the metrics; with none found, one nameless site carrying the
/// run's exit code, so a monitor still sees `fixer_healthy 0`.
fn sites(survey: &Survey) -> Vec<report::prometheus::Site<'_>> {
    let mut sites: Vec<report::prometheus::Site> = survey
        .backends
        .iter()
        .map(|b| {
            let code = if b.broken() {
                ExitCode::Problem
            } else if b.could_not_run().is_some() {
                ExitCode::CheckFailed
            } else {
                ExitCode::Healthy
            };
            report::prometheus::Site {
                name: &b.target.name,
                healthy: code == ExitCode::Healthy,
                exit_code: code.code(),
                urls: b
                    .steps
                    .iter()
                    .map(|s| s.details.urls())
                    .find(|u| !u.is_empty())
                    .unwrap_or(&[]),
            }
        })
        .collect();
    if sites.is_empty() {
        let code = survey.exit_code();
        sites.push(report::prometheus::Site {
            name: "",
            healthy: code == ExitCode::Healthy,
            exit_code: code.code(),
            urls: &[],
        });
    }
    sites
}

/// Fixes each broken backend in turn, the usual way (plan, consent per action, verify); the
/// exit code is the worst of them.
pub fn fix(args: &FixArgs, color: ColorWhen) -> ExitCode {
    let t = match refuse_report(&args.target).and_then(|()| timeout(args.target.timeout)) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let opts = match super::fix_options(args) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let survey = survey::run(t, Depth::Chain);
    let json = args.target.json;
    if !json {
        report::survey::human(Style::detect(color, false), "fix", &survey);
    }
    if survey.no_nginx() || survey.broken().is_empty() {
        if json {
            report::json::print(&report::survey::json("fix", &survey));
        }
        return survey.exit_code();
    }
    let mut docs = Vec::new();
    let mut exit = ExitCode::Healthy;
    for b in survey.broken() {
        if let survey::Direct::NotHttp(how) = &b.direct {
            // The chain would probe it over plain HTTP; a playbook that says what it speaks
            // is the way to act on it.
            if json {
                docs.push(SurveyFix::Skipped {
                    name: b.target.name.clone(),
                    skipped: how.clone(),
                });
            } else {
                report::survey::not_fixed(&b.target.name, how);
            }
            exit = worse(exit, ExitCode::Problem);
            continue;
        }
        // One backend at a time, under the same locks as a playbook's fix of it.
        let _lock = match crate::lock::acquire(&b.target) {
            Ok(l) => l,
            Err(e) => {
                report::error(&e.into());
                exit = worse(exit, ExitCode::CheckFailed);
                continue;
            }
        };
        let run = if json {
            let mut out = report::fix::SilentFix::for_json(&opts.consent);
            let run = crate::fix::fix(&b.target, &opts, &mut out);
            docs.push(SurveyFix::Fixed(Box::new(report::json::fix(
                &b.target, &run,
            ))));
            run
        } else {
            let mut out = report::fix::HumanFix::new(Style::detect(color, false));
            report::blank_line();
            out.human().header("fix", &b.target);
            crate::fix::fix(&b.target, &opts, &mut out)
        };
        exit = worse(exit, run.exit);
        if run.exit == ExitCode::Interrupted {
            break;
        }
    }
    if json {
        let mut doc = report::survey::json("fix", &survey);
        doc.fixes = Some(docs);
        doc.exit_code = exit.code();
        report::json::print(&doc);
    }
    exit
}

/// An interrupted run outranks an action that failed, which outranks a refusal, which
/// outranks a problem left, which outranks a check that could not run.
fn worse(a: ExitCode, b: ExitCode) -> ExitCode {
    let rank = |c: ExitCode| match c {
        ExitCode::Interrupted => 6,
        ExitCode::ActionFailed => 5,
        ExitCode::Declined => 4,
        ExitCode::Problem => 3,
        ExitCode::CheckFailed => 2,
        ExitCode::Usage => 1,
        ExitCode::Healthy => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

pub fn init(args: &InitArgs) -> ExitCode {
    let t = match timeout(args.timeout) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let (survey, _) = survey::discover(t);
    if survey.no_nginx() {
        report::error(&anyhow::anyhow!(
            "no nginx on this host: no master process runs and there is no /etc/nginx/nginx.conf"
        ));
        return ExitCode::CheckFailed;
    }
    let sel = Selector {
        server: args.server.clone(),
        backend: args.backend.clone(),
    };
    match init::pick(&survey, &sel) {
        Err(e) => {
            report::error(&anyhow::anyhow!(e));
            ExitCode::Usage
        }
        Ok(Picked::Choose(choices)) => {
            report::survey::choices(&choices, survey.backends.is_empty());
            ExitCode::Usage
        }
        Ok(Picked::One(target, server)) => {
            let text = init::render(target, &server);
            match &args.write {
                None => {
                    report::survey::playbook_text(&text);
                    ExitCode::Healthy
                }
                Some(path) => match std::fs::write(path, &text) {
                    Ok(()) => {
                        report::survey::written(path, &server);
                        ExitCode::Healthy
                    }
                    Err(e) => {
                        report::error(&anyhow::anyhow!("writing {}: {e}", path.display()));
                        ExitCode::CheckFailed
                    }
                },
            }
        }
    }
}
