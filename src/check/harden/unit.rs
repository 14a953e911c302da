//! What a backend's unit lacks to survive the next death on its own: both incidents ended
//! with `Restart=always`. Pure: reads a merged unit and its enablement, returns findings and
//! the drop-in that fixes what a drop-in can fix.

use super::new_unit::RESTART_SEC;
use super::unit_file::{span_ms, Setting, UnitFile};
use super::Item;
use crate::finding::{Finding, FindingCode};

/// The drop-in fixer writes; systemd applies drop-ins in file-name order, later ones win.
pub const DROP_IN: &str = "fixer-harden.conf";
/// systemd's defaults when a unit does not say (systemd 252, `DefaultStartLimit*`,
/// `RestartSec`).
const DEFAULT_RESTART_MS: u64 = 100;
const DEFAULT_LIMIT_INTERVAL_MS: u64 = 10_000;
const DEFAULT_LIMIT_BURST: u64 = 5;

/// Lines a drop-in would set, by section.
#[derive(Debug, Default, Clone)]
pub struct DropIn {
    pub unit: Vec<String>,
    pub service: Vec<String>,
}

impl DropIn {
    pub fn is_empty(&self) -> bool {
        self.unit.is_empty() && self.service.is_empty()
    }

    pub fn text(&self, unit: &str) -> String {
        let mut t = format!("# Written by `fixer harden` for {unit}.\n");
        for (name, lines) in [("Unit", &self.unit), ("Service", &self.service)] {
            if !lines.is_empty() {
                t += &format!("[{name}]\n{}\n", lines.join("\n"));
            }
        }
        t
    }
}

/// The findings on one unit and what the drop-in would set. `enabled` is `systemctl
/// is-enabled`'s answer (`enabled`, `disabled`, `static`, …).
pub fn check(unit: &str, file: &UnitFile, enabled: &str) -> (Vec<Item>, DropIn) {
    let mut fix = Fixes {
        place: format!("/etc/systemd/system/{unit}.d/{DROP_IN}"),
        items: Vec::new(),
        drop_in: DropIn::default(),
    };
    let restart = file.get("Service", "Restart");
    if restart.is_none_or(|s| s.value == "no") {
        let cause = match restart {
            Some(s) => format!("{unit} says Restart=no ({}): when the backend dies, it stays down", s.file),
            None => format!("{unit} has no Restart=: when the backend dies (killed, OOM, crash), it stays down until someone restarts it"),
        };
        fix.add(
            FindingCode::HardenNoRestart,
            cause,
            restart,
            "Service",
            "Restart=always",
        );
    }
    let restart_ms = match file.value("Service", "RestartSec") {
        Some(v) => span_ms(v).unwrap_or(DEFAULT_RESTART_MS),
        None => {
            let line = format!("RestartSec={RESTART_SEC}s");
            fix.add(FindingCode::HardenNoRestartSec, format!("{unit} has no RestartSec=: systemd restarts it after 100 ms, so a crash loop burns through the start limit in half a second"), None, "Service", &line);
            RESTART_SEC * 1000
        }
    };
    if let Some((cause, from)) = start_limit(unit, file, restart_ms) {
        fix.add(
            FindingCode::HardenStartLimit,
            cause,
            from,
            "Unit",
            "StartLimitIntervalSec=0",
        );
    }
    if let Some(s) = file
        .get("Service", "StandardInput")
        .filter(|s| s.value.starts_with("tty"))
    {
        let cause = format!("{unit} has StandardInput={} ({}): a prompt in the backend waits on a terminal forever, with the port open and unanswered (the Streamlit outage)", s.value, s.file);
        fix.add(
            FindingCode::HardenStdinTty,
            cause,
            Some(s),
            "Service",
            "StandardInput=null",
        );
    }
    fix.items.extend(not_enabled(unit, file, enabled));
    (fix.items, fix.drop_in)
}

/// Findings and the drop-in lines that fix them, as they are found.
struct Fixes {
    place: String,
    items: Vec<Item>,
    drop_in: DropIn,
}

impl Fixes {
    /// One finding fixed by `line` in `[section]`. When the value at fault comes from a drop-in
    /// applied after fixer's (`systemctl edit`'s override.conf is one), fixer's drop-in cannot
    /// win over it: the line goes into that file, by hand.
    fn add(
        &mut self,
        code: FindingCode,
        cause: String,
        from: Option<&Setting>,
        section: &str,
        line: &str,
    ) {
        let snippet = format!("[{section}]\n{line}\n");
        if let Some(s) = from.filter(|s| applied_after_ours(&s.file)) {
            let finding = Finding::new(code, cause).with_action(format!(
                "set `{line}` in [{section}] of {} instead of `{}={}`: it is applied after {DROP_IN}, so fixer's drop-in cannot override it",
                s.file, s.key, s.value
            ));
            self.items.push(Item::new(finding, &s.file, snippet, false));
            return;
        }
        let finding = Finding::new(code, cause).with_action(format!(
            "add `{line}` to [{section}] (fixer harden --apply writes {})",
            self.place
        ));
        self.items
            .push(Item::new(finding, &self.place, snippet, true));
        let lines = if section == "Unit" {
            &mut self.drop_in.unit
        } else {
            &mut self.drop_in.service
        };
        lines.push(line.to_string());
    }
}

/// A drop-in (`UNIT.d/NAME.conf`) that systemd applies after fixer's, by file name.
fn applied_after_ours(file: &str) -> bool {
    let path = std::path::Path::new(file);
    path.parent()
        .and_then(|d| d.extension())
        .is_some_and(|e| e == "d")
        && path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().as_ref() > DROP_IN)
}

