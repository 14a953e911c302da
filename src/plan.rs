//! Decides which actions would repair what the chain found. Pure: reads a diagnosis, returns
//! plans (or why nothing can be done automatically); changes nothing.

use crate::action::{self, Plan};
use crate::chain::Diagnosis;
use crate::check::port_holder::Condition;
use crate::finding::FindingCode;
use crate::target::Target;

pub enum Decision {
    /// Actions to propose, in order.
    Act(Vec<Plan>),
    /// The cause is real but not something fixer changes (DNS, config edits): say why.
    Manual(String),
    /// Nothing failed in a way an action addresses (e.g. only nginx's fail_timeout is left).
    Wait,
}

pub fn decide(d: &Diagnosis, target: &Target) -> Decision {
    let Some(root) = d.root_cause() else {
        return Decision::Wait;
    };
    use FindingCode::*;
    match root.code {
        NginxNotRunning | NginxPortNotListening if d.nginx.dump_error.is_some() => {
            Decision::Manual(unread_config(d))
        }
        NginxNotRunning => nginx_start(d, target),
        NginxPortNotListening => nginx_reload(d, target),
        BackendNotListening | HolderZombie => restart(target, None, Vec::new()),
        BackendPortBound => bound_holder(d, target),
        HolderStopped => match &d.holder {
            Some(h) => Decision::Act(vec![action::resume_holder::plan(h)]),
            None => Decision::Wait,
        },
        HolderStuck | HolderBlockedOnStdin | HolderForeign => holder(d, target),
        HttpGatewayError | HttpTimeout | HttpConnectFailed | HttpBackendError => Decision::Wait,
        _ => Decision::Manual(manual_reason(root.action.as_deref())),
    }
}

/// `nginx -T` gave no reading (timed out, no binary): nginx is neither started nor reloaded on
/// a config nobody tested, and the config is not called invalid either.
fn unread_config(d: &Diagnosis) -> String {
    format!(
        "nginx's config could not be read ({}), so fixer neither starts nor reloads nginx: run `nginx -t` by hand",
        d.nginx.dump_error.as_deref().unwrap_or("no reading")
    )
}

fn manual_reason(action: Option<&str>) -> String {
    format!(
        "fixer does not change this automatically{}",
        action.map_or(String::new(), |a| format!(": {a}"))
    )
}

/// The unit nginx runs under: the playbook's, or `nginx` when systemd is PID 1 — starting it by
/// hand there would leave it outside its supervisor.
fn nginx_unit(target: &Target) -> Option<String> {
    target
        .nginx
        .unit
        .clone()
        .or_else(|| crate::sys::spawn::systemd_booted().then(|| "nginx".to_string()))
}

fn nginx_start(d: &Diagnosis, target: &Target) -> Decision {
    let inv = d.nginx.invocation.as_ref();
    match action::nginx::plan_start(inv, nginx_unit(target).as_deref(), &target.nginx.ports) {
        Ok(p) => Decision::Act(vec![p]),
        Err(why) => Decision::Manual(why),
    }
}

fn nginx_reload(d: &Diagnosis, target: &Target) -> Decision {
    match (&d.nginx.invocation, &d.nginx.master) {
        (Some(inv), Some(m)) => Decision::Act(vec![action::nginx::plan_reload(
            inv,
            nginx_unit(target).as_deref(),
            m.pid,
            &target.nginx.ports,
        )]),
        _ => Decision::Manual(
            "nginx's master or binary was not found, so it cannot be reloaded".into(),
        ),
    }
}

fn restart(target: &Target, unit: Option<&str>, mut plans: Vec<Plan>) -> Decision {
    let Some(backend) = &target.backend else {
        return Decision::Manual("no backend is configured".into());
    };
    match action::restart::plan(backend, unit) {
        Ok(p) => {
            plans.push(p);
            Decision::Act(plans)
        }
        Err(why) if plans.is_empty() => Decision::Manual(why),
        Err(why) => {
            if let Some(p) = plans.last_mut() {
                p.lines.push(format!("afterwards: {why}"));
            }
            Decision::Act(plans)
        }
    }
}

/// A stuck, prompt-blocked or foreign holder: restart its unit when it has one (systemd stops
/// the whole cgroup), otherwise kill the holder family and start the backend.
fn holder(d: &Diagnosis, target: &Target) -> Decision {
    let (Some(h), Some(backend)) = (&d.holder, &target.backend) else {
        return Decision::Wait;
    };
    debug_assert!(h.condition != Condition::Answering || h.matches == Some(false));
    if let (Some(unit), true) = (h.main.restartable_unit(), h.matches != Some(false)) {
        return restart(target, Some(unit), Vec::new());
    }
    match action::kill_holder::plan(h, &backend.address) {
        Ok(kill) => restart(target, None, vec![kill]),
        Err(why) => Decision::Manual(format!("fixer will not signal this holder: {why}")),
    }
}

/// A process that bound the backend's port without listening: kill it like a stuck holder,
/// then start the backend (which would otherwise fail with EADDRINUSE).
fn bound_holder(d: &Diagnosis, target: &Target) -> Decision {
    let Some(backend) = &target.backend else {
        return Decision::Wait;
    };
    let procs: Vec<_> = d
        .listening
        .bound
        .iter()
        .filter_map(|&pid| crate::sys::process::ProcessInfo::read(pid).ok())
        .collect();
    let Some(main) = procs.first().cloned() else {
        return restart(target, None, Vec::new());
    };
    let view = crate::check::port_holder::HolderView {
        matches: backend.matches(&main.cmdline.join(" ")),
        main,
        all: procs,
        condition: Condition::Stuck,
    };
    match action::kill_holder::plan(&view, &backend.address) {
        Ok(kill) => restart(target, None, vec![kill]),
        Err(why) => Decision::Manual(format!("fixer will not signal this process: {why}")),
    }
}
