//! Resolving one domain: this host's resolver, optionally a DNS server asked directly, and
//! what answers at a foreign address.

use std::net::IpAddr;
use std::time::Instant;

use crate::sys::http::{self, Probe};
use crate::sys::{dns_query, resolve};
use crate::target::Target;

pub use crate::step::details::{Answered, DomainResult};

pub(super) fn check_all(
    target: &Target,
    expected: &[IpAddr],
    local: &[IpAddr],
    probe_foreign: bool,
) -> Vec<DomainResult> {
    std::thread::scope(|s| {
        let handles: Vec<_> = target
            .domains
            .iter()
            .map(|d| s.spawn(move || check_domain(target, d, expected, local, probe_foreign)))
            .collect();
        handles
            .into_iter()
            .zip(&target.domains)
            .map(|(h, d)| {
                h.join()
                    .unwrap_or_else(|_| failed(d, expected, "the lookup thread panicked".into(), 0))
            })
            .collect()
    })
}

fn check_domain(
    target: &Target,
    domain: &str,
    expected: &[IpAddr],
    local: &[IpAddr],
    probe: bool,
) -> DomainResult {
    let started = Instant::now();
    // With a DNS server to ask, it is asked while this host's resolver answers.
    let (system, asked) = std::thread::scope(|s| {
        let asking = target.dns_server.map(|server| {
            (
                server,
                s.spawn(move || dns_query::query(server, domain, target.timeout)),
            )
        });
        let system = resolve::resolve(domain, target.timeout);
        let asked = asking.map(|(server, h)| {
            let answer = h
                .join()
                .unwrap_or_else(|_| Err("the DNS query crashed".to_string()));
            (server, answer)
        });
        (system, asked)
    });
    let (ips, system_ips) = match (asked, system) {
        (None, Ok(ips)) => (ips, None),
        (None, Err(e)) => return failed(domain, expected, e, started.elapsed().as_millis() as u64),
        (Some((server, asked)), system) => match asked {
            Ok(ips) if ips.is_empty() => {
                let e = format!("DNS server {server} has no A/AAAA record for it");
                return failed(domain, expected, e, started.elapsed().as_millis() as u64);
            }
            Ok(ips) => (ips, Some(system.unwrap_or_default())),
            Err(e) => {
                return failed(
                    domain,
                    expected,
                    format!("DNS server {e}"),
                    started.elapsed().as_millis() as u64,
                )
            }
        },
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let foreign = ips.iter().find(|ip| !expected.contains(ip)).copied();
    // `--offline`: nothing is sent to an address outside this host.
    let answered = foreign
        .filter(|ip| probe && (!target.offline || local.contains(ip)))
        .map(|ip| what_answered(domain, ip, target));
    // Another machine answered: what this host's nginx answers for the same URL, beside it.
    let other = answered
        .as_ref()
        .filter(|a| a.status.is_some() && !local.contains(&a.ip));
    let here = other.map(|_| what_answered(domain, IpAddr::from([127, 0, 0, 1]), target));
    DomainResult {
        other_server: other.is_some(),
        here,
        not_probed: foreign.is_some() && probe && target.offline && answered.is_none(),
        domain: domain.to_string(),
        on_this_host: foreign.is_none(),
        ips,
        system_ips,
        expected: expected.to_vec(),
        error: None,
        answered,
        elapsed_ms,
    }
}

pub(super) fn failed(
    domain: &str,
    expected: &[IpAddr],
    error: String,
    elapsed_ms: u64,
) -> DomainResult {
    DomainResult {
        domain: domain.to_string(),
        ips: Vec::new(),
        system_ips: None,
        expected: expected.to_vec(),
        on_this_host: false,
        error: Some(error),
        answered: None,
        other_server: false,
        here: None,
        not_probed: false,
        elapsed_ms,
    }
}

/// `GET http://DOMAIN:PORT/` at `ip`, on the site's first nginx port (80 without one).
fn what_answered(domain: &str, ip: IpAddr, target: &Target) -> Answered {
    let url = match target.nginx.ports.first() {
        Some(&port) if port != 80 => format!("http://{domain}:{port}/"),
        _ => format!("http://{domain}/"),
    };
    let probe = Probe {
        url: url.clone(),
        via: Some(ip.to_string()),
        insecure: true,
        basic_auth: None,
        timeout: target.timeout,
    };
    let (status, reason, server, error) = match http::get(&probe) {
        Ok(r) => (Some(r.status), Some(r.reason), r.server, None),
        Err(f) => (None, None, None, Some(f.message)),
    };
    Answered {
        url,
        ip,
        status,
        reason,
        server,
        error,
    }
}
