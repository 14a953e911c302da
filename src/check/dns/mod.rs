//! `dns`: do the playbook's domains point at this host?

use std::net::IpAddr;

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::details::DnsDetails;
use crate::step::{Recorder, StepName, StepResult};

type Rec = Recorder<DnsDetails>;
use crate::sys::ifaddr;
use crate::target::Target;

mod lookup;

use lookup::check_all;
pub use lookup::{Answered, DomainResult};

pub fn run(target: &Target) -> StepResult {
    let mut rec = Rec::start(StepName::Dns);
    if target.domains.is_empty() {
        return rec.skip("no domains configured");
    }
    let local = match ifaddr::local_ips() {
        Ok(ips) => ips,
        Err(e) => return rec.could_not_run(&e),
    };
    let by_expected = !target.expected_ips.is_empty();
    let expected = if by_expected {
        target.expected_ips.clone()
    } else {
        local.clone()
    };
    if by_expected {
        rec.see(format!("expected_ips: {}", list(&expected)));
    } else {
        rec.see(format!("this host's addresses: {}", list(&local)));
    }
    if let Some(server) = target.dns_server {
        rec.see(format!(
            "asking DNS server {server} (what users see) and this host's resolver"
        ));
    }
    let behind_nat = !local.iter().any(ifaddr::is_public);
    // Only a mismatch that is a real failure is worth probing for "what answered there".
    let probe_foreign = by_expected || !behind_nat;
    let results = check_all(target, &expected, &local, probe_foreign);
    for r in &results {
        see_domain(&mut rec, r, by_expected);
    }
    rec.details.compared_with = Some(if by_expected {
        "expected_ips"
    } else {
        "local_ips"
    });
    rec.details.domains = Some(results.clone());
    verdict(
        rec,
        &results,
        by_expected,
        behind_nat,
        &home_addresses(&expected, by_expected),
    )
}

fn see_domain(rec: &mut Rec, r: &DomainResult, by_expected: bool) {
    let domain = clean(&r.domain);
    match &r.error {
        Some(e) => rec.see(format!(
            "getaddrinfo({domain}) → failed: {} ({} ms)",
            clean(e),
            r.elapsed_ms
        )),
        None => match &r.system_ips {
            None => rec.see(format!(
                "getaddrinfo({domain}) → {} ({} ms)",
                list(&r.ips),
                r.elapsed_ms
            )),
            Some(system) => {
                rec.see(format!(
                    "DNS server: {domain} → {} ({} ms)",
                    list(&r.ips),
                    r.elapsed_ms
                ));
                let mut sys_sorted = system.clone();
                let mut dns_sorted = r.ips.clone();
                sys_sorted.sort();
                dns_sorted.sort();
                let note = if sys_sorted == dns_sorted {
                    "the same answer"
                } else {
                    "DIFFERENT: this host sees another answer than users (an /etc/hosts entry?)"
                };
                let seen = if system.is_empty() {
                    "nothing".to_string()
                } else {
                    list(system)
                };
                rec.see(format!(
                    "getaddrinfo({domain}) on this host → {seen}: {note}"
                ));
            }
        },
    }
    let foreign = foreign(r);
    if r.error.is_none() && !foreign.is_empty() {
        let place = if by_expected {
            "in expected_ips"
        } else {
            "on any interface here"
        };
        rec.see(format!("{domain}: {} not {place}", list(&foreign)));
    }
    if let Some(a) = &r.answered {
        rec.see(answered_line(a));
    }
    if let Some(h) = &r.here {
        rec.see(format!("this host's nginx: {}", answered_line(h)));
    }
    if r.not_probed {
        rec.see(format!(
            "{domain}: what answers at {} was not asked (--offline)",
            list(&foreign)
        ));
    }
}

/// `200 (Server: nginx/1.22.1)`, or what went wrong.
fn status_and_server(a: &Answered) -> String {
    match a.status {
        Some(status) => {
            let server = a.server.as_deref().map(clean);
            format!("{status} (Server: {})", server.as_deref().unwrap_or("none"))
        }
        None => format!(
            "nothing: {}",
            clean(a.error.as_deref().unwrap_or("no answer"))
        ),
    }
}

