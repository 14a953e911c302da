//! The `dns` step with the system resolver (/etc/hosts) and loopback only.

use std::time::Duration;

use fixer::check::dns;
use fixer::step::Verdict;
use fixer::target::{NginxSpec, Target};

fn target(domains: &[&str], expected: &[&str]) -> Target {
    Target {
        name: "test".into(),
        source: "test".into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        expected_ips: expected.iter().map(|ip| ip.parse().unwrap()).collect(),
        dns_server: None,
        nginx: NginxSpec::default(),
        backend: None,
        verify: vec![],
        timeout: Duration::from_secs(2),
        watch: Default::default(),
    }
}

#[test]
fn no_domains_is_a_skip() {
    let r = dns::run(&target(&[], &[]));
    assert_eq!(
        (r.verdict, r.summary.as_str()),
        (Verdict::Skip, "no domains configured")
    );
}

#[test]
fn localhost_matching_expected_ips_is_ok() {
    let r = dns::run(&target(&["localhost"], &["127.0.0.1", "::1"]));
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.starts_with("getaddrinfo(localhost) → 127.0.0.1")),
        "{:?}",
        r.evidence
    );
    assert_eq!(
        serde_json::to_value(&r.details).unwrap()["domains"][0]["on_this_host"],
        true
    );
}

#[test]
fn localhost_against_this_hosts_addresses_is_ok() {
    let r = dns::run(&target(&["localhost"], &[]));
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert!(
        r.evidence[0].starts_with("this host's addresses: "),
        "{:?}",
        r.evidence
    );
}

#[test]
fn pointing_elsewhere_fails_and_says_what_answered() {
    let r = dns::run(&target(&["localhost"], &["192.0.2.10"]));
    assert_eq!(r.verdict, Verdict::Fail, "{r:#?}");
    let f = r.finding.as_ref().unwrap();
    assert_eq!(f.code.as_str(), "dns-points-elsewhere");
    assert!(
        f.cause.contains("expected addresses (192.0.2.10)"),
        "{}",
        f.cause
    );
    assert!(f.action.as_deref().unwrap().contains("192.0.2.10"));
    assert!(
        r.evidence
            .iter()
            .any(|e| e.starts_with("http://localhost/ at ")),
        "{:?}",
        r.evidence
    );
    assert!(serde_json::to_value(&r.details).unwrap()["domains"][0]["answered"].is_object());
}

#[test]
fn an_invalid_name_is_unresolved() {
    let r = dns::run(&target(
        &["localhost", "nothing-here.invalid"],
        &["127.0.0.1", "::1"],
    ));
    assert_eq!(r.verdict, Verdict::Fail);
    let f = r.finding.as_ref().unwrap();
    assert_eq!(f.code.as_str(), "dns-unresolved");
    assert!(
        f.cause
            .starts_with("nothing-here.invalid does not resolve: "),
        "{}",
        f.cause
    );
    assert!(f.cause.ends_with("(1 of 2 domains)"), "{}", f.cause);
    assert!(serde_json::to_value(&r.details).unwrap()["domains"][1]["error"].is_string());
}
