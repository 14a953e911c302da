//! `fixer harden`'s evidence: what would have kept both incidents short. The backend's unit
//! (or its lack of one), nginx's proxy timeouts towards it, and whether its log is rotated.
//! Each finding comes with the exact text to apply and where it goes. Gathers only: the
//! drop-in or unit file it proposes is written by `action::harden`, after consent.

pub mod logrotate;
pub mod new_unit;
pub mod nginx;
mod no_unit;
pub mod unit;
pub mod unit_file;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::check::upstream::{self, Compare};
use crate::finding::{Finding, FindingCode};
use crate::nginx::conf;
use crate::sys::process::ProcessInfo;
use crate::sys::{command, holders, spawn, systemd};
use crate::target::{BackendSpec, RestartSpec, Target};
use unit_file::UnitFile;

/// Where fixer writes units and drop-ins: the administrator's directory, which wins over the
/// package's.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// One thing to harden: the finding, and the text that fixes it and where it goes.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub finding: Finding,
    /// A file, or a place in nginx's config (`location / (file:line)`), or `shell`.
    pub place: String,
    pub snippet: String,
    /// Whether `fixer harden --apply` does it (systemd changes), or the operator (nginx,
    /// logrotate, a unit's [Install] section).
    pub by_apply: bool,
}

impl Item {
    pub fn new(finding: Finding, place: &str, snippet: String, by_apply: bool) -> Item {
        Item {
            finding,
            place: place.to_string(),
            snippet,
            by_apply,
        }
    }
}

/// What `--apply` writes: a drop-in for an existing unit, or a whole unit file.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub unit: String,
    pub path: PathBuf,
    pub text: String,
    pub new_unit: bool,
    /// Also `systemctl enable` the unit (never `--now`: a backend started by hand may still
    /// hold the port).
    pub enable: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Hardening {
    pub unit: Option<String>,
    /// What was read, for the operator to check fixer's reading.
    pub evidence: Vec<String>,
    pub items: Vec<Item>,
    pub change: Option<Change>,
    /// Parts that could not be checked (a unit that cannot be read).
    pub errors: Vec<String>,
}

pub fn gather(target: &Target) -> Hardening {
    let mut h = Hardening::default();
    let Some(backend) = &target.backend else {
        h.errors
            .push("no backend is configured: nothing to harden".into());
        return h;
    };
    // Who serves the address matters only when the playbook names no unit.
    let running = match backend.restart {
        Some(RestartSpec::Systemd { .. }) => None,
        _ => running_backend(target, backend),
    };
    let in_unit = running
        .as_ref()
        .and_then(|p| p.restartable_unit().map(str::to_string));
    let log = match (&backend.restart, in_unit) {
        (Some(RestartSpec::Systemd { unit }), _) => existing_unit(&mut h, &service_name(unit)),
        (_, Some(unit)) => {
            h.evidence.push(format!(
                "the backend runs in {unit}, but the playbook does not say so: set restart = {{ systemd = \"{unit}\" }} in it, so `fixer fix` restarts the unit"
            ));
            existing_unit(&mut h, &unit)
        }
        (Some(RestartSpec::Command(_)), None) => no_unit::command_backend(&mut h, target, backend),
        (None, None) => match &running {
            Some(p) => no_unit::by_hand(&mut h, target, backend, p),
            None => {
                h.items.push(no_unit::no_restart_at_all());
                None
            }
        },
    };
    proxy_timeouts(&mut h, target, backend);
    if let Some(log) = log {
        let rules = logrotate::read_rules(
            Path::new(logrotate::LOGROTATE_DIR),
            Path::new(logrotate::LOGROTATE_CONF),
        );
        let name = h.unit.as_deref().map_or(target.name.as_str(), |u| {
            u.strip_suffix(".service").unwrap_or(u)
        });
        h.items.extend(logrotate::check(&rules, &log, name));
    }
    h
}

/// `app` → `app.service`, as systemctl reads it.
fn service_name(unit: &str) -> String {
    if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    }
}

