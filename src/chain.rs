//! The chain, in one screen: dns → nginx → upstream → error_log → backend_port → port_holder
//! → recurl.
//! Network probes (dns, recurl) run in the background while the local checks read /proc, so a
//! stuck backend costs one probe timeout, not one per probe; results are still reported in
//! chain order.

use crate::check::backend_port::{self, Listening};
use crate::check::nginx::{self, NginxView};
use crate::check::port_holder::{self, HolderView};
use crate::check::{dns, error_log, recurl, unit_history, upstream};
use crate::exit_code::ExitCode;
use crate::finding::{Finding, FindingCode};
use crate::step::{Recorder, StepName, StepResult, Verdict};
use crate::sys::net;
use crate::target::Target;

/// Told about each step as it starts and ends, so a terminal can show progress.
pub trait Progress {
    fn begin(&mut self, step: StepName);
    fn done(&mut self, result: &StepResult);
}

/// Progress that shows nothing (JSON output, tests).
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&mut self, _: StepName) {}
    fn done(&mut self, _: &StepResult) {}
}

/// Everything one walk of the chain saw: step results for the report, and the typed views
/// that `fix` turns into actions.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub started_at: String,
    pub elapsed_ms: u64,
    pub steps: Vec<StepResult>,
    pub nginx: NginxView,
    pub listening: Listening,
    pub holder: Option<HolderView>,
}

pub fn diagnose(target: &Target, progress: &mut dyn Progress) -> Diagnosis {
    let started = std::time::Instant::now();
    let started_at = crate::clock::now_rfc3339();
    std::thread::scope(|s| {
        let dns = s.spawn(|| dns::run(target));
        let mut steps = Vec::new();
        let mut report = |r: StepResult, p: &mut dyn Progress| {
            let r = crate::check::host::explained(r, target);
            p.done(&r);
            steps.push(r);
        };
        progress.begin(StepName::Dns);
        report(join(dns, StepName::Dns), progress);

        progress.begin(StepName::Nginx);
        let tcp = net::tcp_sockets();
        let (nginx_step, nginx_view) = match &tcp {
            Ok(tcp) => nginx::run(target, tcp),
            Err(e) => (
                Recorder::start(StepName::Nginx).could_not_run(e),
                NginxView::default(),
            ),
        };
        report(nginx_step, progress);

        progress.begin(StepName::Upstream);
        report(upstream::run(target, &nginx_view), progress);

        progress.begin(StepName::ErrorLog);
        report(error_log::run(target, &nginx_view), progress);
        // Started only now, so the error log read above holds what users hit, not our probes.
        let recurl = s.spawn(|| recurl::run(target));

        progress.begin(StepName::BackendPort);
        let unix = if matches!(
            target.backend.as_ref().map(|b| &b.address),
            Some(crate::target::BackendAddr::Unix(_))
        ) {
            net::unix_sockets().unwrap_or_default()
        } else {
            Vec::new()
        };
        let (mut port_step, listening) = match &tcp {
            Ok(tcp) => backend_port::run(target, tcp, &unix),
            Err(e) => (
                Recorder::start(StepName::BackendPort).could_not_run(e),
                Listening::default(),
            ),
        };
        // Nothing listens and the backend has a unit: say how it died.
        unit_history::explain(&mut port_step, target);
        report(port_step, progress);

        progress.begin(StepName::PortHolder);
        let (holder_step, holder) = port_holder::run(target, &listening);
        report(holder_step, progress);

        progress.begin(StepName::Recurl);
        report(join(recurl, StepName::Recurl), progress);

        Diagnosis {
            started_at,
            elapsed_ms: started.elapsed().as_millis() as u64,
            steps,
            nginx: nginx_view,
            listening,
            holder,
        }
    })
}

/// A check that panicked is reported as a check that could not run, never as a crash.
fn join(handle: std::thread::ScopedJoinHandle<'_, StepResult>, name: StepName) -> StepResult {
    handle.join().unwrap_or_else(|_| {
        Recorder::start(name).could_not_run(&anyhow::anyhow!("the {} check crashed", name.as_str()))
    })
}

impl Diagnosis {
    pub fn healthy(&self) -> bool {
        !self.steps.iter().any(|s| s.verdict == Verdict::Fail)
    }

    /// The first failure in chain order: an earlier break explains the later symptoms.
    pub fn root_cause(&self) -> Option<&Finding> {
        self.steps
            .iter()
            .filter(|s| s.verdict == Verdict::Fail)
            .find_map(|s| s.finding.as_ref())
    }

    /// Independent failures after the root cause (recurl's are its symptoms, not causes).
    pub fn other_failures(&self) -> Vec<&Finding> {
        self.steps
            .iter()
            .filter(|s| s.verdict == Verdict::Fail && s.name != StepName::Recurl)
            .filter_map(|s| s.finding.as_ref())
            .skip(1)
            .collect()
    }

    pub fn step(&self, name: StepName) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.name == name)
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.root_cause() {
            Some(f) if f.code == FindingCode::HolderUninspectable => ExitCode::CheckFailed,
            Some(_) => ExitCode::Problem,
            None if self.steps.iter().any(|s| s.error.is_some()) => ExitCode::CheckFailed,
            None => ExitCode::Healthy,
        }
    }
}
