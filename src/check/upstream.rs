//! `upstream`: does nginx proxy the site to the backend's address? Read from `nginx -T`, so it
//! sees the effective config including every included file.

use std::net::IpAddr;

use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::nginx::conf::{self, pass, Endpoint, Server};
use crate::step::{StepName, StepResult};

use crate::step::details::UpstreamTarget;
type Rec = crate::step::Recorder<crate::step::details::UpstreamDetails>;
use crate::sys::resolve;
use crate::target::{BackendAddr, BackendSpec, Protocol, Target};

/// Server blocks that serve files, and proxy targets that are not the backend, shown one line
/// each up to this many: on a hosting-size config they are thousands, which no operator reads
/// and which cost more to print than to find. Every line that reaches the backend is shown,
/// and `details.targets` keeps every other target.
const SHOWN_MAX: usize = 20;

/// The step's result, and the protocol of the config line that reaches the backend (for the
/// direct probe, when the playbook does not name one).
pub fn run(target: &Target, nginx: &NginxView) -> (StepResult, Option<Protocol>) {
    let mut rec = Rec::start(StepName::Upstream);
    let Some(backend) = &target.backend else {
        return (rec.skip("no backend configured"), None);
    };
    let Some(dump) = nginx.dump.as_ref().filter(|d| d.ok) else {
        return (
            rec.skip(
                "nginx's effective config is not available (`nginx -T` failed or nginx is missing)",
            ),
            None,
        );
    };
    let tree = dump.tree();
    let servers = relevant_servers(target, dump.servers());
    let mut matched = false;
    let mut spoken: Vec<(Protocol, String)> = Vec::new();
    let mut others = Vec::new();
    let mut dynamic = false;
    let statics: Vec<_> = servers.iter().filter(|s| s.proxies.is_empty()).collect();
    for server in statics.iter().take(SHOWN_MAX) {
        rec.see(format!(
            "{} listens on {}: no proxy_pass (serves files itself)",
            server_label(server),
            crate::sanitize::clean(&server.listen_addrs.join(", "))
        ));
    }
    if statics.len() > SHOWN_MAX {
        rec.see(format!(
            "… and {} more server blocks on these ports that serve files themselves",
            statics.len() - SHOWN_MAX
        ));
    }
    for server in &servers {
        for (location, pass) in &server.proxies {
            let protocol = pass::protocol(tree, pass);
            for (endpoint, at) in conf::endpoints(tree, pass) {
                let verdict = compare(&endpoint, &backend.address, target);
                let elsewhere = matches!(verdict, Compare::Different(_));
                if !elsewhere || others.len() < SHOWN_MAX {
                    rec.see(format!(
                        "{} (location {location}, {}): {} {} → {endpoint} ({at}), {}{}",
                        server_label(server),
                        pass.at(),
                        pass.name,
                        pass.args.first().map_or("", String::as_str),
                        protocol.label(),
                        verdict.note()
                    ));
                }
                match verdict {
                    Compare::Same(_) => {
                        matched = true;
                        spoken.push((protocol, pass.at()));
                    }
                    Compare::Dynamic => dynamic = true,
                    Compare::Different(_) => others.push((endpoint, at)),
                }
            }
        }
    }
    if others.len() > SHOWN_MAX {
        rec.see(format!(
            "… and {} more proxy targets that are not the backend (the JSON details list every one)",
            others.len() - SHOWN_MAX
        ));
    }
    rec.details.backend = Some(backend.address.to_string());
    rec.details.targets = Some(
        others
            .iter()
            .map(|(e, at)| UpstreamTarget {
                endpoint: e.to_string(),
                at: at.to_string(),
            })
            .collect(),
    );
    let protocol = spoken_protocol(&mut rec, backend, &spoken);
    if let Some(f) = crate::check::server_block::falls_to_default(target, tree) {
        return (rec.fail(f), protocol);
    }
    if matched {
        let r = rec.ok(format!("nginx proxies to the backend {}", backend.address));
        return (r, protocol);
    }
    if let Some((endpoint, at)) = others.first() {
        let why = match compare(endpoint, &backend.address, target) {
            Compare::Different(why) => why,
            _ => String::new(),
        };
        let r = rec.fail(
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
        return (r, protocol);
    }
    let reason = if dynamic {
        "nginx's proxy target is built from variables and cannot be compared with the backend"
    } else {
        "no proxy_pass in the server blocks for these ports"
    };
    let r = rec.warn(
        reason,
        Some(Finding::new(
            FindingCode::UpstreamNotFound,
            format!(
                "{reason}; could not confirm nginx reaches {}",
                backend.address
            ),
        )),
    );
    (r, protocol)
}

/// Records what the backend speaks and where that was read. The playbook's `protocol` wins;
/// otherwise the first config line that reaches the backend decides.
fn spoken_protocol(
    rec: &mut Rec,
    backend: &BackendSpec,
    spoken: &[(Protocol, String)],
) -> Option<Protocol> {
    let from_config = spoken.first().map(|(p, _)| *p);
    let line = match (backend.protocol, spoken.first()) {
        (Some(p), Some((c, at))) if p != *c => format!(
            "the backend speaks {} (playbook); nginx speaks {} to it at {at}, so nginx's requests fail",
            p.label(),
            c.label()
        ),
        (Some(p), _) => format!("the backend speaks {} (playbook)", p.label()),
        (None, Some((c, at))) => format!("the backend speaks {} (as nginx does at {at})", c.label()),
        (None, None) => return None,
    };
    rec.see(line);
    if let Some((other, at)) = spoken.iter().find(|(p, _)| Some(*p) != from_config) {
        rec.see(format!(
            "nginx also speaks {} to the backend at {at}; fixer's direct probe speaks {}",
            other.label(),
            backend.protocol.or(from_config).unwrap_or_default().label()
        ));
    }
    rec.details.protocol = Some(backend.protocol.or(from_config).map(|p| p.as_str()));
    from_config
}

/// The target with the backend's protocol read from nginx's config, for a command that does
/// not walk the chain (`verify`) but asks the backend straight: a verify URL to a php-fpm pool
/// must be asked in FastCGI there too. Reads the config only when the playbook names no
/// protocol and some verify URL goes to the backend.
pub fn resolve_protocol(target: &Target) -> Target {
    let asks_backend = target
        .verify
        .iter()
        .any(|v| crate::check::recurl::route(target, v) == crate::check::recurl::Route::Backend);
    let known = target.backend.as_ref().is_none_or(|b| b.protocol.is_some());
    if known || !asks_backend {
        return target.clone();
    }
    let Ok(tcp) = crate::sys::net::tcp_listeners() else {
        return target.clone();
    };
    let (_, nginx) = crate::check::nginx::run(target, &tcp);
    let (_, protocol) = run(target, &nginx);
    target.with_config_protocol(protocol)
}

fn server_label(s: &Server) -> String {
    let name = s.names.first().map_or("_", String::as_str);
    format!("server {name} ({})", s.at)
}

/// Servers listening on the playbook's nginx ports, preferring those named for its domains.
fn relevant_servers<'a>(target: &Target, servers: &'a [Server]) -> Vec<&'a Server> {
    let on_ports: Vec<&Server> = servers
        .iter()
        .filter(|s| {
            s.listen_ports
                .iter()
                .any(|p| target.nginx.ports.contains(p))
        })
        .collect();
    let pool = if on_ports.is_empty() {
        servers.iter().collect()
    } else {
        on_ports
    };
    let named: Vec<&Server> = pool
        .iter()
        .copied()
        .filter(|s| {
            s.names
                .iter()
                .any(|n| target.domains.iter().any(|d| d == n))
        })
        .collect();
    if named.is_empty() {
        pool
    } else {
        named
    }
}

