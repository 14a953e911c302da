//! Why the backend is down, when it has a systemd unit: systemd remembers how the unit's main
//! process ended (`Result`, `ExecMainCode`, `ExecMainStatus`, when, how often it restarted),
//! its journal holds the last words, and the kernel log names an OOM kill. Both incidents'
//! reports had to answer this by hand.
//!
//! Runs only after `backend_port` found nothing listening on a backend whose restart is a unit,
//! and only with systemd as PID 1. It refines that step's finding (the root cause then says
//! *why* nothing listens) and adds the evidence; it changes nothing.

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::details::UnitHistory;
use crate::step::{StepDetails, StepResult};
use crate::sys::systemd::{self, UnitProps};
use crate::target::{RestartSpec, Target};

/// What is asked of `systemctl show`, in the order it is shown.
const KEYS: &[&str] = &[
    "ActiveState",
    "SubState",
    "Result",
    "ExecMainCode",
    "ExecMainStatus",
    "ExecMainPID",
    "NRestarts",
    "ActiveEnterTimestamp",
    "InactiveEnterTimestamp",
];
/// Kernel log lines searched for an OOM kill of the unit's last main PID.
const KERNEL_LINES: usize = 2000;

/// Adds the unit's history to a failed `backend_port` step and, when it says how the backend
/// died, replaces `backend-not-listening` with that finding.
pub fn explain(step: &mut StepResult, target: &Target) {
    let not_listening = step
        .finding
        .as_ref()
        .is_some_and(|f| f.code == FindingCode::BackendNotListening);
    let unit = match target.backend.as_ref().and_then(|b| b.restart.as_ref()) {
        Some(RestartSpec::Systemd { unit }) => unit.clone(),
        _ => return,
    };
    if !not_listening || !crate::sys::spawn::systemd_booted() {
        return;
    }
    let started = std::time::Instant::now();
    gather(step, &unit);
    step.elapsed_ms += started.elapsed().as_millis() as u64;
}

fn gather(step: &mut StepResult, unit: &str) {
    let props = match systemd::show(unit, KEYS) {
        Ok(p) => p,
        Err(e) => {
            step.evidence
                .push(format!("systemctl show {unit}: could not run: {e:#}"));
            return;
        }
    };
    let journal = systemd::journal(unit, systemd::JOURNAL_LINES).unwrap_or_default();
    // Only kernel lines since the unit last became active: an older OOM kill of a process
    // that had the same PID is not this one.
    let kernel = match (props.get("ExecMainPID"), props.get("ActiveEnterTimestamp")) {
        (Some(pid), Some(since)) => oom_line(&kernel_log(since), pid),
        _ => None,
    };
    step.evidence
        .push(format!("systemctl show {unit}: {}", props.shown(KEYS)));
    if let Some(k) = &kernel {
        step.evidence.push(format!("kernel: {}", clean(k)));
    }
    step.evidence
        .extend(journal.iter().map(|l| format!("journal: {}", clean(l))));
    if let StepDetails::BackendPort(d) = &mut step.details {
        d.unit_history = Some(UnitHistory {
            unit: unit.to_string(),
            show: props.shown(KEYS),
            journal: journal.clone(),
        });
    }
    let Some(death) = classify(&props, &journal, kernel.as_deref()) else {
        return;
    };
    let Some(old) = step.finding.take() else {
        return;
    };
    let finding = death.finding(unit, &props, &old.cause);
    step.summary = finding.cause.clone();
    step.finding = Some(finding);
}

/// How the unit's main process ended, as far as systemd and the kernel say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Death {
    StartLimit,
    OomKilled { rss: Option<String> },
    Killed { signal: String },
    Exited { status: String },
}

/// Pure: the death recorded in `systemctl show`, the unit's journal and an OOM line.
pub fn classify(p: &UnitProps, journal: &[String], oom: Option<&str>) -> Option<Death> {
    let result = p.get("Result").unwrap_or("");
    if result == "start-limit-hit" || systemd::start_limit_in_journal(journal) {
        return Some(Death::StartLimit);
    }
    if result == "oom-kill" || oom.is_some() {
        return Some(Death::OomKilled {
            rss: oom.and_then(anon_rss),
        });
    }
    let status = p.get("ExecMainStatus").unwrap_or("?");
    match (p.get("ExecMainCode"), result) {
        // CLD_KILLED, CLD_DUMPED: ended by a signal. `systemctl stop` also ends it with
        // SIGTERM, but then Result is success: stopped, not killed.
        (Some("2" | "3"), r) if r != "success" => Some(Death::Killed {
            signal: signal_name(status),
        }),
        (Some("1"), "exit-code") => Some(Death::Exited {
            status: status.to_string(),
        }),
        _ => None,
    }
}

