//! Whose is an error-log line: this backend's, another upstream's, or fixer's own probe's.
//! Decided by the line's `upstream:` peer with the one address rule (`sys::net::serves`), so a
//! name such as `localhost` counts with every address it resolves to.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::nginx::conf::{self, Directive};
use crate::nginx::errlog::{Entry, Peer};
use crate::sys::{net, resolve};
use crate::target::{BackendAddr, Target};

/// Names resolved while sorting one log; each distinct name costs one lookup.
const MAX_LOOKUPS: usize = 32;

pub enum Whose {
    /// Sent by fixer itself (its probes carry `Referer: fixer:probe`).
    OwnProbe,
    Backend,
    /// Another upstream, named for the evidence.
    Other(String),
}

pub struct Owner<'a> {
    target: &'a Target,
    /// `upstream NAME { server …; }` blocks: NAME → the peers of its `server` lines.
    groups: HashMap<String, Vec<Peer>>,
    resolved: HashMap<String, Vec<IpAddr>>,
    /// Every address of a name in nginx's config that also reaches the backend: with
    /// `proxy_pass http://localhost:8080` and a backend on 127.0.0.1:8080, nginx's tries of
    /// [::1]:8080 are about this backend too.
    siblings: Vec<SocketAddr>,
    dual: bool,
}

impl<'a> Owner<'a> {
    pub fn new(target: &'a Target, tree: &[Directive], servers: &[conf::Server]) -> Owner<'a> {
        let groups = conf::upstreams(tree)
            .filter_map(|u| {
                let peers = u
                    .block
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| c.name == "server")
                    .filter_map(|c| c.args.first().and_then(|a| Peer::parse(a)))
                    .collect();
                Some((u.args.first()?.clone(), peers))
            })
            .collect();
        let mut owner = Owner {
            target,
            groups,
            resolved: HashMap::new(),
            siblings: Vec::new(),
            dual: net::dual_stack_default(),
        };
        owner.siblings = owner.find_siblings(tree, servers);
        owner
    }

