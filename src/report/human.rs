//! The report an operator reads at 3 a.m.: one line per step with its verdict, the evidence
//! indented under it, a summary table, and one "Root cause:" sentence.

use std::time::Duration;

use comfy_table::{presets, ContentArrangement};
use console::Style as Paint;
use indicatif::{ProgressBar, ProgressStyle};

use super::Style;
use crate::chain::{Diagnosis, Progress};
// Every line printed here is escaped and cut to what a terminal shows (`--json` keeps it whole).
use crate::sanitize::shown as clean;
use crate::step::{StepName, StepResult, Verdict};
use crate::target::Target;

pub struct Human {
    style: Style,
    spinner: Option<ProgressBar>,
}

impl Human {
    pub fn new(style: Style) -> Human {
        Human {
            style,
            spinner: None,
        }
    }

    fn paint(&self, p: Paint) -> Paint {
        p.force_styling(self.style.color)
    }

    pub fn header(&self, command: &str, target: &Target) {
        let title = self.paint(Paint::new().bold());
        outln!(
            "{} — playbook {} ({}) — {}",
            title.apply_to(format!("fixer {command}")),
            clean(&target.name),
            clean(&target.source),
            crate::clock::now_rfc3339()
        );
        outln!();
    }

    fn symbol(&self, v: Verdict) -> String {
        let (s, p) = match v {
            Verdict::Ok => ("✓", Paint::new().green()),
            Verdict::Warn => ("!", Paint::new().yellow()),
            Verdict::Fail => ("✗", Paint::new().red().bold()),
            Verdict::Skip => ("-", Paint::new().dim()),
        };
        self.paint(p).apply_to(s).to_string()
    }

    fn print_step(&self, r: &StepResult) {
        let time = r.started_at.get(11..19).unwrap_or("");
        outln!(
            "{} {:<13} {}  {}",
            self.symbol(r.verdict),
            r.name.as_str(),
            clean(&r.summary),
            self.paint(Paint::new().dim())
                .apply_to(format!("[{time}, {} ms]", r.elapsed_ms))
        );
        for line in &r.evidence {
            outln!("    {}", clean(line));
        }
        if let Some(f) = &r.finding {
            let code = self.paint(Paint::new().bold()).apply_to(f.code.as_str());
            match &f.action {
                Some(a) => outln!("    → {code}: {}", clean(a)),
                None => outln!("    → {code}"),
            }
        }
    }

    /// `fixer verify`: the recurl step, the URL table, the tls and auth steps when they looked
    /// at something, and a one-line verdict naming the first failure.
    pub fn verification(&mut self, steps: &[StepResult], healthy: bool) {
        let Some((step, rest)) = steps.split_first() else {
            return;
        };
        self.print_step(step);
        for s in rest.iter().filter(|s| s.verdict != Verdict::Skip) {
            self.print_step(s);
        }
        outln!();
        verification_table(step);
        let worst = steps
            .iter()
            .find(|s| s.verdict == Verdict::Fail || s.error.is_some())
            .unwrap_or(step);
        self.verdict_line(healthy, worst);
    }

    /// The last line of `verify`.
    fn verdict_line(&self, healthy: bool, step: &StepResult) {
        if healthy {
            outln!(
                "{} {}",
                self.paint(Paint::new().green().bold()).apply_to("Healthy:"),
                clean(&step.summary)
            );
        } else {
            outln!(
                "{} {}",
                self.paint(Paint::new().red().bold()).apply_to("Unhealthy:"),
                clean(&step.summary)
            );
        }
    }

