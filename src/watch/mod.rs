//! `fixer watch`: verify on an interval (or once, for cron and timers), find the root cause
//! when the site fails, optionally repair what the playbook allows, and tell people only when
//! something changed. `--install` puts it under a systemd timer (`install`).

pub(crate) mod event;
pub(crate) mod install;
pub(crate) mod memory;
pub(crate) mod round;
mod units;
pub(crate) mod view;

pub use crate::cli::WatchArgs;
pub(crate) use view::Setup;

use std::time::Duration;

use crate::notify::{self, DingTalk, Notifier};
use crate::playbook::watch::{bounded, parse_duration};

const INTERVAL_MIN: Duration = Duration::from_secs(1);
const INTERVAL_MAX: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn interval(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .and_then(|d| bounded(d, INTERVAL_MIN, INTERVAL_MAX))
        .map_err(|m| format!("--interval: {m}"))
}

pub(crate) fn setup(args: &WatchArgs, interval: Duration) -> Result<Setup, String> {
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