    fn find_siblings(&mut self, tree: &[Directive], servers: &[conf::Server]) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for server in servers {
            for (_, pass) in &server.proxies {
                for (endpoint, _) in conf::endpoints(tree, pass) {
                    let conf::Endpoint::Tcp { host, port } = endpoint else {
                        continue;
                    };
                    if host.parse::<IpAddr>().is_ok() {
                        continue;
                    }
                    let addrs: Vec<SocketAddr> = self
                        .lookup(&host)
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect();
                    let ours = self.backend_addrs();
                    if addrs.iter().any(|a| self.serves(&ours, *a)) {
                        for a in addrs {
                            if !out.contains(&a) {
                                out.push(a);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn backend_addrs(&self) -> Vec<SocketAddr> {
        self.target
            .backend
            .as_ref()
            .map(|b| b.address.tcp_addrs())
            .unwrap_or_default()
    }

    pub fn whose(&mut self, e: &Entry) -> Whose {
        if e.referrer.as_deref() == Some(crate::sys::http::PROBE_REFERER) {
            return Whose::OwnProbe;
        }
        // nginx's own limits (worker_connections, open files) hold for every site it serves.
        if self.target.backend.is_none() || e.cause.nginx_wide() {
            return Whose::Backend;
        }
        let Some(upstream) = e.upstream.as_deref() else {
            return self.by_server(e.server.as_deref());
        };
        let Some(peer) = Peer::parse(upstream) else {
            return Whose::Other(upstream.to_string());
        };
        let group = match &peer {
            Peer::Name { host, .. } => self.groups.get(host).cloned(),
            _ => None,
        };
        let mine = match group {
            Some(members) => members.iter().any(|m| self.reaches(m)),
            None => self.reaches(&peer),
        };
        if mine {
            Whose::Backend
        } else {
            Whose::Other(label(&peer))
        }
    }

    /// A line without an upstream belongs to the playbook when its server block is one of the
    /// playbook's domains.
    fn by_server(&self, server: Option<&str>) -> Whose {
        match server {
            Some(s)
                if self
                    .target
                    .domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(s)) =>
            {
                Whose::Backend
            }
            Some(s) => Whose::Other(format!("server {s}")),
            None => Whose::Other("no upstream named".into()),
        }
    }

    /// Whether a connection to `peer` lands on the backend.
    fn reaches(&mut self, peer: &Peer) -> bool {
        let Some(backend) = self.target.backend.as_ref().map(|b| &b.address) else {
            return false;
        };
        match (peer, backend) {
            (Peer::Unix(p), BackendAddr::Unix(b)) => std::path::Path::new(p) == b,
            (Peer::Unix(_), _) | (_, BackendAddr::Unix(_)) => false,
            (Peer::Addr(a), b) => self.serves(&b.tcp_addrs(), *a) || self.siblings.contains(a),
            (Peer::Name { host, port }, b) => {
                let port = port.unwrap_or(80);
                if let BackendAddr::Named(n) = b {
                    if n.host.eq_ignore_ascii_case(host) && n.port == port {
                        return true;
                    }
                }
                let ours = b.tcp_addrs();
                self.lookup(host)
                    .into_iter()
                    .any(|ip| self.serves(&ours, SocketAddr::new(ip, port)))
            }
        }
    }

    fn serves(&self, ours: &[SocketAddr], dest: SocketAddr) -> bool {
        ours.iter().any(|b| net::serves(*b, dest, self.dual))
    }

    fn lookup(&mut self, host: &str) -> Vec<IpAddr> {
        if let Some(ips) = self.resolved.get(host) {
            return ips.clone();
        }
        if self.resolved.len() >= MAX_LOOKUPS {
            return Vec::new();
        }
        let ips = resolve::resolve(host, self.target.timeout).unwrap_or_default();
        self.resolved.insert(host.to_string(), ips.clone());
        ips
    }
}

fn label(peer: &Peer) -> String {
    match peer {
        Peer::Addr(a) => a.to_string(),
        Peer::Unix(p) => format!("unix:{p}"),
        Peer::Name {
            host,
            port: Some(p),
        } => format!("{host}:{p}"),
        Peer::Name { host, port: None } => host.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::errlog;

    const ATTRIBUTION: &str = include_str!("../../../tests/fixtures/nginx/error-attribution.log");
    const CONF: &str = "# configuration file /etc/nginx/nginx.conf:\n\
        http { upstream app_one { server 127.0.0.1:53673; server 127.0.0.2:53673; } }\n";

    fn target(address: &str) -> Target {
        let toml =
            format!("[site]\ndomains = [\"site.test\"]\n[backend]\naddress = \"{address}\"\n");
        crate::playbook::validate::parse(&toml, "t.toml", "t").unwrap()
    }

    fn owners(address: &str) -> Vec<String> {
        let t = target(address);
        let tree = conf::parse_dump(CONF);
        let mut owner = Owner::new(&t, &tree, &conf::servers(&tree));
        let since =
            chrono::NaiveDateTime::parse_from_str("2026/11/26 00:00:00", "%Y/%m/%d %H:%M:%S")
                .unwrap();
        errlog::parse(ATTRIBUTION, since)
            .iter()
            .map(|e| match owner.whose(e) {
                Whose::OwnProbe => "probe".to_string(),
                Whose::Backend => "backend".to_string(),
                Whose::Other(name) => name,
            })
            .collect()
    }

    #[test]
    fn lines_are_sorted_by_their_upstream_and_probe_marker() {
        assert_eq!(
            owners("127.0.0.1:53673"),
            [
                "probe",
                "backend",
                "probe",
                "unix:/tmp/cap/none.sock",
                "probe",
                "backend"
            ]
        );
    }

    #[test]
    fn another_address_on_the_same_port_is_another_upstream() {
        let o = owners("127.0.0.3:53673");
        assert_eq!(o[1], "127.0.0.1:53673");
        assert_eq!(o[5], "app_one", "no server of the group is the backend");
    }

    #[test]
    fn a_unix_backend_owns_its_socket_lines_whatever_the_protocol() {
        let o = owners("unix:/tmp/cap/none.sock");
        assert_eq!(o[3], "backend");
        assert_eq!(o[1], "127.0.0.1:53673");
    }
}