    pub fn summary(&self, d: &Diagnosis) {
        outln!();
        let mut table = super::table();
        table
            .load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(["step", "verdict", "what was seen", "ms"]);
        if !table.is_tty() {
            table.set_width(120);
        }
        for s in &d.steps {
            table.add_row([
                s.name.as_str().to_string(),
                s.verdict.as_str().to_string(),
                clean(&s.summary),
                s.elapsed_ms.to_string(),
            ]);
        }
        outln!("{table}");
        outln!();
        match d.root_cause() {
            Some(f) => {
                for other in d.other_failures() {
                    outln!("Also failing: {} [{}]", clean(&other.cause), other.code);
                }
                let label = self
                    .paint(Paint::new().red().bold())
                    .apply_to("Root cause:");
                outln!("{label} {} [{}]", clean(&f.cause), f.code);
            }
            None if !d.healthy() => {
                let label = self
                    .paint(Paint::new().yellow().bold())
                    .apply_to("Incomplete:");
                outln!(
                    "{label} no check failed, but health is not proven: could not run {}",
                    clean(&d.incomplete_reason())
                );
            }
            None => {
                let label = self.paint(Paint::new().green().bold()).apply_to("Healthy:");
                let warnings = d
                    .steps
                    .iter()
                    .filter(|s| s.verdict == crate::step::Verdict::Warn)
                    .count();
                let note = match warnings {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                };
                outln!("{label} every check passed ({} ms{note}).", d.elapsed_ms);
            }
        }
    }
}

impl Progress for Human {
    fn begin(&mut self, step: StepName) {
        if !self.style.spinner {
            return;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(s) = ProgressStyle::with_template("{spinner} checking {msg}…") {
            pb.set_style(s);
        }
        pb.set_message(step.as_str());
        pb.enable_steady_tick(Duration::from_millis(80));
        self.spinner = Some(pb);
    }

    fn done(&mut self, result: &StepResult) {
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
        self.print_step(result);
    }
}

/// `fixer playbooks`: what can be used, and where each comes from.
/// The URLs checked, one row each.
pub fn verification_table(step: &StepResult) {
    let mut table = super::table();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["url", "via", "status", "expected", "ms", "ok"]);
    for u in step.details.urls() {
        let status = u.status.map_or_else(
            || u.error_kind.as_deref().unwrap_or("-").to_string(),
            |s| s.to_string(),
        );
        let expect: Vec<String> = u.expect.iter().map(|e| e.to_string()).collect();
        table.add_row([
            clean(&u.url),
            clean(u.via.as_deref().unwrap_or("-")),
            status,
            if expect.is_empty() {
                "<500".to_string()
            } else {
                expect.join(",")
            },
            u.elapsed_ms.to_string(),
            if u.healthy { "yes" } else { "NO" }.to_string(),
        ]);
    }
    outln!("{table}");
}

pub fn playbooks(list: &[crate::playbook::lookup::Listed]) {
    let mut table = super::table();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["name", "source", "status", "description"]);
    for p in list {
        let source = if p.shadowed {
            format!("{} (hidden by the one above)", p.source)
        } else {
            p.source.clone()
        };
        table.add_row([
            clean(&p.name),
            clean(&source),
            clean(p.problem.as_deref().unwrap_or("ok")),
            clean(p.description.as_deref().unwrap_or("")),
        ]);
    }
    outln!("{table}");
}

/// `fixer log`: the audit trail as a table (or raw JSON lines).
pub fn audit(path: &std::path::Path, entries: &[serde_json::Value], json: bool) {
    if json {
        for e in entries {
            outln!("{e}");
        }
        return;
    }
    outln!(
        "{} ({})",
        path.display(),
        crate::text::count(entries.len(), "entry", "entries")
    );
    let mut table = super::table();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "time", "user", "playbook", "action", "phase", "result", "target",
        ]);
    let s = |v: &serde_json::Value| clean(v.as_str().unwrap_or("-"));
    for e in entries {
        let target = &e["target"];
        let what = match (
            target["pid"].as_i64(),
            target["unit"].as_str(),
            target["command"].as_str(),
        ) {
            (Some(pid), _, _) => format!("PID {pid} {}", s(&target["cmdline"])),
            (None, Some(unit), _) => format!("unit {unit}"),
            (None, None, Some(cmd)) => clean(cmd),
            _ => "-".into(),
        };
        table.add_row([
            s(&e["time"]).get(..19).unwrap_or("-").replace('T', " "),
            s(&e["user"]),
            s(&e["playbook"]),
            s(&e["action"]),
            s(&e["phase"]),
            if e["result"].is_null() {
                "-".into()
            } else {
                s(&e["result"])
            },
            what,
        ]);
    }
    outln!("{table}");
}
