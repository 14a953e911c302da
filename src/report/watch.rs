//! What `fixer watch` prints: one line per round on stdout (a JSON line with `--json`), what
//! the fix loop said and failed deliveries on stderr — the journal of a timer's service.
//! Webhook URLs are shown by host only; secrets never.

use serde_json::json;

use crate::notify::{Delivery, Message};
use crate::sanitize::clean;
use crate::target::Target;
use crate::watch::round::Round;
use crate::watch::view::{Plan, Setup};

use super::Style;

pub struct Out {
    style: Style,
}

impl Out {
    pub fn new(style: Style) -> Out {
        Out { style }
    }

    /// What is watched and where news goes, on stderr: a service's journal starts with it.
    pub fn start(&self, target: &Target, setup: &Setup, fix: bool, once: bool) {
        if self.style.json || once {
            return;
        }
        let fixing = if fix {
            let allowed = &target.watch.auto_fix;
            if allowed.is_empty() {
                "fix: nothing allowed ([watch] auto_fix is empty)".to_string()
            } else {
                format!(
                    "fix: {} (at most {} in {})",
                    allowed.join(", "),
                    target.watch.max_fixes,
                    crate::playbook::watch::show_duration(target.watch.window)
                )
            }
        } else {
            "fix: off".to_string()
        };
        eprintln!(
            "Watching {} every {} · {fixing}",
            clean(&target.name),
            crate::playbook::watch::show_duration(setup.interval)
        );
        for n in &setup.notifiers {
            eprintln!("  notify {}", clean(&n.shown()));
        }
        if setup.notifiers.is_empty() {
            eprintln!("  notify: nobody (add --notify)");
        }
    }

    pub fn round(
        &mut self,
        target: &Target,
        r: &Round,
        message: Option<&Message>,
        deliveries: &[Delivery],
        unsaved: Option<&std::io::Error>,
    ) {
        if self.style.json {
            let doc = json!({
                "schema_version": crate::SCHEMA_VERSION,
                "command": "watch",
                "time": crate::clock::now_rfc3339(),
                "playbook": target.name,
                "state": r.health.as_str(),
                "exit_code": r.exit.code(),
                "root_cause": r.root_cause,
                "error": r.error,
                "actions": r.actions,
                "gave_up": r.gave_up,
                "notes": r.notes,
                "event": message.map(|m| m.event),
                "headline": message.map(|m| &m.headline),
                "deliveries": deliveries,
            });
            outln!("{doc}");
        } else {
            outln!("{}", self.line(r, message, deliveries));
            for n in &r.notes {
                eprintln!("  {}", clean(n));
            }
        }
        for d in deliveries.iter().filter(|d| !d.delivered) {
            eprintln!(
                "Warning: could not notify {} after {} attempt(s): {}",
                clean(&d.notifier),
                d.attempts,
                clean(d.error.as_deref().unwrap_or("unknown error"))
            );
        }
        if let Some(e) = unsaved {
            eprintln!(
                "Warning: cannot save watch state in {} ({}): the next round cannot tell what changed",
                crate::state::state_dir().display(),
                crate::format::io_text(e)
            );
        }
    }

    fn line(&self, r: &Round, message: Option<&Message>, deliveries: &[Delivery]) -> String {
        let time = chrono::Local::now().format("%H:%M:%S");
        let state = r.health.as_str();
        let state = if self.style.color {
            let s = console::style(state);
            match r.health {
                crate::watch::round::Health::Healthy => s.green(),
                crate::watch::round::Health::Unhealthy => s.red().bold(),
                crate::watch::round::Health::Unknown => s.yellow(),
            }
            .to_string()
        } else {
            state.to_string()
        };
        let mut line = format!("{time} {state}");
        if let Some(f) = &r.root_cause {
            line.push_str(&format!(" · {}: {}", f.code.as_str(), clean(&f.cause)));
        } else if let Some(e) = &r.error {
            line.push_str(&format!(" · {}", clean(e)));
        }
        if !r.actions.is_empty() {
            line.push_str(&format!(" · fixed: {}", r.actions.join(", ")));
        }
        if r.gave_up {
            line.push_str(" · not fixing: flap limit reached");
        }
        if let Some(m) = message {
            let sent = deliveries.iter().filter(|d| d.delivered).count();
            if deliveries.is_empty() {
                line.push_str(&format!(" · {} (no --notify to send it to)", m.event));
            } else {
                line.push_str(&format!(
                    " · {}: sent to {sent}/{}",
                    m.event,
                    deliveries.len()
                ));
            }
            if m.event == "gave-up" {
                line.push_str(&format!("\n{}", clean(&m.headline)));
            }
        }
        line
    }
}

/// `--install`/`--uninstall`: every file with its text (secrets left out), every command, or
/// the crontab line when systemd is not running here.
pub fn install_plan(p: &Plan) {
    if let Some(line) = &p.crontab {
        if !p.install {
            outln!("systemd is not PID 1 here: no timer to remove. Remove the line that runs");
            outln!(
                "`fixer watch --once {}` from /etc/cron.d/fixer-watch.",
                clean(&p.instance)
            );
            return;
        }
        outln!("systemd is not PID 1 here: no timer. Add this line to /etc/cron.d/fixer-watch");
        outln!(
            "(cron runs it in whole minutes; set the env:NAME variables above it as NAME=value):"
        );
        outln!();
        outln!("{}", clean(line));
        return;
    }
    for f in &p.files {
        outln!("Write {} (mode {:o}):", f.path.display(), f.mode);
        for l in f.shown.lines() {
            outln!("  | {}", clean(l));
        }
    }
    for path in &p.remove {
        outln!("Remove {}", path.display());
    }
    for c in &p.commands {
        outln!("Run systemctl {}", c.join(" "));
    }
    for n in &p.notes {
        outln!("Note: {}", clean(n));
    }
}

/// A step of --install as it happens, or why nothing happened.
pub fn install_message(line: &str) {
    outln!("{}", clean(line));
}
