//! `nginx`: is a master running, does it own the configured ports, does its config pass `-t`.

use crate::finding::{Finding, FindingCode};
use crate::nginx::master::{self, Master};
use crate::nginx::{self, Dump, Invocation};
use crate::step::{StepName, StepResult};

type Rec = crate::step::Recorder<crate::step::details::NginxDetails>;
use crate::sys::holders;
use crate::sys::net::{self, TcpSocket};
use crate::sys::process::ProcessInfo;
use crate::target::Target;

/// What this step learned that later steps and actions reuse.
#[derive(Debug, Clone, Default)]
pub struct NginxView {
    pub master: Option<ProcessInfo>,
    pub invocation: Option<Invocation>,
    pub dump: Option<Dump>,
    /// Why `nginx -T` gave no reading (missing binary, timed out): the config was not tested,
    /// which says nothing about whether it is valid.
    pub dump_error: Option<String>,
    /// Masters that run from other configs and serve none of the ports: never acted on.
    pub other_masters: Vec<Master>,
}

const NO_BINARY: &str = "the nginx binary was not found on PATH or in /usr/sbin";

pub(super) struct PortView {
    port: u16,
    listeners: Vec<TcpSocket>,
    holders: Vec<ProcessInfo>,
}

mod record;

use record::{describe, record_config_test, record_master, record_others, record_ports};

pub fn run(target: &Target, sockets: &[TcpSocket]) -> (StepResult, NginxView) {
    run_among(target, sockets, &master::list())
}

/// The step over a process table already read (discovery reads it once for every site).
pub fn run_among(
    target: &Target,
    sockets: &[TcpSocket],
    masters: &[Master],
) -> (StepResult, NginxView) {
    let mut rec = Rec::start(StepName::Nginx);
    let ports = port_views(target, sockets, masters);
    let chosen = choose(target, &ports, masters);
    let invocation = match &chosen {
        Some((m, _)) => Invocation::from_master(&m.info.cmdline.join(" "), &target.nginx),
        None => Invocation::from_spec(&target.nginx),
    };
    let (dump, dump_error) = match &invocation {
        None => (None, Some(NO_BINARY.to_string())),
        Some(inv) => match nginx::dump(inv, target.timeout) {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        },
    };
    let view = NginxView {
        master: chosen.as_ref().map(|(m, _)| m.info.clone()),
        invocation,
        dump,
        dump_error,
        other_masters: Vec::new(),
    };
    let view = NginxView {
        other_masters: others(masters, view.master.as_ref()),
        ..view
    };
    for note in &target.nginx.derived {
        rec.see(crate::sanitize::clean(note));
    }
    record_ports(&mut rec, &ports);
    record_master(&mut rec, chosen.as_ref());
    record_others(&mut rec, &view.other_masters);
    record_config_test(&mut rec, &view);
    let result = verdict(rec, target, &ports, &view);
    (result, view)
}

fn port_views(target: &Target, sockets: &[TcpSocket], masters: &[Master]) -> Vec<PortView> {
    let mut views: Vec<PortView> = target
        .nginx
        .ports
        .iter()
        .map(|&port| PortView {
            port,
            listeners: net::listening_on_port(sockets, port).cloned().collect(),
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
    let likely: Vec<i32> = masters.iter().map(|m| m.info.pid).collect();
    let ports: Vec<String> = views.iter().map(|v| v.port.to_string()).collect();
    let key = format!("nginx {}", ports.join(","));
    let scan = holders::find_holders_remembered(&key, &inodes, &likely);
    // The master and its workers hold every port: each is read once.
    let mut read: std::collections::HashMap<i32, Option<ProcessInfo>> = Default::default();
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
            .filter_map(|p| {
                read.entry(p)
                    .or_insert_with(|| ProcessInfo::read(p).ok())
                    .clone()
            })
            .collect();
    }
    views
}

/// The master a holder belongs to: itself, or the master that forked it (whatever the child's
/// title: a worker carries its master's title for a moment after the fork).
fn master_of<'a>(holder: &ProcessInfo, masters: &'a [Master]) -> Option<&'a Master> {
    masters
        .iter()
        .find(|m| m.info.pid == holder.pid || m.info.pid == holder.ppid)
}

