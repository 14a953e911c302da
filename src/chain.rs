//! The chain, in one screen: dns → nginx → upstream → error_log → backend_port → port_holder
//! → tls → auth → recurl.
//! Network probes (dns, recurl) run in the background while the local checks read /proc, so a
//! stuck backend costs one probe timeout, not one per probe; results are still reported in
//! chain order.

use crate::check::backend_port::{self, Listening};
use crate::check::nginx::{self, NginxView};
use crate::check::port_holder::{self, HolderView};
use crate::check::recurl::nginx_probes_pass;
use crate::check::{auth, dns, error_log, recurl, tls, unit_history, upstream};
use crate::exit_code::ExitCode;
use crate::finding::{Finding, FindingCode};
use crate::step::details::BackendPortDetails;
use crate::step::{self, Recorder, StepName, StepResult, Verdict};
use crate::sys::{http, net};
use crate::target::Target;

mod subjects;
pub use subjects::Subjects;

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
    pub holder: Option<HolderView>,
    /// What nginx's config speaks to the backend (`fastcgi_pass`, `proxy_pass https://`, ...).
    pub backend_protocol: Option<crate::target::Protocol>,
    /// The processes a fix would act on, read here so the planner reads no /proc.
    pub subjects: Subjects,
}

pub fn diagnose(target: &Target, progress: &mut dyn Progress) -> Diagnosis {
    let started = std::time::Instant::now();
    let started_at = crate::clock::now_rfc3339();
    let answers = &http::Answers::new();
    let tcp = &net::tcp_listeners();
    std::thread::scope(|s| {
        // The requests that need nothing from this host's readings are sent first: every
        // verify URL through nginx, the certificates on the HTTPS ones, the login. Only a
        // request straight to the backend needs the config (for its protocol). Their lines in
        // nginx's error log carry `Referer: fixer:probe`, which the error_log step leaves out,
        // so it still counts only what users hit. Each distinct request is sent once per walk
        // (`answers`).
        let probes_began = step::Began::now();
        let through_nginx = background(s, move || recurl::through_nginx(target, answers));
        let tls_given = background(s, move || tls::given(target, answers));
        let auth = background(s, move || auth::run_with(target, answers));
        // One view of the process table for every step; dropped before any action runs
        // (every thread that reads it is joined before the walk ends).
        let _processes = crate::sys::process::snapshot::install();
        let _dumps = crate::nginx::dumps::install();
        let dns = background(s, || dns::run(target));
        let mut steps = Vec::new();
        let mut report = |r: StepResult, p: &mut dyn Progress| {
            let r = crate::check::host::explained(r, target);
            p.done(&r);
            steps.push(r);
        };
        progress.begin(StepName::Dns);
        // The name is looked up while the local steps read /proc and nginx -T runs and the
        // probes start: a slow resolver must not delay them. It is reported first all the same.

        // `nginx -T` is the longest local reading: it starts first, on its own thread.
        let nginx = background(s, move || match tcp {
            Ok(tcp) => nginx::run(target, tcp),
            Err(e) => (
                step::could_not_run(StepName::Nginx, e),
                NginxView::default(),
            ),
        });
        // The backend's sockets and their holders are read, and the accept probe started,
        // meanwhile: none of it needs the config, and the probe's wait for an accept then
        // overlaps `nginx -T`. The step is still reported in chain order.
        let (mut port_step, listening) = backend_port_readings(target, tcp);
        let holders = port_holder::begin(target, &listening);

        let (nginx_step, nginx_view) =
            joined(nginx).unwrap_or_else(|| (crashed(StepName::Nginx), NginxView::default()));
        // What nginx -T printed is written for the next diagnosis meanwhile: it waits on
        // nothing else, and on 3 000 server blocks it is 800 KB.
        let remembered = background(s, crate::nginx::memory::save);

        // The error log needs the config, not the upstream step's reading: it is read
        // meanwhile, on a 3 000-server-block config as long as the upstream step itself. A
        // scope of its own lets that thread borrow the view instead of copying the dump.
        let listeners = tcp.as_deref().unwrap_or_default();
        let (log_step, (upstream_step, protocol)) = std::thread::scope(|beside| {
            let log = background(beside, || error_log::run(target, &nginx_view, listeners));
            // The server blocks (the tls step's `listen ... ssl` ports) are read from the
            // parsed config while the upstream step reads its servers: on a 3 000-block config
            // each takes as long as the parse.
            if let Some(dump) = nginx_view.dump.as_ref().filter(|d| d.ok) {
                let _ = std::thread::Builder::new().spawn_scoped(beside, || dump.blocks().len());
            }
            let upstream = upstream::run(target, &nginx_view);
            (join(log, StepName::ErrorLog), upstream)
        });
        let target = &target.with_config_protocol(protocol);
        let straight = background(s, {
            let target = target.clone();
            move || recurl::straight(&target, answers)
        });
        let tls_config = background(s, {
            let (target, nginx) = (target.clone(), nginx_view.clone());
            move || tls::from_config(&target, &nginx, answers)
        });

        // Reported in chain order once the name has been looked up.
        report(join(dns, StepName::Dns), progress);
        for (name, step) in [
            (StepName::Nginx, nginx_step),
            (StepName::Upstream, upstream_step),
            (StepName::ErrorLog, log_step.clone()),
        ] {
            progress.begin(name);
            report(step, progress);
        }

        progress.begin(StepName::BackendPort);
        // Nothing listens and the backend has a unit: say how it died.
        unit_history::explain(&mut port_step, target);
        // It listens, but may nginx's workers connect to the unix socket?
        crate::check::socket_access::explain(&mut port_step, target, &nginx_view, &listening);
        report(port_step, progress);

        progress.begin(StepName::PortHolder);
        let gathered = port_holder::finish(target, holders, answers);
        // The holder is judged against what nginx answered, so recurl is awaited first.
        // What a crashed thread did not ask, `finish` asks.
        let asked = [joined(through_nginx), joined(straight)].map(Option::unwrap_or_default);
        let recurl = caught(StepName::Recurl, || {
            recurl::finish(target, probes_began.clone(), asked, answers)
        });
        let context = port_holder::Context {
            nginx: Some(&nginx_view),
            error_log: Some(&log_step),
            recurl: Some(&recurl),
        };
        let (holder_step, holder) = port_holder::judge(target, gathered, &context);
        report(holder_step, progress);

        // What nginx serves over TLS and behind basic auth, before the URLs' verdict, so an
        // expired certificate or refused credentials is the root cause rather than its symptom.
        progress.begin(StepName::Tls);
        let tls = match (joined(tls_given), joined(tls_config)) {
            (Some(given), Some(from_config)) => caught(StepName::Tls, || {
                tls::judged(probes_began, [given, from_config].concat())
            }),
            _ => crashed(StepName::Tls),
        };
        report(tls, progress);
        progress.begin(StepName::Auth);
        report(join(auth, StepName::Auth), progress);

        progress.begin(StepName::Recurl);
        report(direct_disagrees(recurl), progress);
        crate::sys::holders::remembered::save();
        let _ = joined(remembered);
        error_log::explain_root(&mut steps);

        Diagnosis {
            subjects: Subjects::read(&listening),
            started_at,
            elapsed_ms: started.elapsed().as_millis() as u64,
            steps,
            nginx: nginx_view,
            holder,
            backend_protocol: protocol,
        }
    })
}

