//! Decides which actions would repair what the chain found. Pure: reads a diagnosis (with the
//! processes the chain read for it), returns plans (or why nothing can be done automatically);
//! reads nothing from the system and changes nothing.

use crate::action::{self, Plan};
use crate::chain::Diagnosis;
use crate::check::port_holder::Condition;
use crate::finding::FindingCode;
use crate::sys::process::ProcessInfo;
use crate::target::Target;

pub enum Decision {
    /// Actions to propose, in order.
    Act(Vec<Plan>),
    /// The cause is real but not something fixer changes (DNS, config edits): say why.
    Manual(String),
    /// Nothing failed in a way an action addresses (e.g. only nginx's fail_timeout is left).
    Wait,
}

/// A failure fixer does not change itself, and what the operator should change.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Manual {
    pub code: FindingCode,
    pub cause: String,
    pub change: String,
}

/// Everything `fix` proposes for one diagnosis.
pub struct Proposal {
    /// The actions for every fixable local failure, in chain order.
    pub plans: Vec<Plan>,
    /// The failures fixer cannot change (DNS, configs), in chain order, listed at the end.
    pub manual: Vec<Manual>,
}

/// Walks every failure in chain order: a wrong DNS record does not stop fixer from starting a
/// dead backend (the Streamlit incident had both), it is only listed for the operator.
/// Failures of the final HTTP step are symptoms of the ones before it, not causes.
pub fn propose(d: &Diagnosis, target: &Target) -> Proposal {
    let target = &target.with_config_protocol(d.backend_protocol);
    let mut out = Proposal {
        plans: Vec::new(),
        manual: Vec::new(),
    };
    let failures = d
        .steps
        .iter()
        .filter(|s| s.verdict == crate::step::Verdict::Fail)
        .filter(|s| s.name != crate::step::StepName::Recurl)
        .filter_map(|s| s.finding.as_ref());
    for f in failures {
        match decide_for(d, f, target) {
            Decision::Act(plans) => out.plans.extend(plans),
            Decision::Manual(why) => out.manual.push(Manual {
                code: f.code,
                cause: f.cause.clone(),
                change: why,
            }),
            Decision::Wait => {}
        }
    }
    if let Some(why) = works_through_nginx(d, &out.plans) {
        out.plans.retain(|p| !touches_backend(p));
        if let Some(root) = d.root_cause() {
            out.manual.push(Manual {
                code: root.code,
                cause: root.cause.clone(),
                change: why,
            });
        }
    }
    out
}

/// A site that works through nginx is not broken, whatever a direct reading says: no plan may
/// then kill, resume or restart the backend. Says why when that rule removes a plan.
fn works_through_nginx(d: &Diagnosis, plans: &[Plan]) -> Option<String> {
    let root = d.root_cause()?;
    (d.site_works_through_nginx() && plans.iter().any(touches_backend)).then(|| {
        format!(
            "every probe through nginx passes, so fixer plans no kill or restart; the other reading: {} [{}]",
            root.cause, root.code
        )
    })
}

fn touches_backend(p: &Plan) -> bool {
    use action::ActionCode::*;
    matches!(p.code, ResumeHolder | KillHolder | RestartBackend)
}

