//! `nginx`: is a master running, does it own the configured ports, does its config pass `-t`.

use std::collections::BTreeMap;

use crate::finding::{Finding, FindingCode};
use crate::nginx::{self, Dump, Invocation};
use crate::step::{Recorder, StepName, StepResult};
use crate::sys::holders;
use crate::sys::net::{TcpSocket, TcpState};
use crate::sys::process::{self, ProcessInfo};
use crate::target::Target;

/// What this step learned that later steps and actions reuse.
#[derive(Debug, Clone, Default)]
pub struct NginxView {
    pub master: Option<ProcessInfo>,
    pub invocation: Option<Invocation>,
    pub dump: Option<Dump>,
}

struct PortView {
    port: u16,
    listeners: Vec<TcpSocket>,
    holders: Vec<ProcessInfo>,
}

pub fn run(target: &Target, sockets: &[TcpSocket]) -> (StepResult, NginxView) {
    let mut rec = Recorder::start(StepName::Nginx);
    let ports = port_views(target, sockets);
    let master = find_master(target, &ports);
    let invocation = match &master {
        Some(m) => Invocation::from_master(&m.cmdline.join(" "), &target.nginx),
        None => Invocation::from_spec(&target.nginx),
    };
    let dump = invocation.as_ref().and_then(|inv| nginx::dump(inv).ok());
    let view = NginxView {
        master: master.clone(),
        invocation,
        dump,
    };
    record_ports(&mut rec, &ports);
    record_master(&mut rec, master.as_ref());
    record_config_test(&mut rec, &view);
    let result = verdict(rec, target, &ports, &view);
    (result, view)
}

fn port_views(target: &Target, sockets: &[TcpSocket]) -> Vec<PortView> {
    let mut views: Vec<PortView> = target
        .nginx
        .ports
        .iter()
        .map(|&port| PortView {
            port,
            listeners: sockets
                .iter()
                .filter(|s| s.state == TcpState::Listen && s.local.port() == port)
                .cloned()
                .collect(),
            holders: Vec::new(),
        })
        .collect();
    let inodes: Vec<u64> = views
        .iter()
        .flat_map(|v| v.listeners.iter().map(|s| s.inode))
        .collect();
    if inodes.is_empty() {
        return views;
    }
    let scan = holders::find_holders(&inodes, &process::pids_named("nginx"));
    for view in &mut views {
        let mut pids: Vec<i32> = view
            .listeners
            .iter()
            .flat_map(|s| scan.holders.get(&s.inode).cloned().unwrap_or_default())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        view.holders = pids
            .into_iter()
            .filter_map(|p| ProcessInfo::read(p).ok())
            .collect();
    }
    views
}

fn is_master(p: &ProcessInfo) -> bool {
    p.comm == "nginx" && p.cmdline.join(" ").starts_with("nginx: master process")
}

/// The master that serves the configured ports; failing that, one running the playbook's config.
fn find_master(target: &Target, ports: &[PortView]) -> Option<ProcessInfo> {
    for view in ports {
        for holder in view.holders.iter().filter(|h| h.comm == "nginx") {
            if is_master(holder) {
                return Some(holder.clone());
            }
            if let Ok(parent) = ProcessInfo::read(holder.ppid) {
                if is_master(&parent) {
                    return Some(parent);
                }
            }
        }
    }
    let wanted = Invocation::from_spec(&target.nginx).map(|i| i.config_path());
    process::pids_named("nginx")
        .into_iter()
        .filter_map(|p| ProcessInfo::read(p).ok())
        .filter(is_master)
        .find(|m| {
            let inv = Invocation::from_master(&m.cmdline.join(" "), &Default::default());
            match (&wanted, inv) {
                (Some(w), Some(inv))
                    if target.nginx.config.is_some() || target.nginx.prefix.is_some() =>
                {
                    inv.config_path() == *w
                }
                _ => true,
            }
        })
}

fn describe(p: &ProcessInfo) -> String {
    format!("PID {} ({})", p.pid, p.cmdline_str())
}

fn record_ports(rec: &mut Recorder, ports: &[PortView]) {
    let mut details = Vec::new();
    for v in ports {
        if v.listeners.is_empty() {
            rec.see(format!(
                "/proc/net/tcp, tcp6: nothing listens on port {}",
                v.port
            ));
        } else {
            let addrs: Vec<String> = v.listeners.iter().map(|s| s.local.to_string()).collect();
            let owners: Vec<String> = v.holders.iter().map(describe).collect();
            let owners = if owners.is_empty() {
                "owner not visible".to_string()
            } else {
                owners.join(", ")
            };
            rec.see(format!(
                "port {}: LISTEN on {} held by {}",
                v.port,
                addrs.join(", "),
                owners
            ));
        }
        let mut d = BTreeMap::new();
        d.insert("port", serde_json::json!(v.port));
        d.insert("listening", serde_json::json!(!v.listeners.is_empty()));
        d.insert(
            "addresses",
            serde_json::json!(v
                .listeners
                .iter()
                .map(|s| s.local.to_string())
                .collect::<Vec<_>>()),
        );
        d.insert(
            "pids",
            serde_json::json!(v.holders.iter().map(|h| h.pid).collect::<Vec<_>>()),
        );
        details.push(d);
    }
    rec.detail("ports", details);
}