/// Checks a unit that exists; returns the log file it writes to, if any.
pub(super) fn existing_unit(h: &mut Hardening, unit: &str) -> Option<PathBuf> {
    h.unit = Some(unit.to_string());
    let file = match read_unit(unit) {
        Ok(f) => f,
        Err(e) => {
            h.errors.push(format!("{e:#}"));
            return None;
        }
    };
    h.evidence
        .push(format!("{unit}: read {}", file.files.join(", ")));
    let enabled = enabled_state(unit, &file);
    h.evidence.push(format!("{unit}: is-enabled {enabled}"));
    let (items, drop_in) = unit::check(unit, &file, &enabled);
    let later = file.drop_ins_after(unit::DROP_IN);
    if !drop_in.is_empty() && !later.is_empty() {
        h.evidence.push(format!(
            "note: {} sort after {} and override what it sets",
            later.join(", "),
            unit::DROP_IN
        ));
    }
    let enable = items
        .iter()
        .any(|i| i.finding.code == FindingCode::HardenNotEnabled && i.by_apply);
    if !drop_in.is_empty() || enable {
        h.change = Some(Change {
            unit: unit.to_string(),
            path: Path::new(UNIT_DIR)
                .join(format!("{unit}.d"))
                .join(unit::DROP_IN),
            text: drop_in.text(unit),
            new_unit: false,
            enable,
        });
    }
    h.items.extend(items);
    ["StandardOutput", "StandardError"].iter().find_map(|k| {
        let v = file.value("Service", k)?;
        let path = ["append:", "file:", "truncate:"]
            .iter()
            .find_map(|p| v.strip_prefix(p))?;
        Some(PathBuf::from(path))
    })
}

/// The process serving the backend's address now, found by socket inode like the chain's
/// `port_holder` does (the pre-fork master when several share it).
fn running_backend(target: &Target, backend: &BackendSpec) -> Option<ProcessInfo> {
    let tcp = crate::sys::net::tcp_listeners().unwrap_or_default();
    let unix = if matches!(backend.address, crate::target::BackendAddr::Unix(_)) {
        crate::sys::net::unix_listeners().unwrap_or_default()
    } else {
        Vec::new()
    };
    let (_, listening) = crate::check::backend_port::run(target, &tcp, &unix);
    if listening.is_empty() {
        return None;
    }
    let scan = holders::find_holders(
        &listening.inodes(),
        &holders::likely_pids(backend.matcher.as_ref()),
    );
    let pids: Vec<i32> = scan.holders.values().flatten().copied().collect();
    pids.iter()
        .filter_map(|&pid| ProcessInfo::read(pid).ok())
        .find(|p| !pids.contains(&p.ppid))
}

/// The unit's files as systemd merges them: `systemctl cat` when systemd runs (it knows every
/// directory and generator), the unit directories otherwise.
pub fn read_unit(unit: &str) -> anyhow::Result<UnitFile> {
    if !spawn::systemd_booted() {
        return unit_file::read_files(unit, unit_file::UNIT_DIRS);
    }
    let o = command::run(
        Command::new("systemctl").args(["cat", "--no-pager", unit]),
        systemd::QUERY_TIMEOUT,
    )?;
    anyhow::ensure!(
        o.success(),
        "systemctl cat {unit}: {}",
        o.stderr.lines().next().unwrap_or("failed")
    );
    Ok(UnitFile::parse_cat(&o.stdout))
}

/// `systemctl is-enabled`; without systemd, whether a `WantedBy` target's `.wants/` holds
/// the link `systemctl enable` makes.
fn enabled_state(unit: &str, file: &UnitFile) -> String {
    if spawn::systemd_booted() {
        return command::run(
            Command::new("systemctl").args(["is-enabled", unit]),
            systemd::QUERY_TIMEOUT,
        )
        .map(|o| o.stdout.lines().next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    }
    let Some(wanted) = file.value("Install", "WantedBy") else {
        return "static".into();
    };
    let linked = wanted.split_whitespace().any(|t| {
        Path::new(UNIT_DIR)
            .join(format!("{t}.wants"))
            .join(unit)
            .exists()
    });
    if linked { "enabled" } else { "disabled" }.into()
}

/// nginx's timeouts on each location proxying to the backend, from `nginx -T`.
fn proxy_timeouts(h: &mut Hardening, target: &Target, backend: &BackendSpec) {
    let sockets = crate::sys::net::tcp_listeners().unwrap_or_default();
    let (_, view) = crate::check::nginx::run(target, &sockets);
    let Some(dump) = view.dump.as_ref().filter(|d| d.ok) else {
        h.evidence.push(
            "nginx: `nginx -T` is not available, so its proxy timeouts were not checked".into(),
        );
        return;
    };
    let tree = conf::parse_dump(&dump.config);
    let to_backend = |d: &conf::Directive| {
        conf::endpoints(&tree, d).iter().any(|(e, _)| {
            !matches!(
                upstream::compare(e, &backend.address, target),
                Compare::Dynamic | Compare::Different(_)
            )
        })
    };
    let found = nginx::proxied(&tree, &to_backend);
    for p in &found {
        let shown: Vec<String> = p
            .timeouts
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_deref().unwrap_or("60s (default)")))
            .collect();
        h.evidence.push(format!(
            "nginx: location {} ({}) proxies to {}: {}",
            p.location,
            p.at,
            backend.address,
            shown.join(", ")
        ));
    }
    if found.is_empty() {
        h.evidence
            .push(format!("nginx: no location proxies to {}", backend.address));
    }
    h.items.extend(nginx::check(&found));
}
