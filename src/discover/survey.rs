//! The zero-config run: every server block of every nginx on this host, and for each distinct
//! backend the chain's local checks and probes, once. The process table, the socket tables
//! and each config are read once; backends are checked through a bounded pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{backend_of, Discovery, Site, Source};
use crate::check::backend_port::Listening;
use crate::check::{backend_port, nginx as nginx_step, port_holder, recurl};
use crate::finding::Finding;
use crate::nginx::master::{self, Master};
use crate::step::details::NoDetails;
use crate::step::{self, Recorder, StepName, StepResult, Verdict};
use crate::sys::holders;
use crate::sys::net::{self, TcpSocket, TcpState, UnixSocket};
use crate::target::{BackendAddr, BackendSpec, NginxSpec, Target};

/// How many backends are checked at once (each probe also has its own timeout).
const POOL: usize = 8;

/// One row of the table: a location of a server block and where it sends requests.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Row {
    pub server: String,
    pub ports: Vec<u16>,
    pub location: String,
    /// The endpoint as the config names it (`127.0.0.1:8080`, `unix:/run/php.sock`).
    pub backend: String,
    /// file:line of the `*_pass` directive.
    pub at: String,
    /// Index into [`Survey::backends`]; None when the endpoint cannot be checked.
    #[serde(skip)]
    pub checked: Option<usize>,
    /// Why it was not checked (a variable, a name that does not resolve).
    pub unchecked: Option<String>,
}

/// One distinct backend and what the chain saw for it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub target: Target,
    pub direct: Direct,
    pub steps: Vec<StepResult>,
}

/// Whether fixer may probe a discovered backend straight over plain HTTP. A raw HTTP probe of
/// a TLS, FastCGI, uwsgi, SCGI or gRPC socket says nothing about its health (and must never
/// make a healthy php-fpm look stuck), so those are judged by whether they listen and by the
/// URLs through nginx only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct {
    Http,
    /// The directive that names it, e.g. `fastcgi_pass` or `proxy_pass https://…`.
    NotHttp(String),
}

fn direct_of(sites: &[&Site]) -> Direct {
    for site in sites {
        let pass = &site.route.pass;
        let arg = pass.args.first().map_or("", String::as_str);
        if pass.name != "proxy_pass" || arg.starts_with("https://") {
            return Direct::NotHttp(format!("{} {arg}", pass.name));
        }
    }
    Direct::Http
}

impl Checked {
    /// The first failure in chain order.
    pub fn root_cause(&self) -> Option<&Finding> {
        self.steps
            .iter()
            .filter(|s| s.verdict == Verdict::Fail)
            .find_map(|s| s.finding.as_ref())
    }

    pub fn could_not_run(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.error.is_some())
    }

    pub fn broken(&self) -> bool {
        self.root_cause().is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub sources: Vec<Source>,
    pub unread: Vec<(String, String)>,
    pub rows: Vec<Row>,
    pub backends: Vec<Checked>,
    pub elapsed_ms: u64,
}

