//! Start the backend again: through its systemd unit when it has one (systemd then stops the
//! whole cgroup and supervises the new process), else with the playbook's start command,
//! detached in its own session. Either way, wait until the port listens and the health path
//! answers.

use std::time::Duration;

use super::target::{ActionTarget, RestartCommandTarget, RestartUnitTarget};

use super::{poll_until, ActionCode, Applied, Ctx, Outcome, Plan, Work};
use crate::sys::http::FailureKind;
use crate::sys::{command, net, probe, spawn, systemd};
use crate::target::{BackendAddr, BackendSpec, Protocol, RestartSpec, StartCommand};

/// What "the backend answers" means after a start: its health path, asked in the protocol nginx
/// speaks to it (a restarted php-fpm never answers HTTP).
pub struct Health<'a> {
    path: &'a str,
    protocol: Protocol,
}

impl<'a> Health<'a> {
    pub fn new(path: &'a str, protocol: Protocol) -> Health<'a> {
        Health { path, protocol }
    }

    /// An answer in the backend's protocol; for one fixer does not speak, the connect.
    pub(crate) fn answers(&self, address: &BackendAddr, timeout: Duration) -> bool {
        let request = probe::Request::new(address, self.protocol, self.path, None, timeout);
        match probe::probe(&request) {
            Ok(_) => true,
            Err(f) => f.kind == FailureKind::NotSpoken,
        }
    }
}

impl std::fmt::Display for Health<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.protocol {
            Protocol::Http => f.write_str(self.path),
            _ => f.write_str(&probe::Exchange::new(self.protocol, self.path, None).describe()),
        }
    }
}

pub fn plan(backend: &BackendSpec, unit_from_holder: Option<&str>) -> Result<Plan, String> {
    let health = backend.health_path.clone();
    let protocol = backend.protocol();
    let shown = Health::new(&health, protocol).to_string();
    let address = backend.address.clone();
    let unit = match (&backend.restart, unit_from_holder) {
        (Some(RestartSpec::Systemd { unit }), _) => Some(unit.clone()),
        (_, Some(u)) => Some(u.to_string()),
        _ => None,
    };
    if let Some(unit) = unit {
        let why = if unit_from_holder.is_some() {
            " (the holder runs in this unit: restarting it makes systemd stop the whole cgroup and supervise the new process)"
        } else {
            ""
        };
        return Ok(Plan {
            code: ActionCode::RestartBackend,
            question: format!("Restart systemd unit {unit}?"),
            lines: vec![
                format!("systemctl restart {unit}{why}"),
                format!("then wait until {address} listens and {shown} answers"),
            ],
            target: ActionTarget::RestartUnit(RestartUnitTarget {
                unit: unit.clone(),
                address: address.to_string(),
            }),
            foreign: false,
            work: Work::RestartUnit {
                unit,
                address: Some(address),
                health_path: health,
                protocol,
            },
        });
    }
    let Some(RestartSpec::Command(StartCommand {
        command,
        cwd,
        log,
        env,
    })) = &backend.restart
    else {
        return Err("no way to start the backend is configured: add [backend] restart to the playbook, or pass --restart-cmd or --restart-unit".into());
    };
    let log = log.clone().unwrap_or_else(|| default_log(&address));
    let d = spawn::Detached {
        command: command.clone(),
        cwd: cwd.clone(),
        log: log.clone(),
        env: env.clone(),
    };
    let mut lines = vec![format!("start: {command}")];
    lines.push(format!(
        "  as a shell command line (sh -c), in its own session, stdin from /dev/null, cwd {}, output appended to {}",
        cwd.as_ref()
            .map_or("(current)".into(), |c| c.display().to_string()),
        log.display()
    ));
    lines.push(format!(
        "then wait until {address} listens and {shown} answers"
    ));
    Ok(Plan {
        code: ActionCode::RestartBackend,
        question: format!("Start the backend ({command})?"),
        lines,
        target: ActionTarget::RestartCommand(RestartCommandTarget {
            command: command.clone(),
            cwd: cwd.clone(),
            log: log.clone(),
            address: address.to_string(),
        }),
        foreign: false,
        work: Work::RestartCommand {
            spawn: d,
            address,
            health_path: health,
            protocol,
        },
    })
}

/// `backend-127.0.0.1-8080.log` in fixer's state directory: output is never discarded.
fn default_log(address: &BackendAddr) -> std::path::PathBuf {
    let name: String = address
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    crate::state::log_dir().join(format!("backend-{}.log", name.trim_matches('-')))
}

/// Whether something listens on the backend address right now (on any of a name's addresses:
/// nginx reaches it there).
pub fn listening(address: &BackendAddr) -> bool {
    !listening_inodes(address).is_empty()
}

/// The inodes of the sockets listening on the backend address, to find who holds them.
pub fn listening_inodes(address: &BackendAddr) -> Vec<u64> {
    match address {
        BackendAddr::Tcp(_) | BackendAddr::Named(_) => {
            let dests = address.tcp_addrs();
            let dual = net::dual_stack_default();
            let tcp = net::tcp_listeners().unwrap_or_default();
            net::serving(&tcp, &dests, dual).map(|s| s.inode).collect()
        }
        BackendAddr::Unix(path) => {
            let shown = path.display().to_string();
            net::unix_listeners()
                .unwrap_or_default()
                .iter()
                .filter(|u| u.listening && u.path.as_deref() == Some(&shown))
                .map(|u| u.inode)
                .collect()
        }
    }
}

