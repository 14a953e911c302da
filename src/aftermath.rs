//! What a fix that stopped early — interrupted, declined half-way, failed — leaves behind, in
//! the operator's terms: which processes were signalled and whether they are gone, whether the
//! backend runs, and the command that finishes the job. "Declined: nothing was changed" after
//! a kill was a lie; this is read from the system at the moment fixer stops.

use crate::action::{restart, Outcome, Record, Started};
use crate::sys::signal::{Handle, Lost};
use crate::target::Target;

/// The actions that changed something, e.g. `kill-holder (interrupted)`; empty when none did.
pub fn done(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.consent != crate::consent::Approval::None)
        .filter(|r| {
            !r.signalled.is_empty()
                || matches!(
                    r.result,
                    Outcome::Done | Outcome::Interrupted | Outcome::Failed
                )
        })
        .map(|r| format!("{} ({})", r.code.as_str(), outcome_word(r.result)))
        .collect()
}

/// The state left, as one sentence: "PID 4242 was sent SIGTERM and has exited; the backend is
/// not running; run `fixer fix …` to start it".
pub fn state(records: &[Record], started: &mut [Started], target: &Target) -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in records {
        for s in &r.signalled {
            let now = match Handle::open(&s.id) {
                Ok(h) if !h.exited() => "is still running",
                Ok(_) | Err(Lost::Gone) => "has exited",
                Err(Lost::Changed(_)) => "has exited (its PID now names another process)",
            };
            parts.push(format!("PID {} was sent {} and {now}", s.id.pid, s.signal));
        }
    }
    let mut running_started = false;
    for s in started.iter_mut() {
        let pid = s.backend.as_ref().map_or(s.child.id() as i32, |b| b.pid);
        if s.died().is_none() {
            running_started = true;
            parts.push(format!("the backend fixer started (PID {pid}) is running"));
        } else {
            parts.push(format!("the backend fixer started (PID {pid}) has exited"));
        }
    }
    let rerun = rerun_command();
    match &target.backend {
        Some(b) if restart::listening(&b.address) => {
            parts.push(format!("{} listens", b.address));
            parts.push(format!("run `{rerun}` to check and finish"));
        }
        Some(b) if running_started => {
            parts.push(format!("nothing listens on {} yet", b.address));
            parts.push(format!("run `{rerun}` to check and finish"));
        }
        Some(b) => {
            parts.push(format!(
                "nothing listens on {}: the backend is not running",
                b.address
            ));
            parts.push(format!("run `{rerun}` to start it"));
        }
        None => parts.push(format!("run `{rerun}` to finish")),
    }
    parts.join("; ")
}

pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Declined => "declined",
        Outcome::Aborted => "aborted",
        Outcome::Failed => "failed",
        Outcome::Planned => "planned",
        Outcome::Interrupted => "interrupted",
    }
}

/// This very invocation, shell-quoted, to run again.
fn rerun_command() -> String {
    let mut words = vec!["fixer".to_string()];
    words.extend(std::env::args().skip(1).map(|a| quote(&a)));
    crate::sanitize::clean(&words.join(" "))
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_what_a_shell_would_split() {
        assert_eq!(quote("-p"), "-p");
        assert_eq!(quote("/tmp/lab/playbook.toml"), "/tmp/lab/playbook.toml");
        assert_eq!(quote("cd /x && run"), "'cd /x && run'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