/// "The" nginx: the master that owns the configured ports; failing that, the one reading the
/// playbook's config (or nginx's default one); failing that, none — another prefix's master is
/// never adopted, so no action can reach it.
fn choose(target: &Target, ports: &[PortView], masters: &[Master]) -> Option<(Master, String)> {
    for view in ports {
        for holder in &view.holders {
            if let Some(m) = master_of(holder, masters) {
                return Some((m.clone(), format!("serves port {}", view.port)));
            }
            if master::is_master(holder) {
                return Some((
                    Master::of(holder.clone()),
                    format!("serves port {}", view.port),
                ));
            }
        }
    }
    let wanted = master::wanted_config(&target.nginx);
    masters
        .iter()
        .find(|m| master::same_config(&m.config_path, &wanted))
        .map(|m| {
            let why = format!(
                "serves none of the configured ports, but runs from {}",
                wanted.display()
            );
            (m.clone(), why)
        })
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

/// Other masters on the host, named so an operator sees fixer did not mistake one for this
/// site's nginx.
fn others(masters: &[Master], chosen: Option<&ProcessInfo>) -> Vec<Master> {
    masters
        .iter()
        .filter(|m| chosen.is_none_or(|c| c.pid != m.info.pid))
        .cloned()
        .collect()
}

/// "nginx is not running: nothing serves port 8080 (another nginx master runs: PID 4242 runs
/// from /srv/other/nginx.conf and does not serve these ports)".
fn not_running(target: &Target, others: usize) -> String {
    let mut cause = if target.nginx.ports.is_empty() {
        "nginx is not running".to_string()
    } else {
        format!(
            "nginx is not running: nothing serves port {}",
            target.nginx.ports_list()
        )
    };
    match others {
        0 => {}
        1 => cause.push_str(" (1 other nginx master runs, from another config: not this site's)"),
        n => cause.push_str(&format!(
            " ({n} other nginx masters run, from other configs: not this site's)"
        )),
    }
    cause
}

fn verdict(rec: Rec, target: &Target, ports: &[PortView], view: &NginxView) -> StepResult {
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
    if master.is_none() && target.nginx.ports.is_empty() && !view.other_masters.is_empty() {
        // No ports to look at and other masters running: which nginx serves this site is not
        // known, so nothing here says nginx is down (the upstream step says what is missing).
        return rec.warn(
            "no running nginx master reads the playbook's config, and none of their server blocks proxies to the backend: which nginx serves this site is unknown",
            None,
        );
    }
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
        return rec.fail(
            Finding::new(
                FindingCode::NginxNotRunning,
                not_running(target, view.other_masters.len()),
            )
            .with_action("start nginx"),
        );
    }
    let master_pid = master.map_or(0, |m| m.pid);
    if let Some((port, holder)) = ports.iter().find_map(|v| {
        v.holders
            .iter()
            .find(|h| h.pid != master_pid && h.ppid != master_pid)
            .map(|h| (v.port, h))
    }) {
        let who = if master::is_master(holder) || master::is_child(holder) {
            format!("another nginx ({})", describe(holder))
        } else {
            describe(holder)
        };
        return rec.fail(
            Finding::new(
                FindingCode::NginxPortForeignOwner,
                format!("port {port} is held by {who}, not by this site's nginx (master PID {master_pid})"),
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
    let serving = if target.nginx.ports.is_empty() {
        format!("nginx master PID {master_pid} runs")
    } else {
        format!(
            "nginx master PID {master_pid} listens on {}",
            target.nginx.ports_list()
        )
    };
    if let Some(e) = &view.dump_error {
        return rec.could_not_run(&anyhow::anyhow!(
            "{serving}, but its config could not be read: {}",
            crate::sanitize::clean(e)
        ));
    }
    match view.dump.as_ref().filter(|d| !d.ok) {
        Some(_) => rec.ok(format!(
            "{serving}; config test needs root (not run as root)"
        )),
        None => rec.ok(format!("{serving}; config test ok{}", remembered(view))),
    }
}

/// The verdict says when the test it quotes was run, if not in this run: the headline is
/// what an operator reads first.
fn remembered(view: &NginxView) -> String {
    match view.dump.as_ref().and_then(|d| d.remembered.as_ref()) {
        Some(r) => format!(
            " ({} ago, its files unchanged since)",
            crate::format::secs(r.age)
        ),
        None => String::new(),
    }
}
