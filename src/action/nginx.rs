//! Start nginx when it is down, or reload it when a port is missing. Never on a config that
//! fails `nginx -t`: a reload would be refused anyway, and a start would fail.

use std::time::Duration;

use super::target::{ActionTarget, ReloadNginxTarget, StartNginxTarget};

use super::{poll_until, ActionCode, Applied, Ctx, Outcome, Plan, Work};
use crate::nginx::Invocation;
use crate::sys::{command, net};
use crate::target::port_list;

pub fn plan_start(
    inv: Option<&Invocation>,
    unit: Option<&str>,
    ports: &[u16],
) -> Result<Plan, String> {
    let how = match (unit, inv) {
        (Some(u), _) => format!("systemctl start {u}"),
        (None, Some(inv)) => inv.describe(&[]),
        (None, None) => {
            return Err(
                "the nginx binary was not found; install nginx or set [nginx] binary".into(),
            )
        }
    };
    Ok(Plan {
        code: ActionCode::StartNginx,
        question: format!("Start nginx ({how})?"),
        lines: vec![
            format!(
                "test the config first: {}",
                inv.map_or("nginx -t".into(), |i| i.describe(&["-t"]))
            ),
            format!("then: {how}"),
            format!("then wait until port {} listens", port_list(ports)),
        ],
        target: ActionTarget::StartNginx(StartNginxTarget {
            command: how.clone(),
            unit: unit.map(str::to_string),
        }),
        foreign: false,
        work: Work::StartNginx {
            inv: inv.cloned(),
            unit: unit.map(str::to_string),
            ports: ports.to_vec(),
        },
    })
}

pub fn plan_reload(inv: &Invocation, unit: Option<&str>, master_pid: i32, ports: &[u16]) -> Plan {
    let how = unit.map_or_else(
        || inv.describe(&["-s", "reload"]),
        |u| format!("systemctl reload {u}"),
    );
    Plan {
        code: ActionCode::ReloadNginx,
        question: format!("Reload nginx (master PID {master_pid})?"),
        lines: vec![
            format!("test the config first: {}", inv.describe(&["-t"])),
            format!("then: {how}"),
        ],
        target: ActionTarget::ReloadNginx(ReloadNginxTarget {
            command: how.clone(),
            master_pid,
        }),
        foreign: false,
        work: Work::ReloadNginx {
            inv: inv.clone(),
            unit: unit.map(str::to_string),
            ports: ports.to_vec(),
        },
    }
}

fn config_ok(inv: Option<&Invocation>, out: &mut Applied, ctx: &mut Ctx<'_>) -> bool {
    let Some(inv) = inv else { return true };
    match command::run(&mut inv.command(&["-t"]), Duration::from_secs(10)) {
        Ok(o) => {
            for l in o.stderr.lines().filter(|l| !l.trim().is_empty()) {
                out.note(
                    ctx,
                    format!("{}: {}", inv.describe(&["-t"]), crate::sanitize::clean(l)),
                );
            }
            o.success()
        }
        Err(e) => {
            out.note(
                ctx,
                format!("{} could not run: {e:#}", inv.describe(&["-t"])),
            );
            false
        }
    }
}

fn run_step(
    cmd: &mut std::process::Command,
    shown: &str,
    out: &mut Applied,
    ctx: &mut Ctx<'_>,
) -> bool {
    match command::run(cmd, Duration::from_secs(30)) {
        Ok(o) => {
            out.note(
                ctx,
                format!(
                    "{shown}: exit {}",
                    o.code.map_or("killed".into(), |c| c.to_string())
                ),
            );
            for l in o.stderr.lines().filter(|l| !l.trim().is_empty()) {
                out.note(ctx, format!("  {}", crate::sanitize::clean(l)));
            }
            o.success()
        }
        Err(e) => {
            out.note(ctx, format!("{shown} could not run: {e:#}"));
            false
        }
    }
}

fn ports_listen(ports: &[u16]) -> bool {
    let sockets = net::tcp_listeners().unwrap_or_default();
    ports
        .iter()
        .all(|p| net::listening_on_port(&sockets, *p).next().is_some())
}

fn finish(ports: &[u16], mut out: Applied, ctx: &mut Ctx<'_>) -> Applied {
    if poll_until(Duration::from_secs(10), || ports_listen(ports)) {
        out.note(ctx, format!("nginx listens on {}", port_list(ports)));
        out
    } else {
        out.note(
            ctx,
            format!(
                "nginx does not listen on all of {} after 10 s",
                port_list(ports)
            ),
        );
        out.end(Outcome::Failed)
    }
}

pub fn apply_start(
    inv: Option<&Invocation>,
    unit: Option<&str>,
    ports: &[u16],
    ctx: &mut Ctx<'_>,
) -> Applied {
    let mut out = Applied::new();
    if !config_ok(inv, &mut out, ctx) {
        out.note(ctx, "the config fails `nginx -t`: not starting nginx");
        return out.end(Outcome::Aborted);
    }
    let started = match (unit, inv) {
        (Some(u), _) => run_step(
            std::process::Command::new("systemctl").args(["start", u]),
            &format!("systemctl start {u}"),
            &mut out,
            ctx,
        ),
        (None, Some(inv)) => run_step(&mut inv.command(&[]), &inv.describe(&[]), &mut out, ctx),
        (None, None) => false,
    };
    if !started {
        return out.end(Outcome::Failed);
    }
    finish(ports, out, ctx)
}

pub fn apply_reload(
    inv: &Invocation,
    unit: Option<&str>,
    ports: &[u16],
    ctx: &mut Ctx<'_>,
) -> Applied {
    let mut out = Applied::new();
    if !config_ok(Some(inv), &mut out, ctx) {
        out.note(ctx, "the config fails `nginx -t`: not reloading");
        return out.end(Outcome::Aborted);
    }
    let ok = match unit {
        Some(u) => run_step(
            std::process::Command::new("systemctl").args(["reload", u]),
            &format!("systemctl reload {u}"),
            &mut out,
            ctx,
        ),
        None => run_step(
            &mut inv.command(&["-s", "reload"]),
            &inv.describe(&["-s", "reload"]),
            &mut out,
            ctx,
        ),
    };
    if !ok {
        return out.end(Outcome::Failed);
    }
    finish(ports, out, ctx)
}
