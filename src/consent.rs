//! Asking before anything changes. The prompt goes to stderr and defaults to "no"; `--yes`
//! answers yes; `--dry-run` only shows the plan; without a terminal and without `--yes`,
//! fixer refuses instead of guessing.
//!
//! Each question takes a whole line, and anything typed before it was asked is discarded: an
//! operator's habitual `y⏎` once answered "Kill the holder?" with `y` and "Start the
//! backend?" with the `⏎` (its default, no), leaving the backend down unseen. The prompt is
//! the one piece of terminal output outside `report`: it belongs to the question it asks.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Prompt,
    Yes,
    DryRun,
    /// No terminal to ask on and no `--yes`.
    Refuse,
    /// `fixer watch --fix`: nobody to ask; the playbook's `[watch] auto_fix` said which actions
    /// are fine, and a process that is not the backend is never touched.
    Auto,
}

/// How an action was (or was not) approved; recorded in the JSON and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    Prompt,
    YesFlag,
    /// Allowed by the playbook's `[watch] auto_fix`, run by `fixer watch --fix`.
    AutoFix,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approved(Approval),
    Declined,
    /// `--dry-run`: show, do not ask, do not act.
    PlanOnly,
    /// No way to ask: the caller says how to proceed.
    Refused,
    /// Ctrl-C or SIGTERM while the question was open.
    Interrupted,
}

#[derive(Debug, Clone, Copy)]
pub struct Consent {
    pub mode: Mode,
    pub force_foreign: bool,
}

/// The question goes to stderr and the answer comes from stdin, so both must be the terminal:
/// `fixer fix < /dev/null` in a cron job must refuse, not read an empty answer or block.
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
    pub fn ask(&self, question: &str, foreign: bool) -> Answer {
        match self.mode {
            Mode::DryRun => Answer::PlanOnly,
            Mode::Auto if !foreign => Answer::Approved(Approval::AutoFix),
            Mode::Auto => Answer::Refused,
            Mode::Yes if !foreign || self.force_foreign => Answer::Approved(Approval::YesFlag),
            Mode::Yes | Mode::Prompt if can_prompt() => prompt(question),
            Mode::Yes | Mode::Prompt | Mode::Refuse => Answer::Refused,
        }
    }
}

/// The longest answer read; the rest of a longer line is discarded.
const ANSWER_BYTES: usize = 256;
/// How often a waiting prompt looks whether fixer was interrupted.
const INTERRUPT_POLL: Duration = Duration::from_millis(100);

fn prompt(question: &str) -> Answer {
    let stdin = std::io::stdin();
    // Type-ahead belongs to an earlier question (or none): it must not answer this one.
    let _ = rustix::termios::tcflush(stdin.as_fd(), rustix::termios::QueueSelector::IFlush);
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{} [y/N] ", crate::sanitize::clean(question));
    let _ = err.flush();
    drop(err);
    let answer = match read_line(&stdin) {
        Some(line) => line,
        None if crate::sys::interrupt::caught().is_some() => {
            let _ = writeln!(std::io::stderr());
            return Answer::Interrupted;
        }
        None => String::new(),
    };
    if crate::sys::interrupt::caught().is_some() {
        return Answer::Interrupted;
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Answer::Approved(Approval::Prompt),
        _ => Answer::Declined,
    }
}

/// One line from the terminal (canonical mode delivers it whole), bounded; None on end of
/// input, an error, or an interruption.
fn read_line(stdin: &std::io::Stdin) -> Option<String> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use rustix::io::Errno;
    let fd = stdin.as_fd();
    let timeout = Timespec::try_from(INTERRUPT_POLL).ok();
    let mut line = Vec::new();
    loop {
        if crate::sys::interrupt::caught().is_some() {
            return None;
        }
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) | Err(Errno::INTR) => continue,
            Err(_) => return None,
            Ok(_) => {}
        }
        let mut buf = [0u8; 512];
        let n = match rustix::io::read(fd, &mut buf) {
            Ok(0) => return (!line.is_empty()).then(|| utf8(&line)),
            Ok(n) => n,
            Err(Errno::INTR | Errno::AGAIN) => continue,
            Err(_) => return None,
        };
        let chunk = &buf[..n];
        let end = chunk.iter().position(|b| *b == b'\n');
        let take = end.unwrap_or(n);
        let room = ANSWER_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..take.min(room)]);
        if end.is_some() {
            return Some(utf8(&line));
        }
    }
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