impl Death {
    fn finding(&self, unit: &str, p: &UnitProps, not_listening: &str) -> Finding {
        let at = p
            .get("InactiveEnterTimestamp")
            .map(|t| format!(" at {}", short_time(t)))
            .unwrap_or_default();
        let restarts = p.get("NRestarts").unwrap_or("0");
        let (code, what, action) = match self {
            Death::StartLimit => (
                FindingCode::BackendStartLimit,
                format!("{unit} kept failing and hit systemd's start limit{at} ({restarts} restarts); systemd no longer restarts it"),
                format!("find why it fails in its journal (below), fix that, then `systemctl reset-failed {unit}` and restart it (fixer fix offers both)"),
            ),
            Death::OomKilled { rss } => (
                FindingCode::BackendOomKilled,
                format!(
                    "{unit} was killed by the kernel's OOM killer{at}{}",
                    rss.as_ref().map(|r| format!(" (RSS {r})")).unwrap_or_default()
                ),
                format!("restart {unit}, then find what grew (memory limits, leaks): it will be killed again"),
            ),
            Death::Killed { signal } => (
                FindingCode::BackendKilled,
                format!("{unit} was killed by {signal}{at}"),
                format!("restart {unit}; find who sent {signal} (an operator, a deploy script, the OOM killer) in the logs"),
            ),
            Death::Exited { status } => (
                FindingCode::BackendExited,
                format!("{unit} exited with status {status}{at}"),
                format!("read why in its journal (below), then restart {unit}"),
            ),
        };
        let again = if p.restarting() {
            " (systemd is restarting it)"
        } else {
            ""
        };
        Finding::new(code, format!("{what}{again}; {not_listening}")).with_action(action)
    }
}

/// `Thu 2026-11-26 03:16:29 UTC` → `2026-11-26 03:16:29 UTC`: the weekday adds nothing.
fn short_time(t: &str) -> &str {
    match t.split_once(' ') {
        Some((day, rest)) if day.len() == 3 && day.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => t,
    }
}

fn signal_name(status: &str) -> String {
    let name = match status {
        "1" => "SIGHUP",
        "2" => "SIGINT",
        "3" => "SIGQUIT",
        "4" => "SIGILL",
        "6" => "SIGABRT",
        "7" => "SIGBUS",
        "8" => "SIGFPE",
        "9" => "SIGKILL",
        "11" => "SIGSEGV",
        "13" => "SIGPIPE",
        "14" => "SIGALRM",
        "15" => "SIGTERM",
        other => return format!("signal {other}"),
    };
    name.to_string()
}

/// `journalctl -k --since SINCE` (systemd parses the timestamps it prints itself).
fn kernel_log(since: &str) -> Vec<String> {
    let o = crate::sys::command::run(
        std::process::Command::new("journalctl").args([
            "-k",
            "--since",
            since,
            "-n",
            &KERNEL_LINES.to_string(),
            "-o",
            "short-iso",
            "--no-pager",
        ]),
        systemd::QUERY_TIMEOUT,
    );
    o.map(|o| systemd::journal_lines(&o.stdout, KERNEL_LINES))
        .unwrap_or_default()
}

/// The kernel's line for an OOM kill of `pid` ("Out of memory: Killed process PID (comm) …",
/// or the cgroup variant "Memory cgroup out of memory: Killed process PID …"), the newest.
pub fn oom_line(kernel: &[String], pid: &str) -> Option<String> {
    let needle = format!("Killed process {pid} (");
    kernel
        .iter()
        .rev()
        .find(|l| l.contains(&needle) && l.to_ascii_lowercase().contains("out of memory"))
        .cloned()
}

/// `anon-rss:1953124kB` of an OOM line, in GB or MB.
fn anon_rss(line: &str) -> Option<String> {
    let kb: u64 = line
        .split("anon-rss:")
        .nth(1)?
        .split("kB")
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(if kb >= 1024 * 1024 {
        format!("{:.1} GB", kb as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} MB", kb / 1024)
    })
}

#[cfg(test)]
mod tests;