fn decide_for(d: &Diagnosis, root: &crate::finding::Finding, target: &Target) -> Decision {
    use FindingCode::*;
    match root.code {
        NginxNotRunning | NginxPortNotListening if d.nginx.dump_error.is_some() => {
            Decision::Manual(unread_config(d))
        }
        NginxNotRunning => nginx_start(d, target),
        NginxPortNotListening => nginx_reload(d, target),
        BackendNotListening | BackendKilled | BackendExited | BackendStartLimit
        | BackendOomKilled | HolderZombie => restart(target, None, Vec::new()),
        BackendPortBound => bound_holder(d, target),
        BackendBlockedBeforeListen => blocked_backend(d, target),
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
fn nginx_unit(target: &Target, systemd_booted: bool) -> Option<String> {
    target
        .nginx
        .unit
        .clone()
        .or_else(|| systemd_booted.then(|| "nginx".to_string()))
}

fn nginx_start(d: &Diagnosis, target: &Target) -> Decision {
    let inv = d.nginx.invocation.as_ref();
    match action::nginx::plan_start(
        inv,
        nginx_unit(target, d.subjects.systemd_booted).as_deref(),
        &target.nginx.ports,
    ) {
        Ok(p) => Decision::Act(vec![p]),
        Err(why) => Decision::Manual(why),
    }
}

fn nginx_reload(d: &Diagnosis, target: &Target) -> Decision {
    match (&d.nginx.invocation, &d.nginx.master) {
        (Some(inv), Some(m)) => Decision::Act(vec![action::nginx::plan_reload(
            inv,
            nginx_unit(target, d.subjects.systemd_booted).as_deref(),
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
        // Another listener on the address serves (SO_REUSEPORT): remove only the stuck one.
        Ok(kill) if d.other_listeners_serve() => {
            Decision::Act(vec![action::kill_holder::keeping_other_listeners(kill)])
        }
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
    let procs = d.subjects.bound.clone();
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

/// Backend processes waiting at a prompt before they listened. Those inside the unit that will
/// be restarted go with it (systemd stops the whole cgroup); the others are killed first, so
/// the backend started next is the only instance.
fn blocked_backend(d: &Diagnosis, target: &Target) -> Decision {
    let Some(backend) = &target.backend else {
        return Decision::Wait;
    };
    let blocked = &d.subjects.blocked;
    let unit = match &backend.restart {
        Some(crate::target::RestartSpec::Systemd { unit }) => Some(unit.clone()),
        _ => blocked
            .iter()
            .find_map(|(p, _)| p.restartable_unit().map(str::to_string)),
    };
    let same_unit = |p: &ProcessInfo| {
        let norm = |u: &str| u.strip_suffix(".service").unwrap_or(u).to_string();
        unit.is_some() && p.restartable_unit().map(norm) == unit.as_deref().map(norm)
    };
    let loose: Vec<_> = blocked.iter().filter(|(p, _)| !same_unit(p)).collect();
    let mut family: Vec<ProcessInfo> = loose.iter().map(|(p, _)| p.clone()).collect();
    // Like a holder, each is stopped with its descendants, which would otherwise be orphaned.
    let mut kids: Vec<&ProcessInfo> = loose
        .iter()
        .flat_map(|(_, kids)| kids)
        .filter(|k| !family.iter().any(|p| p.pid == k.pid))
        .filter(|k| !k.state.is_gone())
        .collect();
    kids.sort_unstable_by_key(|k| k.pid);
    kids.dedup_by_key(|k| k.pid);
    family.extend(kids.into_iter().cloned());
    let loose = family;
    let Some(main) = loose.first().cloned() else {
        return restart(target, unit.as_deref(), Vec::new());
    };
    let view = crate::check::port_holder::HolderView {
        matches: backend.matches(&main.cmdline.join(" ")),
        main,
        all: loose,
        condition: Condition::BlockedOnStdin,
    };
    match action::kill_holder::plan_blocked(&view, &backend.address) {
        Ok(kill) => restart(target, unit.as_deref(), vec![kill]),
        Err(why) => Decision::Manual(format!("fixer will not signal this process: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::recurl::{self, Route};
    use crate::finding::Finding;
    use crate::step::details::{BackendPortDetails, NginxDetails, RecurlDetails};
    use crate::step::{Recorder, StepName};
    use crate::target::{BackendAddr, BackendSpec, NginxSpec, RestartSpec};

    fn target() -> Target {
        Target {
            name: "t".into(),
            source: "t".into(),
            domains: vec![],
            expected_ips: vec![],
            dns_server: None,
            offline: false,
            nginx: NginxSpec::default(),
            backend: Some(BackendSpec {
                address: BackendAddr::Tcp("127.0.0.1:8080".parse().unwrap()),
                matcher: None,
                health_path: "/".into(),
                restart: Some(RestartSpec::Systemd { unit: "app".into() }),
                protocol: None,
            }),
            verify: vec![],
            timeout: std::time::Duration::from_secs(1),
            watch: Default::default(),
        }
    }

    fn diagnosis(nginx_urls_healthy: bool) -> Diagnosis {
        let down = Finding::new(
            FindingCode::BackendNotListening,
            "nothing listens on 127.0.0.1:8080",
        );
        let down = Recorder::<BackendPortDetails>::start(StepName::BackendPort).fail(down);
        let mut recurl = Recorder::<RecurlDetails>::start(StepName::Recurl);
        recurl.details.urls = Some(vec![recurl::answered(
            "http://example.com/",
            Route::Nginx,
            nginx_urls_healthy,
        )]);
        Diagnosis {
            started_at: String::new(),
            elapsed_ms: 0,
            steps: vec![down, recurl.ok("")],
            nginx: Default::default(),
            holder: None,
            backend_protocol: None,
            subjects: Default::default(),
        }
    }

    #[test]
    fn a_site_that_works_through_nginx_gets_no_restart() {
        let broken = propose(&diagnosis(false), &target());
        assert_eq!(broken.plans[0].code, action::ActionCode::RestartBackend);
        let works = propose(&diagnosis(true), &target());
        assert!(
            works.plans.is_empty(),
            "planned an action for a site that works"
        );
        let why = &works.manual[0].change;
        assert!(
            why.starts_with("every probe through nginx passes, so fixer plans no kill or restart")
                && why.contains("[backend-not-listening]"),
            "{why}"
        );
    }

    /// Whether systemd runs the host is a value the chain read, not something plan.rs looks up.
    #[test]
    fn nginx_is_started_through_its_unit_only_when_systemd_is_booted() {
        let down = Recorder::<NginxDetails>::start(StepName::Nginx).fail(Finding::new(
            FindingCode::NginxNotRunning,
            "no nginx master",
        ));
        let mut d = diagnosis(false);
        d.steps = vec![down];
        let plans = |d: &Diagnosis| {
            let p = propose(d, &target());
            match p.plans.first() {
                Some(plan) => plan.lines.join("\n"),
                None => p.manual.iter().map(|m| m.change.clone()).collect(),
            }
        };
        d.subjects.systemd_booted = true;
        assert!(plans(&d).contains("systemctl start nginx"), "{}", plans(&d));
        d.subjects.systemd_booted = false;
        assert!(
            plans(&d).contains("nginx binary was not found"),
            "{}",
            plans(&d)
        );
    }
}