/// A start limit a crash loop will hit: `StartLimitBurst` restarts, `RestartSec` apart, fit
/// inside `StartLimitIntervalSec`; systemd then gives up on the unit for good (the
/// start-limit-hit incident).
fn start_limit<'a>(
    unit: &str,
    file: &'a UnitFile,
    restart_ms: u64,
) -> Option<(String, Option<&'a Setting>)> {
    let interval = file
        .get("Unit", "StartLimitIntervalSec")
        .or_else(|| file.get("Service", "StartLimitIntervalSec"));
    let interval_ms = match interval {
        Some(s) => span_ms(&s.value)?,
        None => DEFAULT_LIMIT_INTERVAL_MS,
    };
    let burst = file
        .get("Unit", "StartLimitBurst")
        .or_else(|| file.get("Service", "StartLimitBurst"));
    let burst_n: u64 = burst
        .and_then(|s| s.value.parse().ok())
        .unwrap_or(DEFAULT_LIMIT_BURST);
    if interval_ms == 0 || burst_n * restart_ms > interval_ms {
        return None;
    }
    let said = |s: Option<&Setting>, default: &str| {
        s.map_or(format!("{default} (default)"), |s| {
            format!("{} ({})", s.value, s.file)
        })
    };
    let cause = format!(
        "{unit}'s start limit ({} starts in {}) is reached by a crash loop restarting every {} ms: systemd then stops restarting it for good",
        said(burst, "5"),
        said(interval, "10s"),
        restart_ms
    );
    Some((cause, interval))
}

/// A unit that is not enabled does not come back after a reboot. `static` means it has no
/// [Install] section, which a drop-in cannot add.
fn not_enabled(unit: &str, file: &UnitFile, enabled: &str) -> Option<Item> {
    let main = file.files.first().map_or(unit, String::as_str);
    match enabled {
        "enabled" | "enabled-runtime" | "alias" | "indirect" | "generated" | "linked"
        | "transient" => None,
        "static" | "" if file.value("Install", "WantedBy").is_none() => Some(Item::new(
            Finding::new(
                FindingCode::HardenNotEnabled,
                format!("{unit} has no [Install] section, so it cannot be enabled: after a reboot nothing starts it"),
            )
            .with_action(format!("add the [Install] lines to {main}, then `systemctl enable {unit}`")),
            main,
            "[Install]\nWantedBy=multi-user.target\n".into(),
            false,
        )),
        state => Some(Item::new(
            Finding::new(
                FindingCode::HardenNotEnabled,
                format!("{unit} is {}: after a reboot nothing starts it", if state.is_empty() { "not enabled" } else { state }),
            )
            .with_action(format!("systemctl enable {unit} (fixer harden --apply runs it)")),
            "shell",
            format!("systemctl enable {unit}\n"),
            state != "masked",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, enabled: &str) -> (Vec<&'static str>, String) {
        let mut f = UnitFile::default();
        f.add_file("/etc/systemd/system/a.service", text);
        let (items, d) = check("a.service", &f, enabled);
        (
            items.iter().map(|i| i.finding.code.as_str()).collect(),
            d.text("a.service"),
        )
    }

    #[test]
    fn a_bare_unit_needs_restart_and_restart_sec() {
        let (c, text) = codes("[Service]\nExecStart=/bin/app\n", "disabled");
        assert_eq!(
            c,
            [
                "harden-no-restart",
                "harden-no-restart-sec",
                "harden-not-enabled"
            ]
        );
        assert_eq!(
            text,
            "# Written by `fixer harden` for a.service.\n[Service]\nRestart=always\nRestartSec=5s\n"
        );
    }

    #[test]
    fn a_hardened_unit_has_nothing() {
        let (c, _) = codes(
            "[Service]\nRestart=always\nRestartSec=5s\n[Install]\nWantedBy=multi-user.target\n",
            "enabled",
        );
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn a_fast_crash_loop_hits_the_start_limit() {
        let (c, text) = codes(
            "[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=300\n[Service]\nRestart=on-failure\nRestartSec=100ms\n",
            "enabled",
        );
        assert_eq!(c, ["harden-start-limit"]);
        assert!(text.contains("[Unit]\nStartLimitIntervalSec=0\n"), "{text}");
        let (c, _) = codes("[Service]\nRestart=always\nRestartSec=1\n", "enabled");
        assert_eq!(c, ["harden-start-limit"], "5 × 1 s fits in 10 s");
    }

    #[test]
    fn a_later_drop_in_is_fixed_where_it_is() {
        let mut f = UnitFile::default();
        f.add_file("/etc/systemd/system/a.service", "[Service]\nRestartSec=5\n");
        f.add_file(
            "/etc/systemd/system/a.service.d/override.conf",
            "[Service]\nRestart=no\nStandardInput=tty\n",
        );
        let (items, d) = check("a.service", &f, "enabled");
        let shown: Vec<(&str, &str, bool)> = items
            .iter()
            .map(|i| (i.finding.code.as_str(), i.place.as_str(), i.by_apply))
            .collect();
        let o = "/etc/systemd/system/a.service.d/override.conf";
        assert_eq!(
            shown,
            [
                ("harden-no-restart", o, false),
                ("harden-stdin-tty", o, false)
            ]
        );
        assert!(d.is_empty());
    }

    #[test]
    fn stdin_on_a_terminal_and_static_units() {
        let (c, text) = codes(
            "[Service]\nRestart=always\nRestartSec=5\nStandardInput=tty-force\n",
            "static",
        );
        assert_eq!(c, ["harden-stdin-tty", "harden-not-enabled"]);
        assert!(text.contains("StandardInput=null"));
    }
}
