//! Fills in what the operator did not give, from the config of the nginx that proxies to the
//! backend: its ports (the `listen`s of the server blocks whose `*_pass` reaches the backend)
//! and, without `[[verify]]`/`--health`, URLs through those server blocks. Each filled value
//! says where it came from, so the evidence never shows a guess as a fact.

use std::collections::BTreeSet;

use super::{Discovery, Reach, Site};
use crate::nginx::conf::servers::{location_path, Listen};
use crate::target::{Target, VerifySpec};

/// How many URLs through nginx are derived at most (one per server block and port).
const MAX_DERIVED_URLS: usize = 4;

/// Completes `target` in place; does nothing when the ports were given.
pub fn complete(target: &mut Target) {
    if target.nginx.ports_given {
        if target.verify.is_empty() {
            target.verify = crate::config::implied_verify(target, &[]);
        }
        return;
    }
    let found = super::read(&target.nginx, target.timeout);
    complete_from(target, &found);
}

pub fn complete_from(target: &mut Target, found: &Discovery) {
    let sites = serving_sites(target, found);
    let mut notes = Vec::new();
    for (i, s) in &found.unread {
        notes.push(format!("config of {i} could not be read: {s}"));
    }
    let mut ports: Vec<u16> = Vec::new();
    for site in &sites {
        for l in &site.server.listens {
            if !ports.contains(&l.port) {
                ports.push(l.port);
                notes.push(format!(
                    "port {} from {} listen (server {}, {} {})",
                    l.port,
                    l.at,
                    site.server.name(),
                    site.route.pass.name,
                    site.route.pass.args.first().map_or("", String::as_str)
                ));
            }
        }
    }
    if ports.is_empty() {
        notes.push(no_ports_note(target, found));
        if target.backend.is_none() {
            ports = crate::playbook::validate::DEFAULT_NGINX_PORTS.to_vec();
        }
    }
    target.nginx.ports = ports;
    if target.verify.is_empty() {
        target.verify = crate::config::implied_verify(
            &Target {
                nginx: crate::target::NginxSpec {
                    ports: Vec::new(),
                    ..target.nginx.clone()
                },
                ..target.clone()
            },
            &[],
        );
        for (url, note) in urls(target, &sites) {
            notes.push(note);
            target.verify.push(url);
        }
        if sites.is_empty() && target.backend.is_none() {
            target.verify = crate::config::implied_verify(target, &[]);
        }
    }
    target.nginx.derived = notes;
}

fn no_ports_note(target: &Target, found: &Discovery) -> String {
    let configs: Vec<String> = found.sources.iter().map(|s| s.describe()).collect();
    let read = if configs.is_empty() {
        "no nginx config was found".to_string()
    } else {
        format!("read {}", configs.join(", "))
    };
    match &target.backend {
        Some(b) => format!(
            "no server block proxies to {}: no nginx ports to check ({read}; give --nginx-port)",
            b.address
        ),
        None => format!(
            "no server block names the domains: checking the default ports 80, 443 ({read})"
        ),
    }
}

/// The sites that serve this target: those reaching its backend, else those named for its
/// domains; from the first config that has any (one nginx serves a site).
fn serving_sites<'a>(target: &Target, found: &'a Discovery) -> Vec<&'a Site> {
    let mut reach = Reach::default();
    let hits: Vec<&Site> = match &target.backend {
        Some(b) => found
            .sites
            .iter()
            .filter(|s| reach.reaches(&s.endpoint, &b.address, target.timeout))
            .collect(),
        None => found
            .sites
            .iter()
            .filter(|s| s.server.names.iter().any(|n| target.domains.contains(n)))
            .collect(),
    };
    let Some(first) = hits.first().map(|s| s.source) else {
        return Vec::new();
    };
    hits.into_iter().filter(|s| s.source == first).collect()
}

