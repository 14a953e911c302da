//! When a round is worth telling someone: a change of state, an unattended action, a
//! reminder after N unhealthy rounds, giving up at the flap limit — never every round.

use crate::notify::{Cause, Message};
use crate::playbook::watch::{show_duration, WatchPolicy};
use crate::target::Target;

use super::memory::Memory;
use super::round::{Health, Round};

/// The event of this round given the last one's memory, or None when nothing changed.
pub fn of(
    before: &Memory,
    round: &Round,
    policy: &WatchPolicy,
    rounds: u32,
) -> Option<&'static str> {
    if round.gave_up && !before.gave_up {
        return Some("gave-up");
    }
    if round.fixed_something {
        return Some(match round.health {
            Health::Healthy => "fixed",
            _ => "still-down",
        });
    }
    let same = before.state.as_deref() == Some(round.health.as_str());
    match round.health {
        Health::Healthy if same || before.state.is_none() => None,
        Health::Healthy => Some("up"),
        _ if same => {
            // The first unhealthy round alerted; remind every N rounds after it.
            let since_alert = rounds.saturating_sub(1);
            (policy.remind_every > 0
                && since_alert > 0
                && since_alert.is_multiple_of(policy.remind_every))
            .then_some("reminder")
        }
        Health::Unhealthy => Some("down"),
        Health::Unknown => Some("unknown"),
    }
}

/// The memory after this round.
pub fn remember(before: &Memory, round: &Round) -> Memory {
    let mut m = before.clone();
    let state = round.health.as_str();
    if m.state.as_deref() != Some(state) {
        m.since = Some(crate::clock::now_rfc3339());
    }
    m.state = Some(state.to_string());
    m.unhealthy_rounds = match round.health {
        Health::Healthy => 0,
        _ => before.unhealthy_rounds.saturating_add(1),
    };
    m.gave_up = round.gave_up
        || (before.gave_up && round.health != Health::Healthy && !round.fixed_something);
    m
}

pub fn message(
    target: &Target,
    event: &'static str,
    before: &Memory,
    after: &Memory,
    round: &Round,
) -> Message {
    let name = &target.name;
    let cause = round
        .root_cause
        .as_ref()
        .map(|f| f.cause.clone())
        .or_else(|| round.error.clone())
        .unwrap_or_else(|| "the health check fails".into());
    let acted = round.actions.join(", ");
    let policy = &target.watch;
    let headline = match event {
        "gave-up" => format!(
            "GAVE UP after {} automatic fixes in {}: fixer stopped fixing {name}; a person must look. {cause}",
            policy.max_fixes,
            show_duration(policy.window)
        ),
        "fixed" => format!("{name} was down and fixer repaired it ({acted}). {cause}"),
        "still-down" => format!("{name} is still down after fixer tried {acted}. {cause}"),
        "up" => match &before.since {
            Some(since) => format!("{name} is healthy again (not healthy since {since})"),
            None => format!("{name} is healthy again"),
        },
        "down" => format!("{name} is down: {cause}"),
        "reminder" => format!(
            "{name} is still {} after {} rounds: {cause}",
            round.health.as_str(),
            after.unhealthy_rounds
        ),
        _ => format!("{name} cannot be checked: {cause}"),
    };
    Message {
        host: crate::state::hostname(),
        playbook: name.clone(),
        event,
        state: round.health.as_str(),
        previous_state: before.state.as_deref().map(state_name),
        headline,
        root_cause: round.root_cause.as_ref().map(|f| Cause {
            code: f.code.as_str().to_string(),
            cause: f.cause.clone(),
        }),
        actions: round.actions.clone(),
        not_fixed: round
            .notes
            .iter()
            .filter(|n| n.starts_with("Not fixing"))
            .cloned()
            .collect(),
        unhealthy_rounds: after.unhealthy_rounds,
        time: crate::clock::now_rfc3339(),
    }
}

fn state_name(s: &str) -> &'static str {
    match s {
        "healthy" => "healthy",
        "unhealthy" => "unhealthy",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_code::ExitCode;

    fn round(health: Health, fixed: bool, gave_up: bool) -> Round {
        Round {
            health,
            exit: ExitCode::Healthy,
            verification: None,
            root_cause: None,
            error: None,
            actions: Vec::new(),
            fixed_something: fixed,
            notes: Vec::new(),
            gave_up,
        }
    }

    /// The events of a sequence of rounds, each remembered for the next.
    fn events(rounds: &[Round], remind_every: u32) -> Vec<Option<&'static str>> {
        let policy = WatchPolicy {
            remind_every,
            ..WatchPolicy::default()
        };
        let mut memory = Memory::default();
        rounds
            .iter()
            .map(|r| {
                let after = remember(&memory, r);
                let e = of(&memory, r, &policy, after.unhealthy_rounds);
                memory = after;
                e
            })
            .collect()
    }

    #[test]
    fn only_changes_and_reminders_are_told() {
        use Health::*;
        let seq = [
            round(Healthy, false, false),
            round(Healthy, false, false),
            round(Unhealthy, false, false),
            round(Unhealthy, false, false),
            round(Unhealthy, false, false),
            round(Unhealthy, false, false),
            round(Unknown, false, false),
            round(Healthy, false, false),
        ];
        assert_eq!(
            events(&seq, 2),
            [
                None,
                None,
                Some("down"),
                None,
                Some("reminder"),
                None,
                Some("unknown"),
                Some("up")
            ]
        );
    }

    #[test]
    fn fixes_are_always_told_and_giving_up_once() {
        use Health::*;
        let seq = [
            round(Unhealthy, false, false),
            round(Healthy, true, false),
            round(Unhealthy, true, false),
            round(Unhealthy, false, true),
            round(Unhealthy, false, true),
            round(Healthy, false, false),
        ];
        assert_eq!(
            events(&seq, 0),
            [
                Some("down"),
                Some("fixed"),
                Some("still-down"),
                Some("gave-up"),
                None,
                Some("up")
            ]
        );
    }
}
