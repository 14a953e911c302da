//! Writes what `fixer harden` proposed for the backend's unit: a drop-in
//! (`/etc/systemd/system/UNIT.d/fixer-harden.conf`) or a whole unit file for a backend that
//! had none; then `systemctl daemon-reload`, `systemctl enable` where asked, and shows what
//! systemd now says. Never starts or restarts anything: a backend started by hand may still
//! hold the port, and the operator chooses when to switch.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::{ActionCode, Applied, Outcome};
use crate::check::harden::Change;
use crate::sys::{command, spawn, systemd};

/// The `--apply` step as `--json` shows it (the shape of `fix`'s action records).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    pub code: ActionCode,
    pub target: serde_json::Value,
    pub plan: Vec<String>,
    pub consent: crate::consent::Approval,
    pub result: Outcome,
    pub evidence: Vec<String>,
    pub started_at: String,
    pub elapsed_ms: u64,
}

/// The plan shown before consent.
pub fn plan_lines(c: &Change) -> Vec<String> {
    let mut lines = Vec::new();
    if c.new_unit {
        lines.push(format!("write the unit file {}", c.path.display()));
    } else if c.path.exists() {
        lines.push(format!(
            "append to {} (written by an earlier fixer harden)",
            c.path.display()
        ));
    } else if !c.text.lines().all(|l| l.starts_with('#')) {
        lines.push(format!("write the drop-in {}", c.path.display()));
    }
    lines.push("systemctl daemon-reload".into());
    if c.enable {
        lines.push(format!(
            "systemctl enable {} (not started: that stays your call)",
            c.unit
        ));
    }
    lines.push(format!(
        "then show systemctl show -p Restart,RestartUSec,StartLimitIntervalUSec {}",
        c.unit
    ));
    lines
}

pub fn question(c: &Change) -> String {
    if c.new_unit {
        format!("Write and enable the unit {}?", c.unit)
    } else {
        format!("Harden {}?", c.unit)
    }
}

/// What the audit log records as the action's target.
pub fn target(c: &Change) -> serde_json::Value {
    json!({"unit": c.unit, "path": c.path, "new_unit": c.new_unit, "enable": c.enable})
}

pub fn apply(c: &Change, say: &mut dyn FnMut(&str)) -> Applied {
    let mut out = Applied::new();
    let mut note = |out: &mut Applied, line: String| {
        say(&line);
        out.evidence.push(line);
    };
    let has_lines = !c.text.lines().all(|l| l.starts_with('#'));
    if c.new_unit || has_lines {
        match write(c) {
            Ok(what) => note(&mut out, what),
            Err(e) => {
                note(&mut out, format!("{e:#}"));
                return out.end(Outcome::Failed);
            }
        }
    }
    if !spawn::systemd_booted() {
        note(
            &mut out,
            "systemd is not running here: the change takes effect when it next reads its units"
                .into(),
        );
    }
    let mut steps: Vec<Vec<&str>> = Vec::new();
    if spawn::systemd_booted() {
        steps.push(vec!["daemon-reload"]);
    }
    if c.enable {
        steps.push(vec!["enable", &c.unit]);
    }
    for args in steps {
        let (ok, line) = systemctl(&args);
        note(&mut out, line);
        if !ok {
            return out.end(Outcome::Failed);
        }
    }
    if spawn::systemd_booted() {
        match systemd::show(
            &c.unit,
            &["Restart", "RestartUSec", "StartLimitIntervalUSec"],
        ) {
            Ok(p) => note(
                &mut out,
                format!(
                    "systemctl show {}: {}",
                    c.unit,
                    p.shown(&["Restart", "RestartUSec", "StartLimitIntervalUSec"])
                ),
            ),
            Err(e) => note(&mut out, format!("{e:#}")),
        }
    }
    out
}

/// Writes the file through a temporary one renamed into place, so systemd never reads half a
/// unit. A new unit never replaces an existing file; fixer's own drop-in is appended to, so
/// what an earlier run set stays.
fn write(c: &Change) -> anyhow::Result<String> {
    use anyhow::Context;
    let dir = c.path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let existing = match std::fs::read_to_string(&c.path) {
        Ok(_) if c.new_unit => {
            anyhow::bail!("{} already exists: not replacing it", c.path.display())
        }
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", c.path.display())),
    };
    let text = match &existing {
        Some(old) => format!("{old}\n{}", c.text),
        None => c.text.clone(),
    };
    let tmp = dir.join(format!(
        ".{}.fixer-tmp",
        c.path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &c.path).with_context(|| format!("renaming to {}", c.path.display()))?;
    Ok(match existing {
        Some(_) => format!("appended to {}", c.path.display()),
        None => format!("wrote {}", c.path.display()),
    })
}

/// `systemctl ARGS`: whether it succeeded, and a line saying so with its first words.
fn systemctl(args: &[&str]) -> (bool, String) {
    let shown = format!("systemctl {}", args.join(" "));
    match command::run(Command::new("systemctl").args(args), systemd::QUERY_TIMEOUT) {
        Ok(o) if o.success() => (true, format!("{shown}: exit 0")),
        Ok(o) => (
            false,
            format!(
                "{shown}: failed: {}",
                o.stderr.lines().next().unwrap_or("no output")
            ),
        ),
        Err(e) => (false, format!("{shown}: could not run: {e:#}")),
    }
}