/// What listens on the backend's address (the backend_port step's readings).
fn backend_port_readings(
    target: &Target,
    tcp: &anyhow::Result<Vec<net::TcpSocket>>,
) -> (StepResult, Listening) {
    // An unreadable /proc/net/unix is fixer's own failure, never "nothing listens".
    let unix = if matches!(
        target.backend.as_ref().map(|b| &b.address),
        Some(crate::target::BackendAddr::Unix(_))
    ) {
        net::unix_listeners()
    } else {
        Ok(Vec::new())
    };
    match (tcp, &unix) {
        (Ok(tcp), Ok(unix)) => backend_port::run(target, tcp, unix),
        (Err(e), _) | (_, Err(e)) => (
            Recorder::<BackendPortDetails>::start(StepName::BackendPort).could_not_run(e),
            Listening::default(),
        ),
    }
}

/// A check run on its own thread, or right here when no thread can be started (a resource
/// limit of fixer's own must not become a finding, nor a crash).
enum Background<'scope, F, T = StepResult> {
    Thread(std::thread::ScopedJoinHandle<'scope, T>),
    Inline(F),
}

fn background<'scope, 'env, F, T>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    f: F,
) -> Background<'scope, F, T>
where
    F: FnOnce() -> T + Send + Clone + 'scope,
    T: Send + 'scope,
{
    match std::thread::Builder::new().spawn_scoped(s, f.clone()) {
        Ok(h) => Background::Thread(h),
        Err(_) => Background::Inline(f),
    }
}