/// One URL per server block and port, through nginx with the block's name as Host.
fn urls(target: &Target, sites: &[&Site]) -> Vec<(VerifySpec, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for site in sites {
        for l in &site.server.listens {
            let Some((spec, note)) = url_for(target, site, l) else {
                continue;
            };
            if out.len() < MAX_DERIVED_URLS && seen.insert(spec.url.clone()) {
                out.push((spec, note));
            }
        }
    }
    out
}

fn url_for(target: &Target, site: &Site, l: &Listen) -> Option<(VerifySpec, String)> {
    let backend_path = target
        .backend
        .as_ref()
        .map_or("/", |b| b.health_path.as_str());
    let path = match location_path(&site.route.location)? {
        "/" => backend_path,
        p => p,
    };
    let (scheme, default) = if l.ssl { ("https", 443) } else { ("http", 80) };
    let host = site
        .server
        .host_name()
        .or(l.addr.as_deref())
        .unwrap_or("localhost");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port = if l.port == default {
        String::new()
    } else {
        format!(":{}", l.port)
    };
    let via = l
        .addr
        .clone()
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let url = format!("{scheme}://{host}{port}{path}");
    let note = format!(
        "health URL {url} from server {} ({}), location {} ({})",
        site.server.name(),
        site.server.at,
        site.route.location,
        site.route.pass.at()
    );
    Some((
        VerifySpec {
            url,
            via: Some(via),
            insecure: l.ssl,
            expect: Vec::new(),
            auth: None,
        },
        note,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::Invocation;
    use crate::target::{BackendAddr, BackendSpec, NginxSpec};

    const LAB: &str = include_str!("../../tests/fixtures/nginx/lab-T.txt");

    fn found() -> Discovery {
        let mut d = Discovery {
            sources: vec![super::super::Source {
                master: None,
                invocation: Invocation {
                    binary: "/usr/sbin/nginx".into(),
                    prefix: Some("/tmp/ngx".into()),
                    config: Some("/tmp/ngx/nginx.conf".into()),
                    error_log: None,
                },
                config_path: "/tmp/ngx/nginx.conf".into(),
            }],
            ..Default::default()
        };
        let dump = crate::nginx::Dump::new(true, "nginx -T".into(), Vec::new(), LAB.into());
        super::super::add_sites(&mut d, 0, &dump);
        d
    }

    fn target(backend: &str) -> Target {
        Target {
            name: "t".into(),
            source: "flags".into(),
            domains: Vec::new(),
            expected_ips: Vec::new(),
            dns_server: None,
            offline: false,
            nginx: NginxSpec::default(),
            backend: Some(BackendSpec {
                address: BackendAddr::parse(backend).unwrap(),
                matcher: None,
                health_path: "/".into(),
                restart: None,
                protocol: None,
            }),
            verify: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
            watch: Default::default(),
        }
    }

    #[test]
    fn ports_and_urls_come_from_the_server_block_that_reaches_the_backend() {
        let mut t = target("127.0.0.1:18000");
        complete_from(&mut t, &found());
        assert_eq!(t.nginx.ports, [18080, 18443]);
        assert!(
            t.nginx.derived[0].starts_with("port 18080 from /tmp/ngx/nginx.conf:17 listen"),
            "{:?}",
            t.nginx.derived
        );
        let urls: Vec<&str> = t.verify.iter().map(|v| v.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:18000/",
                "http://localhost:18080/api/health",
                "https://localhost:18443/api/health",
                "http://localhost:18080/",
                "https://localhost:18443/",
            ]
        );
        assert!(t.verify[2].insecure && t.verify[2].via.as_deref() == Some("127.0.0.1"));
    }

    #[test]
    fn no_block_reaching_the_backend_means_no_ports_not_80_and_443() {
        let mut t = target("127.0.0.1:9999");
        complete_from(&mut t, &found());
        assert!(t.nginx.ports.is_empty());
        assert!(t.nginx.derived[0].contains("no server block proxies to 127.0.0.1:9999"));
        assert_eq!(t.verify.len(), 1, "only the backend itself");
    }
}
