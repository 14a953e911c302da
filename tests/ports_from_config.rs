//! Without `--nginx-port` or `ports`, the ports and health URLs come from the effective config
//! of the nginx that proxies to the backend, and the evidence says where: no phantom 80/443.

mod common;
mod fix_support;

use common::{lab, status, step};
use fix_support::{lab_backends, output, Run};
use fixer::lab::Fault;
use serde_json::Value;

#[test]
fn flags_only_fix_uses_the_configs_ports_and_verifies() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let backend = format!("127.0.0.1:{}", lab.backend_port);
    let restart = format!(
        "python3 {}/lab-backend.py --port {}",
        lab.dir.display(),
        lab.backend_port
    );
    let flags = [
        "--backend",
        backend.as_str(),
        "--match",
        "lab-backend",
        "--restart-cmd",
        restart.as_str(),
        "--timeout",
        "1",
    ];

    let out = output({
        let mut c = run.fixer("diagnose");
        c.args(flags).arg("--json");
        c
    });
    let doc: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    let nginx = step(&doc, "nginx");
    let ports: Vec<u64> = nginx["details"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ports,
        [lab.http_port as u64, lab.https_port as u64],
        "{nginx:#}"
    );
    assert_eq!(nginx["verdict"], "ok", "{nginx:#}");
    let conf = lab.nginx_conf.display().to_string();
    let evidence = nginx["evidence"].to_string();
    assert!(
        evidence.contains(&format!("port {} from {conf}:", lab.http_port)),
        "{evidence}"
    );
    assert!(
        evidence.contains(&format!(
            "health URL http://localhost:{}/api/health from server localhost",
            lab.http_port
        )),
        "{evidence}"
    );
    assert_eq!(doc["root_cause_code"], "backend-not-listening", "{doc:#}");
    let urls = step(&doc, "recurl")["details"]["urls"].to_string();
    assert!(
        !urls.contains("localhost/") && !urls.contains(":443/"),
        "{urls}"
    );

    let out = output({
        let mut c = run.fixer("fix");
        c.args(flags)
            .args(["--yes", "--wait", "20", "--audit-log"])
            .arg(&run.audit);
        c
    });
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("Plan: restart-backend"),
        "{}",
        out.all()
    );
    assert!(!out.stdout.contains("reload-nginx"), "{}", out.all());
    assert_eq!(lab_backends(&lab).len(), 1);
    assert_eq!(status(lab.http_port, "/api/health").ok(), Some(200));
}

#[test]
fn a_backend_no_config_proxies_to_does_not_make_nginx_look_down() {
    let (_dir, _lab) = lab(Fault::None);
    let run = Run::new();
    let port = common::nginx::free_ports(1)[0];
    let backend = format!("127.0.0.1:{port}");
    let out = output({
        let mut c = run.fixer("fix");
        c.args([
            "--dry-run",
            "--json",
            "--timeout",
            "1",
            "--backend",
            &backend,
        ]);
        c
    });
    let doc: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    assert_eq!(doc["root_cause_code"], "backend-not-listening", "{doc:#}");
    let nginx = step(&doc, "nginx");
    assert_ne!(nginx["verdict"], "fail", "{nginx:#}");
    assert!(
        nginx["evidence"]
            .to_string()
            .contains(&format!("no server block proxies to {backend}")),
        "{nginx:#}"
    );
    assert!(
        !doc["actions"].to_string().contains("start-nginx"),
        "{doc:#}"
    );
}
