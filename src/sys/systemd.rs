//! Read-only questions to systemd about one unit: its properties (`systemctl show`) and its
//! last journal lines. The parsers are pure functions over the text, tested on output captured
//! from systemd 252 (tests/fixtures/systemd).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::command;

/// Any one `systemctl show` or `journalctl` call; both answer in milliseconds unless wedged.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Journal lines read for evidence: enough for a crash loop's last few rounds.
pub const JOURNAL_LINES: usize = 20;

/// `KEY=VALUE` lines of `systemctl show`. An empty value (e.g. a timestamp that never
/// happened) reads as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitProps(BTreeMap<String, String>);

impl UnitProps {
    pub fn parse(text: &str) -> UnitProps {
        UnitProps(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// systemd is bringing the unit back on its own: waiting out RestartSec after a crash
    /// (`auto-restart`), or a start already in progress.
    pub fn restarting(&self) -> bool {
        self.get("SubState") == Some("auto-restart")
            || self.get("ActiveState") == Some("activating")
    }

    /// `KEY=VALUE` pairs in the order asked for, for an evidence line.
    pub fn shown(&self, keys: &[&str]) -> String {
        keys.iter()
            .filter_map(|k| Some(format!("{k}={}", self.get(k)?)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `systemctl show -p KEYS UNIT`.
pub fn show(unit: &str, keys: &[&str]) -> anyhow::Result<UnitProps> {
    let o = command::run(
        Command::new("systemctl").args(["show", "-p", &keys.join(","), unit]),
        QUERY_TIMEOUT,
    )?;
    anyhow::ensure!(
        o.success(),
        "systemctl show {unit}: {}",
        o.stderr.lines().next().unwrap_or("failed")
    );
    Ok(UnitProps::parse(&o.stdout))
}

/// The unit's last `n` journal lines (`journalctl -u UNIT -n N -o short-iso`).
pub fn journal(unit: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let o = command::run(
        Command::new("journalctl").args([
            "-u",
            unit,
            "-n",
            &n.to_string(),
            "-o",
            "short-iso",
            "--no-pager",
        ]),
        QUERY_TIMEOUT,
    )
    .with_context(|| format!("reading the journal of {unit}"))?;
    Ok(journal_lines(&o.stdout, n))
}

/// Journal text as lines, without journalctl's `-- No entries --` style notes.
pub fn journal_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("-- "))
        .map(str::to_string)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Whether the unit's last start was refused by its start limit (StartLimitBurst within
/// StartLimitIntervalSec). systemd 252 keeps `Result=exit-code` when a crash loop runs into the
/// limit, so `Result=start-limit-hit` alone misses it; the journal says "Start request repeated
/// too quickly" after the last time the unit started.
pub fn start_limit_in_journal(lines: &[String]) -> bool {
    let pos = |needle: &str| lines.iter().rposition(|l| l.contains(needle));
    match (
        pos("Start request repeated too quickly"),
        pos(" systemd[1]: Started "),
    ) {
        (Some(limit), started) => started.is_none_or(|s| limit > s),
        (None, _) => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A unit file or `systemctl show` output captured from systemd 252.
    pub(crate) fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/systemd/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn journal_fixture(name: &str) -> Vec<String> {
        journal_lines(&fixture(name), JOURNAL_LINES)
    }

    #[test]
    fn show_output_parses_and_empty_values_are_absent() {
        let p = UnitProps::parse(&fixture("show-killed.txt"));
        assert_eq!(p.get("Result"), Some("signal"));
        assert_eq!(p.get("ExecMainStatus"), Some("9"));
        assert_eq!(p.get("MainPID"), Some("0"));
        assert_eq!(
            UnitProps::parse("ActiveEnterTimestamp=\n").get("ActiveEnterTimestamp"),
            None
        );
        assert_eq!(
            p.shown(&["Result", "Nope", "NRestarts"]),
            "Result=signal NRestarts=0"
        );
    }

    #[test]
    fn auto_restart_is_systemd_restarting() {
        assert!(UnitProps::parse(&fixture("show-auto-restart.txt")).restarting());
        assert!(!UnitProps::parse(&fixture("show-killed.txt")).restarting());
        assert!(!UnitProps::parse(&fixture("show-start-limit.txt")).restarting());
    }

    #[test]
    fn start_limit_is_read_from_the_journal() {
        // Result=exit-code in show, yet the start limit was hit.
        let show = UnitProps::parse(&fixture("show-start-limit.txt"));
        assert_eq!(show.get("Result"), Some("exit-code"));
        assert!(start_limit_in_journal(&journal_fixture(
            "journal-start-limit.txt"
        )));
        assert!(start_limit_in_journal(&journal_fixture(
            "journal-start-limit-refused.txt"
        )));
        assert!(!start_limit_in_journal(&journal_fixture(
            "journal-exited.txt"
        )));
        assert!(!start_limit_in_journal(&journal_fixture(
            "journal-auto-restart.txt"
        )));
    }

    #[test]
    fn a_start_after_the_limit_clears_it() {
        let mut lines = journal_fixture("journal-start-limit.txt");
        lines.push("2026-11-26T03:20:00+0000 vm systemd[1]: Started lp.service.".into());
        assert!(!start_limit_in_journal(&lines));
    }

    #[test]
    fn journal_notes_are_dropped_and_lines_bounded() {
        let text = "-- No entries --\n\na\nb\nc\n";
        assert_eq!(journal_lines(text, 2), ["b", "c"]);
        assert!(journal_lines("-- No entries --\n", 20).is_empty());
    }
}
