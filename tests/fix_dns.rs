//! DNS pointing at another server *and* a dead backend (the Streamlit incident): `fix` starts
//! the backend, verifies it on this server, lists the DNS record for the operator to change,
//! and exits 1 because users still reach the other machine.

mod common;
mod fix_support;

use common::{deadline, gone, identity, lab, port_free, status, wait_until};
use fix_support::{audit_of, lab_backends, output, signal_exact, Run};
use fixer::lab::{Fault, Role, ELSEWHERE_IP};
use rustix::process::Signal;

#[test]
fn a_dead_backend_is_fixed_even_when_dns_points_elsewhere() {
    let (_dir, lab) = lab(Fault::DnsElsewhere);
    let old = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    signal_exact(old, Signal::KILL);
    assert!(wait_until(deadline(10.0), || gone(old) && port_free(lab.backend_port)));

    let run = Run::new();
    let report = run.path("incident.md");
    let mut cmd = run.fix(&lab);
    cmd.arg("--yes").arg("--report").arg(&report);
    let out = output(cmd);
    assert_eq!(out.code, 1, "DNS is still wrong: {}", out.all());
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains(
            "- **Outcome:** fixed locally and verified on this server; still to change by hand: "
        ) && md.contains("(`dns-points-elsewhere`)"),
        "{md}"
    );
    let text = &out.stdout;
    let plan = text
        .find("Plan: restart-backend")
        .unwrap_or_else(|| panic!("{}", out.all()));
    let verified = text
        .find("Fixed locally and verified: the backend and nginx answer as expected on this server")
        .unwrap_or_else(|| panic!("{}", out.all()));
    let left = text
        .find("Left for you to change (fixer does not change these):")
        .unwrap_or_else(|| panic!("{}", out.all()));
    assert!(plan < verified && verified < left, "{}", out.all());
    let tail = &text[left..];
    assert!(tail.contains("[dns-points-elsewhere]"), "{tail}");
    assert!(
        tail.contains(&format!(
            "update the DNS A/AAAA record of localhost to this server's address ({ELSEWHERE_IP})"
        )),
        "{tail}"
    );
    assert!(!text.contains("Fixed and verified"), "{}", out.all());

    assert_eq!(lab_backends(&lab).len(), 1);
    assert_eq!(status(lab.backend_port, "/api/health").unwrap(), 200);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let log = run.audit();
    let end = audit_of(&log, "restart-backend", "end");
    assert_eq!(end[0]["result"], "done");
}

#[test]
fn fix_json_lists_what_is_left_to_change() {
    let (_dir, lab) = lab(Fault::DnsElsewhere);
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.args(["--yes", "--json"]);
    let out = output(cmd);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    assert_eq!(doc["actions"].as_array().unwrap().len(), 0, "{doc:#}");
    assert_eq!(doc["manual"][0]["code"], "dns-points-elsewhere", "{doc:#}");
    assert!(doc["manual"][0]["change"]
        .as_str()
        .unwrap()
        .contains(ELSEWHERE_IP));
}