/// A check that panicked is reported as a check that could not run, never as a crash.
fn join<F: FnOnce() -> StepResult>(handle: Background<'_, F>, name: StepName) -> StepResult {
    joined(handle).unwrap_or_else(|| crashed(name))
}

/// The thread's value, or `None` when it panicked.
fn joined<F: FnOnce() -> T, T>(handle: Background<'_, F, T>) -> Option<T> {
    match handle {
        Background::Thread(h) => h.join().ok(),
        Background::Inline(f) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok(),
    }
}

/// [`join`] for a check run right here.
fn caught(name: StepName, f: impl FnOnce() -> StepResult) -> StepResult {
    join(Background::Inline(f), name)
}

fn crashed(name: StepName) -> StepResult {
    step::could_not_run(
        name,
        &anyhow::anyhow!("the {} check crashed", name.as_str()),
    )
}

/// The one rule for the whole product: healthy means every check ran and passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Healthy,
    /// A check found a problem.
    Problem,
    /// Nothing failed, but some check could not run: health is not proven.
    Incomplete,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Problem => "problem",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// Backend URLs failing while every URL through nginx passes: a disagreement between direct
/// readings and what users get, reported with both readings, not a failure of the site.
fn direct_disagrees(recurl: StepResult) -> StepResult {
    if recurl.verdict != Verdict::Fail || nginx_probes_pass(Some(&recurl)) != Some(true) {
        return recurl;
    }
    let Some(f) = recurl.finding.clone() else {
        return recurl;
    };
    let finding = Finding::new(
        FindingCode::ProbesDisagree,
        format!(
            "every URL through nginx answers as expected, but a direct probe does not: {} [{}]",
            f.cause, f.code
        ),
    )
    .with_action("no kill or restart while the site works through nginx; check the direct URL (scheme, port, expected status)");
    StepResult {
        verdict: Verdict::Warn,
        summary: finding.cause.clone(),
        finding: Some(finding),
        ..recurl
    }
}

impl Diagnosis {
    pub fn outcome(&self) -> Outcome {
        match self.root_cause() {
            Some(f) if f.code == FindingCode::HolderUninspectable => Outcome::Incomplete,
            Some(_) => Outcome::Problem,
            None if !self.could_not_run().is_empty() => Outcome::Incomplete,
            None => Outcome::Healthy,
        }
    }

    /// Every check ran and passed (warnings allowed).
    pub fn healthy(&self) -> bool {
        self.outcome() == Outcome::Healthy
    }

    /// The steps that could not run, each with why: what an incomplete outcome names.
    pub fn could_not_run(&self) -> Vec<&StepResult> {
        self.steps.iter().filter(|s| s.error.is_some()).collect()
    }

    /// "recurl (basic-auth password: …); port_holder (…)": what kept the outcome incomplete.
    pub fn incomplete_reason(&self) -> String {
        let mut parts: Vec<String> = self
            .could_not_run()
            .iter()
            .map(|s| format!("{} ({})", s.name.as_str(), s.error.as_deref().unwrap_or("")))
            .collect();
        if let Some(f) = self
            .root_cause()
            .filter(|f| f.code == FindingCode::HolderUninspectable)
        {
            parts.push(format!("port_holder ({})", f.cause));
        }
        parts.join("; ")
    }

    /// Another listening socket on the backend's address accepts connections (SO_REUSEPORT),
    /// so removing the holder that does not is enough.
    pub fn other_listeners_serve(&self) -> bool {
        self.step(StepName::PortHolder)
            .and_then(|s| s.details.others_accept())
            .unwrap_or(false)
    }

    /// Whether the probes through nginx all pass (see [`nginx_probes_pass`]).
    pub fn site_works_through_nginx(&self) -> bool {
        nginx_probes_pass(self.step(StepName::Recurl)) == Some(true)
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
        match self.outcome() {
            Outcome::Healthy => ExitCode::Healthy,
            Outcome::Problem => ExitCode::Problem,
            Outcome::Incomplete => ExitCode::CheckFailed,
        }
    }
}
