//! What nginx on this host serves, read from the effective config (`nginx -T`) of every running
//! master, or of nginx's default config when none runs: each server block, its listens, and the
//! backend each location proxies to. Used to fill in what an operator did not give (ports,
//! health URLs) and, with nothing given at all, to diagnose every backend.

pub mod derive;
pub mod init;
pub mod survey;
pub mod verdict;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::nginx::conf::servers::{Route, ServerBlock};
use crate::nginx::conf::{self, Directive, Endpoint};
use crate::nginx::master::{self, Master};
use crate::nginx::{self as ngx, Invocation};
use crate::sys::resolve;
use crate::target::{BackendAddr, NginxSpec};

/// How many `nginx -T` runs go at once (one per master found).
const DUMP_POOL: usize = 4;

/// One nginx config that was read: a running master's, or the one on disk nothing runs from.
#[derive(Debug, Clone)]
pub struct Source {
    pub master: Option<Master>,
    pub invocation: Invocation,
    pub config_path: PathBuf,
}

impl Source {
    /// "master PID 812 (/etc/nginx/nginx.conf)" or "/etc/nginx/nginx.conf (not running)".
    pub fn describe(&self) -> String {
        match &self.master {
            Some(m) => format!("master PID {} ({})", m.info.pid, self.config_path.display()),
            None => format!("{} (no master runs from it)", self.config_path.display()),
        }
    }
}

/// One location of one server block and the backend it reaches.
#[derive(Debug, Clone)]
pub struct Site {
    /// Index into [`Discovery::sources`].
    pub source: usize,
    pub server: std::sync::Arc<ServerBlock>,
    pub route: Route,
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub sources: Vec<Source>,
    pub sites: Vec<Site>,
    /// Server blocks that proxy nowhere (static files, redirects), with their source.
    pub static_servers: Vec<(usize, std::sync::Arc<ServerBlock>)>,
    /// Configs that could not be read, and why.
    pub unread: Vec<(String, String)>,
}

/// The configs to read: the playbook's when it names one; otherwise every running master's
/// (one per config) and, when `default_too`, nginx's default config if no master runs from it
/// (a site's nginx may be the one that is down).
pub(crate) fn sources(spec: &NginxSpec, masters: &[Master], default_too: bool) -> Vec<Source> {
    let names_config = spec.config.is_some() || spec.prefix.is_some();
    let mut out: Vec<Source> = Vec::new();
    if !names_config {
        for m in masters {
            let Some(inv) = Invocation::from_master(&m.info.cmdline.join(" "), spec) else {
                continue;
            };
            if out
                .iter()
                .any(|s| master::same_config(&s.config_path, &m.config_path))
            {
                continue;
            }
            out.push(Source {
                master: Some(m.clone()),
                invocation: inv,
                config_path: m.config_path.clone(),
            });
        }
    }
    let wanted = master::wanted_config(spec);
    let covered = out
        .iter()
        .any(|s| master::same_config(&s.config_path, &wanted));
    if !covered && (names_config || (default_too && wanted.exists())) {
        if let Some(inv) = Invocation::from_spec(spec) {
            let running = masters
                .iter()
                .find(|m| master::same_config(&m.config_path, &wanted))
                .cloned();
            out.push(Source {
                master: running,
                invocation: inv,
                config_path: wanted,
            });
        }
    }
    out
}

/// Reads every source's effective config, each `nginx -T` within `timeout`, a few at a time.
pub fn read(spec: &NginxSpec, timeout: Duration) -> Discovery {
    read_from(sources(spec, &master::list(), true), timeout)
}

pub fn read_from(sources: Vec<Source>, timeout: Duration) -> Discovery {
    let dumps: Vec<anyhow::Result<ngx::Dump>> = sources
        .chunks(DUMP_POOL)
        .flat_map(|chunk| {
            std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|src| s.spawn(move || ngx::dump(&src.invocation, timeout)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the config failed")))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut out = Discovery {
        sources,
        ..Default::default()
    };
    for (i, dump) in dumps.into_iter().enumerate() {
        let shown = out.sources[i].describe();
        match dump {
            Ok(d) if d.ok => add_sites(&mut out, i, &d),
            Ok(d) => out.unread.push((
                shown,
                format!("`{}` failed: {}", d.command, d.messages.join("; ")),
            )),
            Err(e) => out.unread.push((shown, format!("{e:#}"))),
        }
    }
    out
}

fn add_sites(out: &mut Discovery, source: usize, dump: &crate::nginx::Dump) {
    // Only the upstream blocks, so resolving each pass does not walk the whole tree again.
    let upstreams: Vec<Directive> = conf::upstreams(dump.tree()).cloned().collect();
    for server in dump.blocks() {
        if server.routes.is_empty() {
            out.static_servers.push((source, server.clone()));
        }
        for route in &server.routes {
            for (endpoint, _) in conf::endpoints(&upstreams, &route.pass) {
                out.sites.push(Site {
                    source,
                    server: server.clone(),
                    route: route.clone(),
                    endpoint,
                });
            }
        }
    }
}

/// Decides whether a config's endpoint is the backend address, resolving host names once each
/// (`localhost` is every address it resolves to, as nginx uses them all).
#[derive(Default)]
pub struct Reach {
    resolved: HashMap<String, Vec<IpAddr>>,
}

impl Reach {
    pub fn reaches(
        &mut self,
        endpoint: &Endpoint,
        backend: &BackendAddr,
        timeout: Duration,
    ) -> bool {
        match (endpoint, backend) {
            (Endpoint::Unix(p), BackendAddr::Unix(b)) => std::path::Path::new(p) == b,
            (Endpoint::Tcp { host, port }, BackendAddr::Tcp(addr)) if *port == addr.port() => {
                let ips = self
                    .resolved
                    .entry(host.clone())
                    .or_insert_with(|| resolve::resolve(host, timeout).unwrap_or_default());
                ips.contains(&addr.ip())
            }
            _ => false,
        }
    }
}

/// The backend address an endpoint names, when it is one fixer can check (an IP or a name that
/// resolves, or a unix socket); variables are decided per request and cannot be.
pub fn backend_of(endpoint: &Endpoint, timeout: Duration) -> Option<BackendAddr> {
    match endpoint {
        Endpoint::Unix(p) => Some(BackendAddr::Unix(p.into())),
        Endpoint::Tcp { host, port } => {
            let ips = resolve::resolve(host, timeout).ok()?;
            // nginx tries every address; IPv4 first is what a loopback backend usually binds.
            let ip = ips
                .iter()
                .find(|ip| ip.is_ipv4())
                .or(ips.first())
                .copied()?;
            Some(BackendAddr::Tcp(std::net::SocketAddr::new(ip, *port)))
        }
        Endpoint::Dynamic(_) => None,
    }
}