impl Survey {
    /// No nginx master runs and no config was found: nothing to survey.
    pub fn no_nginx(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Reads every nginx on the host and groups its sites by backend; checks nothing yet.
pub fn discover(timeout: Duration) -> (Survey, Vec<Master>) {
    let started = Instant::now();
    let _processes = crate::sys::process::snapshot::install();
    let _dumps = crate::nginx::dumps::install();
    let masters = master::list();
    let found = super::read_from(
        super::sources(&NginxSpec::default(), &masters, masters.is_empty()),
        timeout,
    );
    let mut survey = group(&found, timeout);
    survey.elapsed_ms = started.elapsed().as_millis() as u64;
    (survey, masters)
}

/// What each backend gets: the chain's local checks and probes, or only the URLs that prove
/// health (`fixer verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Chain,
    VerifyOnly,
}

/// Discovers, then checks each distinct backend once.
pub fn run(timeout: Duration, depth: Depth) -> Survey {
    let started = Instant::now();
    // One view of the process table for discovery and every backend's checks.
    let _processes = crate::sys::process::snapshot::install();
    let _dumps = crate::nginx::dumps::install();
    let (mut survey, masters) = discover(timeout);
    check_all(&mut survey, &masters, depth);
    if depth == Depth::Chain {
        holders::remembered::save();
        crate::nginx::memory::save();
    }
    survey.elapsed_ms = started.elapsed().as_millis() as u64;
    survey
}

fn group(found: &Discovery, timeout: Duration) -> Survey {
    let mut survey = Survey {
        sources: found.sources.clone(),
        unread: found.unread.clone(),
        ..Default::default()
    };
    let mut resolved: HashMap<String, Option<BackendAddr>> = HashMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut members: Vec<(BackendAddr, Vec<&Site>)> = Vec::new();
    for site in &found.sites {
        let shown = site.endpoint.to_string();
        let addr = resolved
            .entry(shown.clone())
            .or_insert_with(|| backend_of(&site.endpoint, timeout))
            .clone();
        let checked = addr.map(|a| {
            *index.entry(a.to_string()).or_insert_with(|| {
                members.push((a, Vec::new()));
                members.len() - 1
            })
        });
        if let Some(i) = checked {
            members[i].1.push(site);
        }
        survey.rows.push(Row {
            server: site.server.name().to_string(),
            ports: ports_of(&site.server),
            location: site.route.location.clone(),
            unchecked: checked.is_none().then(|| unchecked_reason(site)),
            backend: shown,
            at: site.route.pass.at(),
            checked,
        });
    }
    for (addr, sites) in &members {
        let direct = direct_of(sites);
        let mut target = target_for(addr, sites, found, timeout);
        if direct != Direct::Http {
            // Only the URLs through nginx: the direct one would be plain HTTP.
            target.verify.retain(|v| v.via.is_some());
        }
        survey.backends.push(Checked {
            target,
            direct,
            steps: Vec::new(),
        });
    }
    for (_, server) in &found.static_servers {
        survey.rows.push(Row {
            server: server.name().to_string(),
            ports: ports_of(server),
            location: "-".into(),
            backend: "(serves files itself)".into(),
            at: server.at.clone(),
            checked: None,
            unchecked: None,
        });
    }
    survey
}

/// A block's ports, each once (`listen 80` and `listen [::]:80` are one port).
fn ports_of(server: &crate::nginx::conf::servers::ServerBlock) -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::new();
    for l in &server.listens {
        if !ports.contains(&l.port) {
            ports.push(l.port);
        }
    }
    ports
}

fn unchecked_reason(site: &Site) -> String {
    match &site.endpoint {
        crate::nginx::conf::Endpoint::Dynamic(_) => {
            "built from variables: decided per request".into()
        }
        _ => "the host name does not resolve".into(),
    }
}

/// A target for one backend, as if a playbook named it: the nginx whose config proxies to it,
/// the ports of those server blocks, and URLs through them.
fn target_for(addr: &BackendAddr, sites: &[&Site], found: &Discovery, timeout: Duration) -> Target {
    let source = &found.sources[sites[0].source];
    let first = sites[0];
    let mut target = Target {
        name: format!("{} → {addr}", first.server.name()),
        source: format!("discovered in {}", source.describe()),
        domains: Vec::new(),
        expected_ips: Vec::new(),
        dns_server: None,
        offline: false,
        nginx: NginxSpec {
            binary: Some(source.invocation.binary.clone()),
            prefix: source.invocation.prefix.clone(),
            config: source.invocation.config.clone(),
            ..Default::default()
        },
        backend: Some(BackendSpec {
            address: addr.clone(),
            matcher: None,
            health_path: "/".into(),
            restart: None,
            protocol: None,
        }),
        verify: Vec::new(),
        timeout,
        watch: Default::default(),
    };
    let mine = Discovery {
        sources: found.sources.clone(),
        sites: sites.iter().map(|s| (*s).clone()).collect(),
        ..Default::default()
    };
    super::derive::complete_from(&mut target, &mine);
    target
}