pub fn systemctl(args: &[&str]) -> anyhow::Result<command::Output> {
    command::run(
        std::process::Command::new("systemctl").args(args),
        Duration::from_secs(90),
    )
}

pub fn apply_unit(
    unit: &str,
    address: Option<&BackendAddr>,
    health: &Health<'_>,
    ctx: &mut Ctx<'_>,
) -> Applied {
    let mut out = Applied::new();
    if systemd_restarted_it(unit, &mut out, ctx) {
        return wait_healthy(address, health, out, ctx);
    }
    if !restart_unit(unit, &mut out, ctx) {
        let result = show(unit, &mut out, ctx);
        let limit = result.as_deref() == Some("start-limit-hit")
            || systemd::journal(unit, 5).is_ok_and(|l| systemd::start_limit_in_journal(&l));
        if limit {
            out.note(ctx, format!("{unit} hit systemd's start limit (StartLimitBurst): it must be reset before it can start"));
            match ctx.consent.ask(
                &format!("Run `systemctl reset-failed {unit}` and try again?"),
                false,
            ) {
                crate::consent::Answer::Approved(_) => {
                    let _ = systemctl(&["reset-failed", unit]).map(|o| {
                        out.note(
                            ctx,
                            format!("systemctl reset-failed {unit}: exit {}", code(&o)),
                        )
                    });
                    if restart_unit(unit, &mut out, ctx) {
                        return wait_healthy(address, health, out, ctx);
                    }
                }
                _ => return out.end(Outcome::Declined),
            }
        }
        journal(unit, &mut out, ctx);
        return out.end(Outcome::Failed);
    }
    show(unit, &mut out, ctx);
    wait_healthy(address, health, out, ctx)
}

/// systemd is already bringing the unit back (Restart= after a crash, or a start in progress):
/// a `systemctl restart` now would fight it. Waits for systemd's own restart and says whether
/// the unit came up; if not, the caller restarts it as usual.
fn systemd_restarted_it(unit: &str, out: &mut Applied, ctx: &mut Ctx<'_>) -> bool {
    const KEYS: [&str; 4] = ["ActiveState", "SubState", "NRestarts", "RestartUSec"];
    match systemd::show(unit, &KEYS) {
        Ok(p) if p.restarting() => out.note(
            ctx,
            format!(
                "systemd is already restarting {unit} ({}): waiting for it instead of restarting it",
                p.shown(&KEYS)
            ),
        ),
        _ => return false,
    }
    poll_until(ctx.listen_wait, || {
        systemd::show(unit, &KEYS).is_ok_and(|p| !p.restarting())
    });
    let now = systemd::show(unit, &KEYS).unwrap_or_default();
    out.note(
        ctx,
        format!("systemd's restart of {unit}: {}", now.shown(&KEYS)),
    );
    now.get("ActiveState") == Some("active")
}

fn code(o: &command::Output) -> String {
    o.code.map_or("killed".into(), |c| c.to_string())
}

fn restart_unit(unit: &str, out: &mut Applied, ctx: &mut Ctx<'_>) -> bool {
    match systemctl(&["restart", unit]) {
        Ok(o) => {
            out.note(ctx, format!("systemctl restart {unit}: exit {}", code(&o)));
            for l in o.stderr.lines().filter(|l| !l.trim().is_empty()) {
                out.note(ctx, format!("  {}", crate::sanitize::clean(l)));
            }
            if !o.success() {
                return false;
            }
            let active = systemctl(&["is-active", unit])
                .map(|o| o.stdout.trim().to_string())
                .unwrap_or_default();
            out.note(ctx, format!("systemctl is-active {unit}: {active}"));
            active == "active"
        }
        Err(e) => {
            out.note(
                ctx,
                format!("systemctl restart {unit} could not run: {e:#}"),
            );
            false
        }
    }
}

/// Records `systemctl show` and returns the unit's Result (e.g. `start-limit-hit`).
fn show(unit: &str, out: &mut Applied, ctx: &mut Ctx<'_>) -> Option<String> {
    let o = systemctl(&["show", "-p", "NRestarts,Result,ExecMainStatus", unit]).ok()?;
    let text = o.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    out.note(
        ctx,
        format!("systemctl show {unit}: {}", crate::sanitize::clean(&text)),
    );
    o.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Result="))
        .map(str::to_string)
}

fn journal(unit: &str, out: &mut Applied, ctx: &mut Ctx<'_>) {
    let Ok(o) = command::run(
        std::process::Command::new("journalctl").args(["-u", unit, "-n", "15", "--no-pager"]),
        Duration::from_secs(10),
    ) else {
        return;
    };
    for l in o.stdout.lines() {
        out.note(ctx, format!("  journal: {}", crate::sanitize::clean(l)));
    }
}

fn wait_healthy(
    address: Option<&BackendAddr>,
    health: &Health<'_>,
    mut out: Applied,
    ctx: &mut Ctx<'_>,
) -> Applied {
    let Some(address) = address else { return out };
    let timeout = ctx.timeout;
    if poll_until(ctx.listen_wait, || {
        listening(address) && health.answers(address, timeout)
    }) {
        out.note(ctx, format!("{address} listens and {health} answers"));
        out
    } else if super::interrupted() {
        out.note(
            ctx,
            format!("interrupted while waiting for {address} to answer {health}"),
        );
        out.end(Outcome::Interrupted)
    } else {
        out.note(
            ctx,
            format!(
                "{address} did not answer {health} within {} s",
                ctx.listen_wait.as_secs()
            ),
        );
        out.end(Outcome::Failed)
    }
}