/// `http://example.com/ at 47.84.111.158 answered 502 (Server: nginx/1.18.0 (Ubuntu))`
fn answered_line(a: &Answered) -> String {
    let head = format!("{} at {}", clean(&a.url), a.ip);
    match (a.status, &a.error) {
        (Some(status), _) => {
            let server = a
                .server
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "none".into());
            format!("{head} answered {status} (Server: {server})")
        }
        (None, error) => format!("{head}: {}", clean(error.as_deref().unwrap_or("no answer"))),
    }
}

fn verdict(
    rec: Rec,
    results: &[DomainResult],
    by_expected: bool,
    behind_nat: bool,
    home: &[IpAddr],
) -> StepResult {
    let total = results.len();
    let elsewhere: Vec<_> = results
        .iter()
        .filter(|r| r.error.is_none() && !r.on_this_host)
        .collect();
    let unresolved: Vec<_> = results.iter().filter(|r| r.error.is_some()).collect();
    let count = |n: usize| {
        if total > 1 {
            format!(" ({n} of {total} domains)")
        } else {
            String::new()
        }
    };
    if let (Some(r), true) = (elsewhere.first(), by_expected || !behind_nat) {
        let cause = format!(
            "{}{}",
            points_elsewhere(r, by_expected),
            count(elsewhere.len())
        );
        let action = format!(
            "update the DNS A/AAAA record of {} to {}; fixer changes no DNS records",
            clean(&r.domain),
            this_server(home)
        );
        let code = if r.other_server {
            FindingCode::DnsAnsweredByOtherServer
        } else {
            FindingCode::DnsPointsElsewhere
        };
        return rec.fail(Finding::new(code, cause).with_action(action));
    }
    if let Some(r) = unresolved.first() {
        let cause = format!(
            "{} does not resolve: {}{}",
            clean(&r.domain),
            clean(r.error.as_deref().unwrap_or("")),
            count(unresolved.len())
        );
        let action = format!(
            "create the DNS A/AAAA record of {} pointing at {}, or fix the resolver in /etc/resolv.conf",
            clean(&r.domain),
            this_server(home)
        );
        return rec.fail(Finding::new(FindingCode::DnsUnresolved, cause).with_action(action));
    }
    if let Some(r) = elsewhere.first() {
        let cause = format!(
            "{} resolves to {}, which is not on any interface here; behind NAT that can still be this host — set expected_ips to confirm",
            clean(&r.domain),
            list(&foreign(r))
        );
        let finding = Finding::new(FindingCode::DnsUnconfirmed, cause.clone())
            .with_action("set expected_ips in the playbook to this server's public address");
        return rec.warn(cause, Some(finding));
    }
    let names: Vec<String> = results.iter().map(|r| clean(&r.domain)).collect();
    let place = if by_expected {
        "the expected addresses"
    } else {
        "this host"
    };
    rec.ok(format!(
        "{} resolve{} to {place}",
        names.join(", "),
        if total == 1 { "s" } else { "" }
    ))
}

fn points_elsewhere(r: &DomainResult, by_expected: bool) -> String {
    let not = if by_expected {
        format!("not one of the expected addresses ({})", list(&r.expected))
    } else {
        "not an address of this server".to_string()
    };
    let there = match (&r.answered, &r.here) {
        (Some(a), Some(h)) => format!(
            "; {}, while this host's nginx answers {}",
            answered_line(a),
            status_and_server(h)
        ),
        (Some(a), None) => format!("; {}", answered_line(a)),
        _ => String::new(),
    };
    let hidden = match &r.system_ips {
        Some(system) if !system.is_empty() && system.iter().all(|ip| r.expected.contains(ip)) => format!(
            " (this host's own resolver says {}, probably from /etc/hosts, which hides the problem here)",
            list(system)
        ),
        _ => String::new(),
    };
    format!(
        "{} resolves to {}, {not}, so clients reach another machine{hidden}{there}",
        clean(&r.domain),
        list(&foreign(r))
    )
}

fn foreign(r: &DomainResult) -> Vec<IpAddr> {
    r.ips
        .iter()
        .filter(|ip| !r.expected.contains(ip))
        .copied()
        .collect()
}

/// "this server's address (203.0.113.10)", or its public address when none is known.
fn this_server(home: &[IpAddr]) -> String {
    if home.is_empty() {
        "this server's public address".to_string()
    } else {
        format!("this server's address ({})", list(home))
    }
}

