//! The nginx step's evidence lines and JSON details: ports and their holders, the chosen
//! master, the other masters, and the config test.

use super::{needs_root, NginxView, PortView};
use crate::nginx::master::Master;
use crate::step::details::{ConfigTest, NginxDetails, NginxPort, OtherMaster, RememberedTest};
use crate::step::Recorder;

type Rec = Recorder<NginxDetails>;
use crate::sys::process::ProcessInfo;

/// How many other masters the evidence names one by one.
const MAX_OTHERS_SHOWN: usize = 10;

pub(super) fn describe(p: &ProcessInfo) -> String {
    format!("PID {} ({})", p.pid, p.cmdline_str())
}

pub(super) fn record_ports(rec: &mut Rec, ports: &[PortView]) {
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
        details.push(NginxPort {
            port: v.port,
            listening: !v.listeners.is_empty(),
            addresses: v.listeners.iter().map(|s| s.local.to_string()).collect(),
            pids: v.holders.iter().map(|h| h.pid).collect(),
        });
    }
    rec.details.ports = Some(details);
}

pub(super) fn record_master(rec: &mut Rec, chosen: Option<&(Master, String)>) {
    match chosen {
        Some((m, why)) => {
            rec.see(format!(
                "nginx master: {}, user {}, up {}; {} ({why})",
                describe(&m.info),
                m.info.user,
                crate::format::age(m.info.age_secs()),
                m.describe()
            ));
            rec.details.master_pid = Some(Some(m.info.pid));
            rec.details.master_config = Some(m.config_path.display().to_string());
        }
        None => {
            rec.see("process table: no nginx master process found");
            rec.details.master_pid = Some(None);
        }
    }
}

pub(super) fn record_others(rec: &mut Rec, others: &[Master]) {
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
    rec.details.other_masters = Some(
        others
            .iter()
            .map(|m| OtherMaster {
                pid: m.info.pid,
                config: m.config_path.display().to_string(),
            })
            .collect(),
    );
}

pub(super) fn record_config_test(rec: &mut Rec, view: &NginxView) {
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
            if let Some(r) = &d.remembered {
                rec.see(format!(
                    "`{}` not run again: its output from {} ({} ago) still holds, the {} paths \
                     it depends on (config files, their directories, certificates, the binary) \
                     unchanged; --fresh runs it",
                    d.command,
                    r.taken_at,
                    crate::format::secs(r.age),
                    r.watched
                ));
            }
            let when = if d.remembered.is_some() {
                " (remembered)"
            } else {
                ""
            };
            for m in &d.messages {
                rec.see(format!(
                    "`{}`{when}: {}",
                    d.command,
                    crate::sanitize::clean(m)
                ));
            }
            rec.details.config_test = Some(ConfigTest {
                ok: d.ok,
                command: d.command.clone(),
                output: d.messages.clone(),
                remembered: d.remembered.as_ref().map(|r| RememberedTest {
                    taken_at: r.taken_at.clone(),
                    age_s: r.age.as_secs(),
                    unchanged_paths: r.watched,
                }),
            });
        }
    }
}
