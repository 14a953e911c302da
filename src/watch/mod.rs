//! `fixer watch`: verify on an interval (or once, for cron and timers), find the root cause
//! when the site fails, optionally repair what the playbook allows, and tell people only when
//! something changed. `--install` puts it under a systemd timer (`install`).

mod event;
pub(crate) mod install;
mod memory;
pub(crate) mod round;
mod units;
pub(crate) mod view;

pub use crate::cli::WatchArgs;
pub(crate) use view::Setup;

use std::time::{Duration, Instant};

use crate::exit_code::ExitCode;
use crate::notify::{self, DingTalk, Notifier};
use crate::playbook::watch::{bounded, parse_duration};
use crate::report::{self, watch::Out};
use crate::target::Target;

const INTERVAL_MIN: Duration = Duration::from_secs(1);
const INTERVAL_MAX: Duration = Duration::from_secs(24 * 3600);
/// How often a sleeping watch looks whether it was asked to stop.
const STOP_POLL: Duration = Duration::from_millis(200);

pub fn run(args: WatchArgs, color: report::ColorWhen) -> ExitCode {
    let usage = |e: String| {
        report::error(&anyhow::anyhow!(e));
        ExitCode::Usage
    };
    let interval = match interval(&args.interval) {
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
        return install::run(&args, &target_args, interval);
    }
    let setup = match setup(&args, interval) {
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
    let mut out = Out::new(
        report::Style::detect(color, args.target.json),
        args.target.json,
    );
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
    let end = Instant::now() + d;
    while Instant::now() < end {
        if crate::sys::interrupt::caught().is_some() {
            return false;
        }
        std::thread::sleep(STOP_POLL.min(end - Instant::now()));
    }
    crate::sys::interrupt::caught().is_none()
}

fn interval(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .and_then(|d| bounded(d, INTERVAL_MIN, INTERVAL_MAX))
        .map_err(|m| format!("--interval: {m}"))
}

fn setup(args: &WatchArgs, interval: Duration) -> Result<Setup, String> {
    let notifiers = args
        .notify
        .iter()
        .map(|s| Notifier::parse(s).map_err(|m| format!("--notify: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    let secret = args
        .dingtalk_secret
        .as_deref()
        .map(|s| notify::secret::read(s, false).map_err(|m| format!("--dingtalk-secret: {m}")))
        .transpose()?;
    Ok(Setup {
        interval,
        notifiers,
        ding: DingTalk {
            keyword: args.dingtalk_keyword.clone(),
            secret,
        },
        audit: args
            .audit_log
            .clone()
            .unwrap_or_else(crate::state::default_audit_log),
    })
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