/// The addresses a record should point at: `expected_ips`, or this host's public addresses
/// (when it has none, the ones users on its network could reach). Never loopback, link-local
/// `fe80::`/`169.254.`, unspecified or multicast: no DNS record should name those.
fn home_addresses(expected: &[IpAddr], by_expected: bool) -> Vec<IpAddr> {
    if by_expected {
        return expected
            .iter()
            .filter(|ip| reachable(ip))
            .copied()
            .collect();
    }
    let public: Vec<IpAddr> = expected
        .iter()
        .filter(|ip| ifaddr::is_public(ip))
        .copied()
        .collect();
    if !public.is_empty() {
        return public;
    }
    expected
        .iter()
        .filter(|ip| reachable(ip))
        .copied()
        .collect()
}

fn reachable(ip: &IpAddr) -> bool {
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    };
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || link_local)
}

fn list(ips: &[IpAddr]) -> String {
    if ips.is_empty() {
        return "none".to_string();
    }
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hint_names_only_addresses_users_can_reach() {
        let here: Vec<IpAddr> = [
            "127.0.0.1",
            "::1",
            "192.0.2.2",
            "fd00::2",
            "fe80::fc:ff:fe00:1",
            "169.254.1.2",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let home = home_addresses(&here, false);
        assert_eq!(list(&home), "192.0.2.2, fd00::2");
        let public: IpAddr = "8.8.4.4".parse().unwrap();
        assert_eq!(home_addresses(&[here[4], public], false), [public]);
        // Even addresses the playbook expects are not offered when users cannot reach them.
        assert_eq!(list(&home_addresses(&here, true)), "192.0.2.2, fd00::2");
        assert_eq!(
            this_server(&home_addresses(&here[..2], true)),
            "this server's public address"
        );
    }

    use super::*;

    fn foreign_result() -> DomainResult {
        DomainResult {
            domain: "example.com".into(),
            ips: vec!["47.84.111.158".parse().unwrap()],
            system_ips: None,
            expected: vec!["127.0.0.1".parse().unwrap(), "10.0.0.5".parse().unwrap()],
            on_this_host: false,
            error: None,
            answered: None,
            other_server: false,
            here: None,
            not_probed: false,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn behind_nat_a_foreign_address_is_only_unconfirmed() {
        let r = verdict(
            Rec::start(StepName::Dns),
            &[foreign_result()],
            false,
            true,
            &[],
        );
        assert_eq!(r.verdict, crate::step::Verdict::Warn);
        assert_eq!(r.finding.unwrap().code, FindingCode::DnsUnconfirmed);
        assert!(
            r.summary.contains("set expected_ips to confirm"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn with_a_public_address_a_foreign_address_is_elsewhere() {
        let home = ["203.0.113.10".parse().unwrap()];
        let mut result = foreign_result();
        result.answered = Some(Answered {
            url: "http://example.com/".into(),
            ip: result.ips[0],
            status: Some(502),
            reason: Some("Bad Gateway".into()),
            server: Some("nginx/1.18.0 (Ubuntu)".into()),
            error: None,
        });
        result.other_server = true;
        result.here = Some(Answered {
            ip: "127.0.0.1".parse().unwrap(),
            status: Some(200),
            server: Some("nginx/1.22.1".into()),
            ..result.answered.clone().unwrap()
        });
        let r = verdict(Rec::start(StepName::Dns), &[result], false, false, &home);
        let f = r.finding.unwrap();
        assert_eq!(f.code, FindingCode::DnsAnsweredByOtherServer);
        assert!(f.cause.ends_with(
            "; http://example.com/ at 47.84.111.158 answered 502 (Server: nginx/1.18.0 (Ubuntu)), while this host's nginx answers 200 (Server: nginx/1.22.1)"
        ), "{}", f.cause);
        assert!(f.action.unwrap().contains("(203.0.113.10)"));
    }

    #[test]
    fn an_etc_hosts_answer_that_hides_the_problem_is_named() {
        let mut r = foreign_result();
        r.system_ips = Some(vec!["127.0.0.1".parse().unwrap()]);
        let cause = points_elsewhere(&r, true);
        assert!(
            cause.contains("this host's own resolver says 127.0.0.1, probably from /etc/hosts"),
            "{cause}"
        );
    }
}
