//! `upstream`: does nginx proxy the site to the backend's address? Read from `nginx -T`, so it
//! sees the effective config including every included file.

use std::net::IpAddr;

use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::nginx::conf::{self, Endpoint, Server};
use crate::step::{Recorder, StepName, StepResult};
use crate::sys::resolve;
use crate::target::{BackendAddr, Target};

pub fn run(target: &Target, nginx: &NginxView) -> StepResult {
    let mut rec = Recorder::start(StepName::Upstream);
    let Some(backend) = &target.backend else {
        return rec.skip("no backend configured");
    };
    let Some(dump) = nginx.dump.as_ref().filter(|d| d.ok) else {
        return rec.skip(
            "nginx's effective config is not available (`nginx -T` failed or nginx is missing)",
        );
    };
    let tree = conf::parse_dump(&dump.config);
    let servers = relevant_servers(target, conf::servers(&tree));
    let mut matched = false;
    let mut others = Vec::new();
    let mut dynamic = false;
    for server in servers.iter().filter(|s| s.proxies.is_empty()) {
        let ports = server
            .listen_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        rec.see(format!(
            "{} listens on {ports}: no proxy_pass (serves files itself)",
            server_label(server)
        ));
    }
    for server in &servers {
        for (location, pass) in &server.proxies {
            for (endpoint, at) in conf::endpoints(&tree, pass) {
                let verdict = compare(&endpoint, &backend.address, target);
                rec.see(format!(
                    "{} (location {location}, {}): {} {} → {endpoint} ({at}){}",
                    server_label(server),
                    pass.at(),
                    pass.name,
                    pass.args.first().map_or("", String::as_str),
                    verdict.note()
                ));
                match verdict {
                    Compare::Same => matched = true,
                    Compare::Dynamic => dynamic = true,
                    Compare::Different(_) => others.push((endpoint, at)),
                }
            }
        }
    }
    rec.detail("backend", backend.address.to_string());
    rec.detail(
        "targets",
        others
            .iter()
            .map(|(e, at)| serde_json::json!({"endpoint": e.to_string(), "at": at}))
            .collect::<Vec<_>>(),
    );
    if matched {
        return rec.ok(format!("nginx proxies to the backend {}", backend.address));
    }
    if let Some((endpoint, at)) = others.first() {
        let why = match compare(endpoint, &backend.address, target) {
            Compare::Different(why) => why,
            _ => String::new(),
        };
        return rec.fail(
            Finding::new(
                FindingCode::UpstreamMismatch,
                format!(
                    "nginx proxies to {endpoint} ({at}), but the backend is {}{why}",
                    backend.address
                ),
            )
            .with_action(format!(
                "point that line at {}, then `nginx -t` and reload nginx",
                backend.address
            )),
        );
    }
    let reason = if dynamic {
        "nginx's proxy target is built from variables and cannot be compared with the backend"
    } else {
        "no proxy_pass in the server blocks for these ports"
    };
    rec.warn(
        reason,
        Some(Finding::new(
            FindingCode::UpstreamNotFound,
            format!(
                "{reason}; could not confirm nginx reaches {}",
                backend.address
            ),
        )),
    )
}

fn server_label(s: &Server) -> String {
    let name = s.names.first().map_or("_", String::as_str);
    format!("server {name} ({})", s.at)
}

/// Servers listening on the playbook's nginx ports, preferring those named for its domains.
fn relevant_servers(target: &Target, servers: Vec<Server>) -> Vec<Server> {
    let on_ports: Vec<Server> = servers
        .iter()
        .filter(|s| {
            s.listen_ports
                .iter()
                .any(|p| target.nginx.ports.contains(p))
        })
        .cloned()
        .collect();
    let pool = if on_ports.is_empty() {
        servers
    } else {
        on_ports
    };
    let named: Vec<Server> = pool
        .iter()
        .filter(|s| {
            s.names
                .iter()
                .any(|n| target.domains.iter().any(|d| d == n))
        })
        .cloned()
        .collect();
    if named.is_empty() {
        pool
    } else {
        named
    }
}

pub(crate) enum Compare {
    Same,
    Dynamic,
    /// Differs; the text explains a non-obvious reason (e.g. localhost → ::1).
    Different(String),
}

impl Compare {
    fn note(&self) -> &str {
        match self {
            Compare::Same => " — the backend",
            Compare::Dynamic => " — not comparable",
            Compare::Different(_) => "",
        }
    }
}

pub(crate) fn compare(endpoint: &Endpoint, backend: &BackendAddr, target: &Target) -> Compare {
    match (endpoint, backend) {
        (Endpoint::Dynamic(_), _) => Compare::Dynamic,
        (Endpoint::Unix(p), BackendAddr::Unix(b)) if std::path::Path::new(p) == b => Compare::Same,
        (Endpoint::Tcp { host, port }, BackendAddr::Tcp(addr)) if *port == addr.port() => {
            let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => resolve::resolve(host, target.timeout).unwrap_or_default(),
            };
            if ips.contains(&addr.ip()) {
                Compare::Same
            } else if ips.is_empty() {
                Compare::Different(format!(": {host} does not resolve"))
            } else {
                let list = ips
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                Compare::Different(format!(": {host} resolves to {list}"))
            }
        }
        _ => Compare::Different(String::new()),
    }
}
