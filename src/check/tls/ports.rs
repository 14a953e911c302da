//! HTTPS ports nginx's config serves for the site that no verify URL covers: each becomes one
//! more URL for the tls step, so a certificate is read even when the playbook only probes HTTP.

use crate::check::nginx::NginxView;
use crate::sys::http::{self, UrlParts};
use crate::target::{Target, VerifySpec};

/// `https://DOMAIN:PORT/` via the listen address (127.0.0.1 for a wildcard) for each playbook
/// port that a `listen ... ssl` serves and no `https://` verify URL already reaches.
pub(super) fn uncovered(
    target: &Target,
    nginx: &NginxView,
    covered: &[&VerifySpec],
) -> Vec<VerifySpec> {
    let Some(dump) = nginx.dump.as_ref().filter(|d| d.ok) else {
        return Vec::new();
    };
    let blocks = dump.blocks();
    let covered_ports: Vec<u16> = covered.iter().filter_map(|s| port_of(s)).collect();
    let mut out = Vec::new();
    for &port in &target.nginx.ports {
        if covered_ports.contains(&port) {
            continue;
        }
        let found = blocks.iter().find_map(|b| {
            let listen = b.listens.iter().find(|l| l.port == port && l.ssl)?;
            let name = target
                .domains
                .first()
                .map(String::as_str)
                .or_else(|| b.host_name())?;
            Some((name.to_string(), listen.addr.clone()))
        });
        let Some((name, addr)) = found else { continue };
        let via = addr
            .filter(|a| http::parse_via(a, port).is_ok())
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let url = match port {
            443 => format!("https://{name}/"),
            _ => format!("https://{name}:{port}/"),
        };
        out.push(VerifySpec {
            url,
            via: Some(via),
            insecure: false,
            expect: Vec::new(),
            auth: None,
        });
    }
    out
}

/// The port a verify URL connects to (its `via` port when it names one).
fn port_of(spec: &VerifySpec) -> Option<u16> {
    let url = UrlParts::parse(&spec.url).ok()?;
    match spec.via.as_deref() {
        Some(v) => http::parse_via(v, url.port).ok().map(|a| a.port()),
        None => Some(url.port),
    }
}