fn record_master(rec: &mut Recorder, master: Option<&ProcessInfo>) {
    match master {
        Some(m) => {
            rec.see(format!(
                "nginx master: {}, user {}, up {}",
                describe(m),
                m.user,
                crate::report::age(m.age_secs())
            ));
            rec.detail("master_pid", m.pid);
        }
        None => {
            rec.see("process table: no nginx master process found");
            rec.detail("master_pid", serde_json::Value::Null);
        }
    }
}

/// Without root, `nginx -t` fails on files only root may open (its error log, the pid file,
/// certificate keys) even when the config is fine: that is a test fixer could not run, not an
/// invalid config.
pub fn needs_root(d: &Dump) -> bool {
    !crate::state::is_root()
        && d.messages
            .iter()
            .any(|m| m.contains("(13: Permission denied)"))
}

fn record_config_test(rec: &mut Recorder, view: &NginxView) {
    match (&view.invocation, &view.dump) {
        (None, _) => rec.see("nginx binary not found on PATH or in /usr/sbin: config not tested"),
        (Some(inv), None) => rec.see(format!("`{}` could not be run", inv.describe(&["-T"]))),
        (Some(_), Some(d)) => {
            if needs_root(d) {
                rec.see("the config test needs root here (permission denied on files nginx opens): not counted as an invalid config; run fixer as root");
            }
            for m in &d.messages {
                rec.see(format!("`{}`: {}", d.command, crate::sanitize::clean(m)));
            }
            rec.detail(
                "config_test",
                serde_json::json!({"ok": d.ok, "command": d.command, "output": d.messages}),
            );
        }
    }
}

fn verdict(rec: Recorder, target: &Target, ports: &[PortView], view: &NginxView) -> StepResult {
    let config_invalid = view.dump.as_ref().filter(|d| !d.ok && !needs_root(d));
    let test_error = config_invalid.map(|d| {
        d.messages
            .iter()
            .find(|m| m.contains("[emerg]"))
            .or(d.messages.first())
            .cloned()
            .unwrap_or_default()
    });
    let master = view.master.as_ref();
    if master.is_none() {
        if let Some(err) = test_error {
            return rec.fail(
                Finding::new(
                    FindingCode::NginxConfigInvalid,
                    format!("nginx is not running and its configuration fails `nginx -t`: {}", crate::sanitize::clean(&err)),
                )
                .with_action("fix the configuration (see the `nginx -t` output); fixer will not start nginx on a config that fails the test"),
            );
        }
        let ports_list = target.nginx.ports_list();
        return rec.fail(
            Finding::new(
                FindingCode::NginxNotRunning,
                format!("nginx is not running: nothing serves port {ports_list}"),
            )
            .with_action("start nginx"),
        );
    }
    if let Some(foreign) = ports.iter().find_map(|v| {
        v.holders
            .iter()
            .find(|h| h.comm != "nginx")
            .map(|h| (v.port, h))
    }) {
        return rec.fail(
            Finding::new(
                FindingCode::NginxPortForeignOwner,
                format!(
                    "port {} is held by {}, not by nginx",
                    foreign.0,
                    describe(foreign.1)
                ),
            )
            .with_action("stop that program or move it off nginx's port, then reload nginx"),
        );
    }
    if let Some(missing) = ports.iter().find(|v| v.listeners.is_empty()) {
        return rec.fail(
            Finding::new(
                FindingCode::NginxPortNotListening,
                format!(
                    "nginx runs (PID {}) but nothing listens on port {}",
                    master.map_or(0, |m| m.pid),
                    missing.port
                ),
            )
            .with_action("check the `listen` directives and reload nginx"),
        );
    }
    if let Some(err) = test_error {
        return rec.warn(
            "nginx serves the ports, but its configuration on disk fails `nginx -t`: a reload would fail",
            Some(Finding::new(FindingCode::NginxConfigInvalid, format!("nginx's configuration fails `nginx -t`: {}", crate::sanitize::clean(&err)))
                .with_action("fix the configuration before any reload")),
        );
    }
    let ports_list = target.nginx.ports_list();
    rec.ok(format!(
        "nginx master PID {} listens on {ports_list}; config test ok",
        master.map_or(0, |m| m.pid)
    ))
}