pub(crate) enum Compare {
    /// Reaches the backend; the text shows how a name resolved.
    Same(String),
    Dynamic,
    /// Differs; the text explains a non-obvious reason (e.g. localhost → ::1).
    Different(String),
}

impl Compare {
    fn note(&self) -> String {
        match self {
            Compare::Same(how) => format!(" — the backend{how}"),
            Compare::Dynamic => " — not comparable".into(),
            Compare::Different(_) => String::new(),
        }
    }
}

pub(crate) fn compare(endpoint: &Endpoint, backend: &BackendAddr, target: &Target) -> Compare {
    match (endpoint, backend) {
        (Endpoint::Dynamic(_), _) => Compare::Dynamic,
        (Endpoint::Unix(p), BackendAddr::Unix(b)) if std::path::Path::new(p) == b => {
            Compare::Same(String::new())
        }
        (Endpoint::Tcp { host, port }, BackendAddr::Tcp(_) | BackendAddr::Named(_))
            if Some(*port) == backend.port() =>
        {
            compare_tcp(host, *port, backend, target)
        }
        _ => Compare::Different(String::new()),
    }
}

/// nginx resolves a name in `proxy_pass`/`server` to every address and tries each in turn: it
/// reaches the backend when any of them is one of the backend's (by `sys::net::serves`).
fn compare_tcp(host: &str, port: u16, backend: &BackendAddr, target: &Target) -> Compare {
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolve::resolve(host, target.timeout).unwrap_or_default(),
    };
    let list = ips
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let ours = backend.tcp_addrs();
    let dual = crate::sys::net::dual_stack_default();
    let reaches = |ip: &IpAddr| {
        ours.iter()
            .any(|b| crate::sys::net::serves(*b, std::net::SocketAddr::new(*ip, port), dual))
    };
    let same_name = matches!(backend, BackendAddr::Named(n) if n.host.eq_ignore_ascii_case(host));
    if same_name || ips.iter().any(reaches) {
        let note = if host.parse::<IpAddr>().is_err() {
            format!(" ({host} resolves to {list}; nginx tries each in turn)")
        } else {
            String::new()
        };
        Compare::Same(note)
    } else if ips.is_empty() {
        Compare::Different(format!(": {host} does not resolve"))
    } else {
        Compare::Different(format!(": {host} resolves to {list}"))
    }
}
