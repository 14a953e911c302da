//! What `fixer fix` and `fixer verify` print: plans before consent, each action's progress,
//! and the verification table.

use std::time::Duration;

use console::Style as Paint;
use indicatif::ProgressBar;

use super::human::Human;
use super::Style;
use crate::action::Plan;
use crate::chain::{Diagnosis, Progress, Quiet};
use crate::fix::FixReport;
use crate::plan::Manual;
// Every line printed here is escaped and cut to what a terminal shows (`--json` keeps it whole).
use crate::sanitize::shown as clean;
use crate::step::StepResult;

pub struct HumanFix {
    human: Human,
    style: Style,
    spinner: Option<ProgressBar>,
}

impl HumanFix {
    pub fn new(style: Style) -> HumanFix {
        HumanFix {
            human: Human::new(style),
            style,
            spinner: None,
        }
    }

    pub fn human(&self) -> &Human {
        &self.human
    }

    fn paint(&self, p: Paint) -> Paint {
        p.force_styling(self.style.color)
    }
}

impl FixReport for HumanFix {
    fn round(&mut self, round: usize) {
        if round > 0 {
            outln!();
            outln!(
                "{}",
                self.paint(Paint::new().bold())
                    .apply_to("Re-checking the chain")
            );
        }
    }

    fn progress(&mut self) -> &mut dyn Progress {
        &mut self.human
    }

    fn diagnosis_done(&mut self, d: &Diagnosis) {
        self.human.summary(d);
    }

    fn message(&mut self, msg: &str) {
        outln!("{}", clean(msg));
    }

    fn plan(&mut self, p: &Plan) {
        outln!();
        let title = self
            .paint(Paint::new().bold().cyan())
            .apply_to(format!("Plan: {}", p.code.as_str()));
        outln!("{title}");
        for line in &p.lines {
            let line = clean(line);
            if line.starts_with("WARNING") {
                outln!("  {}", self.paint(Paint::new().red().bold()).apply_to(line));
            } else {
                outln!("  {line}");
            }
        }
    }

    fn action_line(&mut self, line: &str) {
        outln!("  · {}", clean(line));
    }

    fn verifying(&mut self, wait: Duration) {
        outln!();
        let msg = format!("Verifying (up to {} s)…", wait.as_secs());
        if self.style.spinner {
            let pb = ProgressBar::new_spinner();
            pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            pb.set_message(msg);
            pb.enable_steady_tick(Duration::from_millis(80));
            self.spinner = Some(pb);
        } else {
            outln!("{msg}");
        }
    }

    fn verify_attempt(&mut self, attempt: usize, step: &StepResult, nginx_lagging: bool) {
        let why = if nginx_lagging {
            "the backend answers, but nginx still fails — it keeps a failed peer out for its fail_timeout (10 s by default); polling"
        } else {
            step.summary.as_str()
        };
        match &self.spinner {
            Some(pb) => pb.set_message(format!("Verifying (attempt {attempt}): {}", clean(why))),
            None if attempt == 1 || nginx_lagging && attempt % 4 == 1 => {
                outln!("  attempt {attempt}: {}", clean(why))
            }
            None => {}
        }
    }

    fn verifying_done(&mut self) {
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
    }

    fn verified_locally(&mut self, step: &StepResult) {
        super::human::verification_table(step);
        outln!(
            "{} the backend and nginx answer as expected on this server, but users may not reach it yet.",
            self.paint(Paint::new().yellow().bold())
                .apply_to("Fixed locally and verified:")
        );
    }

    fn manual(&mut self, items: &[Manual]) {
        if !items.is_empty() {
            outln!();
        }
        for line in manual_lines(items) {
            outln!("{line}");
        }
    }

    fn verified(&mut self, step: &StepResult, healthy: bool) {
        super::human::verification_table(step);
        if healthy {
            outln!(
                "{} the site answers as expected.",
                self.paint(Paint::new().green().bold())
                    .apply_to("Fixed and verified:")
            );
        } else {
            outln!(
                "{} {}",
                self.paint(Paint::new().red().bold())
                    .apply_to("Still unhealthy:"),
                clean(&step.summary)
            );
        }
    }
}

/// "Left for you to change:" and one entry per failure, cause then what to change.
fn manual_lines(items: &[Manual]) -> Vec<String> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut lines = vec!["Left for you to change (fixer does not change these):".to_string()];
    for m in items {
        lines.push(format!("  - {} [{}]", clean(&m.cause), m.code));
        lines.push(format!("    {}", clean(&m.change)));
    }
    lines
}

/// JSON mode: nothing on stdout until the final document. When the operator will be asked,
/// each plan (PID, command line, user, start time, signal) and the action's progress go to
/// stderr, so a `--json` run at a terminal never asks about something it has not shown.
pub struct SilentFix {
    quiet: Quiet,
    show_plans: bool,
}

impl SilentFix {
    pub fn new() -> SilentFix {
        SilentFix {
            quiet: Quiet,
            show_plans: false,
        }
    }

    /// For `--json`: plans and progress on stderr only when someone may be asked (a foreign
    /// holder asks even with --yes), so whoever answers sees the plan first.
    pub fn for_json(consent: &crate::consent::Consent) -> SilentFix {
        let may_ask = consent.mode != crate::consent::Mode::DryRun && crate::consent::can_prompt();
        if may_ask {
            SilentFix::showing_plans()
        } else {
            SilentFix::new()
        }
    }

    /// For runs that prompt: plans and progress on stderr.
    pub fn showing_plans() -> SilentFix {
        SilentFix {
            show_plans: true,
            ..SilentFix::new()
        }
    }
}

impl Default for SilentFix {
    fn default() -> Self {
        SilentFix::new()
    }
}

impl FixReport for SilentFix {
    fn round(&mut self, _: usize) {}
    fn progress(&mut self) -> &mut dyn Progress {
        &mut self.quiet
    }
    fn diagnosis_done(&mut self, _: &Diagnosis) {}
    fn message(&mut self, msg: &str) {
        eprintln!("{}", clean(msg));
    }
    fn plan(&mut self, p: &Plan) {
        if self.show_plans {
            eprintln!("Plan: {}", p.code.as_str());
            for line in &p.lines {
                eprintln!("  {}", clean(line));
            }
        }
    }
    fn action_line(&mut self, line: &str) {
        if self.show_plans {
            eprintln!("  · {}", clean(line));
        }
    }
    fn verifying(&mut self, _: Duration) {}
    fn verify_attempt(&mut self, _: usize, _: &StepResult, _: bool) {}
    fn verifying_done(&mut self) {}
    fn verified(&mut self, _: &StepResult, _: bool) {}
    fn verified_locally(&mut self, _: &StepResult) {}
    fn manual(&mut self, items: &[Manual]) {
        for line in manual_lines(items) {
            eprintln!("{line}");
        }
    }
}
