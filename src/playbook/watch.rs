//! The playbook's `[watch]` table: which repairs `fixer watch --fix` may make with nobody
//! there to ask, and how many before it stops and calls for a person (systemd's start limit,
//! for fixes). Without the table, `--fix` changes nothing.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// Actions an operator may allow unattended. Killing a holder is allowed only for the
/// backend's own process; a foreign holder is never touched without a person.
pub const AUTO_FIX_ACTIONS: &[&str] = &[
    "restart-backend",
    "resume-holder",
    "start-nginx",
    "reload-nginx",
    "kill-holder",
];

pub use crate::target::{DEFAULT_MAX_FIXES, DEFAULT_REMIND_EVERY, DEFAULT_WINDOW};
const MAX_FIXES_MAX: i64 = 100;
const WINDOW_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
const REMIND_EVERY_MAX: i64 = 100_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    #[serde(default)]
    pub auto_fix: Vec<Spanned<String>>,
    pub max_fixes: Option<Spanned<i64>>,
    /// `"15m"`, `"90s"`, `"1h"`.
    pub window: Option<Spanned<String>>,
    /// Remind every N unhealthy rounds; 0: never.
    pub remind_every: Option<Spanned<i64>>,
}

pub use crate::target::WatchPolicy;

/// A bad value: where it is, its key inside `[watch]`, and what is wrong.
pub type Invalid = (Range<usize>, &'static str, String);

pub fn validate(raw: &RawWatch) -> Result<WatchPolicy, Invalid> {
    let mut policy = WatchPolicy::default();
    for a in &raw.auto_fix {
        if !AUTO_FIX_ACTIONS.contains(&a.get_ref().as_str()) {
            let why = format!(
                "{:?} is not an action watch may run; choose from {}",
                crate::sanitize::shorten(a.get_ref(), 40),
                AUTO_FIX_ACTIONS.join(", ")
            );
            return Err((a.span(), "auto_fix", why));
        }
        if !policy.auto_fix.contains(a.get_ref()) {
            policy.auto_fix.push(a.get_ref().clone());
        }
    }
    if let Some(n) = &raw.max_fixes {
        policy.max_fixes = in_range(n, 1, MAX_FIXES_MAX, "max_fixes")?;
    }
    if let Some(w) = &raw.window {
        policy.window = parse_duration(w.get_ref())
            .and_then(|d| bounded(d, Duration::from_secs(60), WINDOW_MAX))
            .map_err(|m| (w.span(), "window", m))?;
    }
    if let Some(n) = &raw.remind_every {
        policy.remind_every = in_range(n, 0, REMIND_EVERY_MAX, "remind_every")?;
    }
    Ok(policy)
}

fn in_range(n: &Spanned<i64>, min: i64, max: i64, key: &'static str) -> Result<u32, Invalid> {
    let v = *n.get_ref();
    if (min..=max).contains(&v) {
        Ok(v as u32)
    } else {
        Err((
            n.span(),
            key,
            format!("{v} is out of range; give {min} to {max}"),
        ))
    }
}

/// `d` if it lies within `min..=max`, else what to give instead.
pub fn bounded(d: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if (min..=max).contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "{} is out of range; give {} to {}",
            show_duration(d),
            show_duration(min),
            show_duration(max)
        ))
    }
}

/// A duration as an operator writes it: a whole number and a unit, `90s`, `15m`, `1h`, `1d`
/// (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad_duration(text))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad_duration(text)),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| bad_duration(text))
}

fn bad_duration(text: &str) -> String {
    format!(
        "{:?} is not a duration; write e.g. \"90s\", \"15m\" or \"1h\"",
        crate::sanitize::shorten(text, 40)
    )
}

/// `15m`, `90s`, `1h`: the shortest exact form, as [`parse_duration`] reads it back.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_back() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("45", 45),
            ("2d", 172_800),
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(parse_duration(&show_duration(d)).unwrap(), d);
        }
        for bad in [
            "",
            "m",
            "15 minutes",
            "-5m",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn auto_fix_names_are_action_codes() {
        use crate::action::ActionCode::*;
        let codes: Vec<&str> = [
            ResumeHolder,
            KillHolder,
            RestartBackend,
            StartNginx,
            ReloadNginx,
        ]
        .iter()
        .map(|c| c.as_str())
        .collect();
        for name in AUTO_FIX_ACTIONS {
            assert!(codes.contains(name), "{name}");
        }
    }
}
