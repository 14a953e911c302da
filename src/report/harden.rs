//! What `fixer harden` prints: what it read, each finding with the text that fixes it and
//! where that goes, the plan of `--apply` and its progress, and what is left afterwards. With
//! `--json`, one document on stdout; plans and progress then go to stderr.

use console::Style as Paint;
use serde_json::json;

use super::Style;
use crate::action::harden::Record;
use crate::check::harden::{Hardening, Item};
use crate::exit_code::ExitCode;
use crate::sanitize::clean;
use crate::target::Target;

pub struct Out {
    style: Style,
}

impl Out {
    pub fn new(style: Style) -> Out {
        Out { style }
    }

    fn paint(&self, p: Paint) -> Paint {
        p.force_styling(self.style.color)
    }

    /// A line for the operator: stdout, or stderr under `--json`.
    fn say(&self, line: &str) {
        if self.style.json {
            eprintln!("{line}");
        } else {
            outln!("{line}");
        }
    }

    pub fn findings(&self, target: &Target, h: &Hardening) {
        if self.style.json {
            return;
        }
        super::human::Human::new(self.style).header("harden", target);
        for line in &h.evidence {
            outln!("  {}", clean(line));
        }
        for e in &h.errors {
            let mark = self.paint(Paint::new().yellow()).apply_to("!");
            outln!("{mark} could not check: {}", clean(e));
        }
        outln!();
        if h.items.is_empty() && h.errors.is_empty() {
            let mark = self.paint(Paint::new().green()).apply_to("✓");
            outln!("{mark} Nothing to harden: the backend's supervisor, nginx's timeouts and log rotation are in place.");
        }
        for item in &h.items {
            self.item(item);
        }
    }

    fn item(&self, item: &Item) {
        let mark = self.paint(Paint::new().red().bold()).apply_to("✗");
        let code = self
            .paint(Paint::new().bold())
            .apply_to(item.finding.code.as_str());
        outln!("{mark} {code}: {}", clean(&item.finding.cause));
        if let Some(a) = &item.finding.action {
            outln!("    → {}", clean(a));
        }
        outln!("    {}:", clean(&item.place));
        for line in item.snippet.lines() {
            outln!("      {}", clean(line));
        }
        outln!();
    }

    /// Without `--apply`: what it would do, and what stays with the operator.
    pub fn hint(&self, h: &Hardening, apply: bool) {
        if self.style.json || h.items.is_empty() {
            return;
        }
        let by_hand = h.items.iter().filter(|i| !i.by_apply).count();
        match (&h.change, apply) {
            (Some(c), _) => outln!(
                "`fixer harden --apply` writes {}, runs `systemctl daemon-reload`{}.{}",
                c.path.display(),
                if c.enable {
                    format!(" and enables {}", c.unit)
                } else {
                    String::new()
                },
                if by_hand > 0 {
                    " The other snippets are yours to apply."
                } else {
                    ""
                }
            ),
            (None, _) => {
                outln!("Apply the snippets above by hand: `fixer harden --apply` changes only systemd units.")
            }
        }
    }

    pub fn plan(&self, lines: &[String]) {
        let title = self
            .paint(Paint::new().bold().cyan())
            .apply_to("Plan: harden-unit");
        self.say(&format!("{title}"));
        for line in lines {
            self.say(&format!("  {}", clean(line)));
        }
    }

    pub fn message(&self, msg: &str) {
        self.say(&clean(msg));
    }

    pub fn action_line(&self, line: &str) {
        self.say(&format!("  · {}", clean(line)));
    }

    /// Re-checked after `--apply`.
    pub fn after(&self, h: &Hardening) {
        if self.style.json {
            return;
        }
        outln!();
        if h.items.is_empty() {
            let mark = self.paint(Paint::new().green()).apply_to("✓");
            outln!("{mark} Hardened: nothing left to harden.");
            return;
        }
        outln!("Still to do (by hand):");
        for item in &h.items {
            outln!(
                "  {}: {}",
                item.finding.code.as_str(),
                clean(&item.finding.cause)
            );
        }
    }

    pub fn finish(
        &self,
        target: &Target,
        before: &Hardening,
        action: Option<&Record>,
        after: Option<&Hardening>,
        code: ExitCode,
    ) {
        if !self.style.json {
            return;
        }
        super::json::print(&json!({
            "command": "harden",
            "playbook": target.name,
            "source": target.source,
            "time": crate::clock::now_rfc3339(),
            "harden": before,
            "action": action,
            "after": after,
            "exit_code": code.code(),
        }));
    }
}