/// The nginx step once per config, then every backend's own checks, `POOL` at a time.
fn check_all(survey: &mut Survey, masters: &[Master], depth: Depth) {
    let tcp = net::tcp_listeners();
    let unix = net::unix_listeners().unwrap_or_default();
    let ports: Vec<(StepResult, Listening)> = match depth {
        Depth::Chain => survey
            .backends
            .iter()
            .map(|b| backend_port_step(&b.target, tcp.as_ref(), &unix))
            .collect(),
        Depth::VerifyOnly => Vec::new(),
    };
    // Every fd table is read once, for every socket any step will ask about.
    let _shared = (depth == Depth::Chain).then(|| share_holder_scan(survey, &ports, &tcp, masters));
    let nginx_steps = match depth {
        Depth::Chain => nginx_per_source(survey, masters, tcp.as_ref().ok()),
        Depth::VerifyOnly => HashMap::new(),
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<StepResult>)>> = Mutex::new(Vec::new());
    let backends = &survey.backends;
    std::thread::scope(|s| {
        for _ in 0..POOL.min(backends.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = backends.get(i) else { break };
                let mut steps = nginx_steps
                    .get(&b.target.source)
                    .cloned()
                    .into_iter()
                    .collect::<Vec<_>>();
                match (depth, ports.get(i)) {
                    (Depth::Chain, Some((port_step, listening))) => {
                        steps.push(port_step.clone());
                        steps.extend(check_one(&b.target, &b.direct, listening));
                    }
                    _ => steps.push(recurl::run(&b.target)),
                }
                if let Ok(mut r) = results.lock() {
                    r.push((i, steps));
                }
            });
        }
    });
    for (i, steps) in results.into_inner().unwrap_or_default() {
        survey.backends[i].steps = steps;
    }
}

/// One holder scan for the listening sockets of every backend and every nginx port found,
/// answering the nginx and port_holder steps' lookups until the guard is dropped.
fn share_holder_scan(
    survey: &Survey,
    ports: &[(StepResult, Listening)],
    tcp: &anyhow::Result<Vec<TcpSocket>>,
    masters: &[Master],
) -> holders::snapshot::Installed {
    let nginx_ports: Vec<u16> = survey
        .backends
        .iter()
        .flat_map(|b| b.target.nginx.ports.iter().copied())
        .collect();
    let mut inodes: Vec<u64> = ports.iter().flat_map(|(_, l)| l.inodes()).collect();
    if let Ok(tcp) = tcp {
        inodes.extend(
            tcp.iter()
                .filter(|s| s.state == TcpState::Listen && nginx_ports.contains(&s.local.port()))
                .map(|s| s.inode),
        );
    }
    inodes.sort_unstable();
    inodes.dedup();
    let likely: Vec<i32> = masters.iter().map(|m| m.info.pid).collect();
    let scan = holders::find_holders(&inodes, &likely);
    holders::snapshot::install(&inodes, scan)
}

/// The nginx step of each config, keyed by the targets' `source` text.
fn nginx_per_source(
    survey: &Survey,
    masters: &[Master],
    tcp: Option<&Vec<TcpSocket>>,
) -> HashMap<String, StepResult> {
    let mut out = HashMap::new();
    for b in &survey.backends {
        if out.contains_key(&b.target.source) {
            continue;
        }
        let mut t = b.target.clone();
        t.nginx.ports = ports_of_source(survey, &b.target);
        t.nginx.derived.clear();
        let step = match tcp {
            Some(tcp) => nginx_step::run_among(&t, tcp, masters).0,
            None => Recorder::<NoDetails>::start(StepName::Nginx)
                .could_not_run(&anyhow::anyhow!("/proc/net/tcp could not be read")),
        };
        out.insert(b.target.source.clone(), step);
    }
    out
}

/// Every port the backends of one config are served on.
fn ports_of_source(survey: &Survey, of: &Target) -> Vec<u16> {
    let mut ports: Vec<u16> = survey
        .backends
        .iter()
        .filter(|b| b.target.source == of.source)
        .flat_map(|b| b.target.nginx.ports.iter().copied())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn backend_port_step(
    target: &Target,
    tcp: Result<&Vec<TcpSocket>, &anyhow::Error>,
    unix: &[UnixSocket],
) -> (StepResult, Listening) {
    match tcp {
        Ok(tcp) => backend_port::run(target, tcp, unix),
        Err(e) => (
            step::could_not_run(StepName::BackendPort, &anyhow::anyhow!("{e:#}")),
            Default::default(),
        ),
    }
}

/// The port_holder step (plain-HTTP backends only) and the probes, after backend_port.
fn check_one(target: &Target, direct: &Direct, listening: &Listening) -> Vec<StepResult> {
    let holder_step = match direct {
        Direct::Http => port_holder::run(target, listening).0,
        Direct::NotHttp(how) => Recorder::<NoDetails>::start(StepName::PortHolder).skip(format!(
            "nginx reaches it with `{}`: not probed over HTTP; judged by whether it listens and by the URLs through nginx",
            crate::sanitize::clean(how)
        )),
    };
    vec![holder_step, recurl::run(target)]
}
