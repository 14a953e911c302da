//! The nginx step's evidence lines and JSON details: ports and their holders, the chosen
//! master, the other masters, and the config test.

use std::collections::BTreeMap;

use super::{needs_root, NginxView, PortView};
use crate::nginx::master::Master;
use crate::step::Recorder;
use crate::sys::process::ProcessInfo;

/// How many other masters the evidence names one by one.
const MAX_OTHERS_SHOWN: usize = 10;

pub(super) fn describe(p: &ProcessInfo) -> String {
    format!("PID {} ({})", p.pid, p.cmdline_str())
}

pub(super) fn record_ports(rec: &mut Recorder, ports: &[PortView]) {
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

pub(super) fn record_master(rec: &mut Recorder, chosen: Option<&(Master, String)>) {
    match chosen {
        Some((m, why)) => {
            rec.see(format!(
                "nginx master: {}, user {}, up {}; {} ({why})",
                describe(&m.info),
                m.info.user,
                crate::report::age(m.info.age_secs()),
                m.describe()
            ));
            rec.detail("master_pid", m.info.pid);
            rec.detail("master_config", m.config_path.display().to_string());
        }
        None => {
            rec.see("process table: no nginx master process found");
            rec.detail("master_pid", serde_json::Value::Null);
        }
    }
}

pub(super) fn record_others(rec: &mut Recorder, others: &[Master]) {
    for m in others.iter().take(MAX_OTHERS_SHOWN) {
        rec.see(format!(
            "other nginx master: {} and does not serve these ports",
            m.describe()
        ));
    }
    if others.len() > MAX_OTHERS_SHOWN {
        rec.see(format!(
            "… and {} more nginx masters from other configs",
            others.len() - MAX_OTHERS_SHOWN
        ));
    }
    rec.detail(
        "other_masters",
        others
            .iter()
            .map(|m| serde_json::json!({"pid": m.info.pid, "config": m.config_path.display().to_string()}))
            .collect::<Vec<_>>(),
    );
}

pub(super) fn record_config_test(rec: &mut Recorder, view: &NginxView) {
    if let Some(e) = &view.dump_error {
        rec.see(format!(
            "{}: the config was not tested",
            crate::sanitize::clean(e)
        ));
    }
    match &view.dump {
        None => {}
        Some(d) => {
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
