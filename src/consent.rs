//! Asking before anything changes. The prompt goes to stderr and defaults to "no"; `--yes`
//! answers yes; `--dry-run` only shows the plan; without a terminal and without `--yes`,
//! fixer refuses instead of guessing.

use std::io::IsTerminal;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Prompt,
    Yes,
    DryRun,
    /// No terminal to ask on and no `--yes`.
    Refuse,
}

/// How an action was (or was not) approved; recorded in the JSON and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    Prompt,
    YesFlag,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved(Approval),
    Declined,
    /// `--dry-run`: show, do not ask, do not act.
    PlanOnly,
    /// No way to ask: the caller says how to proceed.
    Refused,
}

#[derive(Debug, Clone, Copy)]
pub struct Consent {
    pub mode: Mode,
    pub force_foreign: bool,
}

/// dialoguer checks only that stderr is a terminal and then reads /dev/tty; fixer also needs
/// stdin to be one, or `fixer fix < /dev/null` in a cron job would block on the controlling tty.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

impl Consent {
    pub fn from_flags(yes: bool, dry_run: bool, force_foreign: bool) -> Consent {
        let mode = if dry_run {
            Mode::DryRun
        } else if yes {
            Mode::Yes
        } else if can_prompt() {
            Mode::Prompt
        } else {
            Mode::Refuse
        };
        Consent {
            mode,
            force_foreign,
        }
    }

    /// Asks about one action. A `foreign` action (touching a process that is not the backend)
    /// needs a typed yes even with `--yes`, unless `--force-foreign` was given.
    pub fn ask(&self, question: &str, foreign: bool) -> Decision {
        match self.mode {
            Mode::DryRun => Decision::PlanOnly,
            Mode::Yes if !foreign || self.force_foreign => Decision::Approved(Approval::YesFlag),
            Mode::Yes | Mode::Prompt if can_prompt() => prompt(question),
            Mode::Yes | Mode::Prompt | Mode::Refuse => Decision::Refused,
        }
    }
}

fn prompt(question: &str) -> Decision {
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .show_default(true)
        .wait_for_newline(false)
        .interact_opt();
    match answer {
        Ok(Some(true)) => Decision::Approved(Approval::Prompt),
        _ => Decision::Declined,
    }
}
