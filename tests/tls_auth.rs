//! The tls and auth steps against real nginx: the lab's own certificate and htpasswd, an
//! already-expired certificate made with `openssl ca`, an htpasswd that holds another password
//! than the operator's, a domain no server block names, and certificates made with `openssl`
//! served by a bare nginx of the test's own.

mod common;
mod fix_support;

use std::fs;

use common::nginx::{free_ports, PlainNginx};
use common::{fixer, lab, step};
use fix_support::{output, Run};
use fixer::lab::{Fault, Lab};
use serde_json::Value;

struct Ran {
    code: i32,
    doc: Value,
}

fn diagnose_json(lab: &Lab) -> Ran {
    json_of(lab, "diagnose")
}

/// `fixer COMMAND --json --timeout 2 -p PLAYBOOK` on the lab.
fn json_of(lab: &Lab, command: &str) -> Ran {
    let out = fixer()
        .args([command, "--json", "--timeout", "2", "-p"])
        .arg(&lab.playbook)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Ran {
        code: out.status.code().unwrap_or(-1),
        doc,
    }
}

/// `fixer diagnose --json` with the playbook at `book`: its exit code and document.
fn diagnose_book(book: &std::path::Path) -> (Option<i32>, Value) {
    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "2", "-p"])
        .arg(book)
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// The lab with `fault`, diagnosed: its root cause must be `code`; the root-cause sentence.
fn diagnosed(fault: Fault, code: &str) -> (tempfile::TempDir, Lab, Ran, String) {
    let (dir, lab) = lab(fault);
    let ran = diagnose_json(&lab);
    assert_eq!(ran.doc["root_cause_code"], code, "{:#}", ran.doc);
    let cause = ran.doc["root_cause"].as_str().unwrap_or("").to_string();
    (dir, lab, ran, cause)
}

#[test]
fn a_healthy_lab_shows_its_certificate_and_basic_auth() {
    let (_dir, lab) = lab(Fault::None);
    let ran = diagnose_json(&lab);
    assert_eq!(ran.code, 0, "{:#}", ran.doc);
    let tls = step(&ran.doc, "tls");
    assert_eq!(tls["verdict"], "ok", "{tls:#}");
    let site = &tls["details"]["sites"][0];
    assert_eq!(site["name"], "localhost");
    assert_eq!(site["self_signed"], true);
    assert_eq!(site["name_matches"], true);
    assert_eq!(site["headers_missing"], serde_json::json!([]));
    assert!(site["days_left"].as_i64().unwrap() >= 29, "{site:#}");
    let evidence = tls["evidence"].to_string();
    assert!(evidence.contains("ALPN"), "{evidence}");
    assert!(
        evidence.contains("self-signed (accepted: insecure = true)"),
        "{evidence}"
    );
    let auth = step(&ran.doc, "auth");
    assert_eq!(auth["verdict"], "ok", "{auth:#}");
    let url = &auth["details"]["urls"][0];
    assert_eq!(url["without"]["status"], 401);
    assert!(url["without"]["www_authenticate"]
        .as_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(url["with"]["status"], 200);
}

/// The lines a log holds now (none before it is first written).
fn lines(log: &std::path::Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The recurl, tls and auth steps ask some of the same URLs; within one diagnosis each
/// distinct request reaches nginx once: the lab's four verify URLs through nginx are four
/// requests, not the seven the three steps would send each on their own.
#[test]
fn each_distinct_request_reaches_nginx_once() {
    let (_dir, lab) = lab(Fault::None);
    let log = lab.dir.join("logs/access.log");
    let probes = || {
        lines(&log)
            .iter()
            .filter(|l| l.contains("\"fixer:probe\""))
            .map(|l| {
                let user = l.split(' ').nth(2).unwrap_or("").to_string();
                let request = l.split('"').nth(1).unwrap_or("").to_string();
                format!("{user} {request}")
            })
            .collect::<Vec<_>>()
    };
    let before = probes().len();
    let ran = diagnose_json(&lab);
    assert_eq!(ran.code, 0, "{:#}", ran.doc);
    let mut sent: Vec<String> = probes().split_off(before);
    sent.sort();
    // Two of the /api/health requests are the HTTP and the HTTPS URL.
    assert_eq!(
        sent,
        [
            "- GET / HTTP/1.1",
            "- GET /api/health HTTP/1.1",
            "- GET /api/health HTTP/1.1",
            "admin GET / HTTP/1.1",
        ],
        "{sent:#?}"
    );
    // Each step still shows what it was answered.
    assert_eq!(
        step(&ran.doc, "auth")["details"]["urls"][0]["without"]["status"],
        401
    );
    assert_eq!(step(&ran.doc, "tls")["details"]["sites"][0]["status"], 200);
    let urls = step(&ran.doc, "recurl")["details"]["urls"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(urls, 5);
}

#[test]
fn the_holders_probe_and_a_verify_url_naming_the_backend_ask_it_once() {
    let (_dir, lab) = lab(Fault::None);
    // The lab backend logs each request as it answers, before fixer has read the answer.
    let log = lab.dir.join("logs/backend.log");
    let requests = || lines(&log).iter().filter(|l| l.contains("\"GET ")).count();
    let before = requests();
    let ran = diagnose_json(&lab);
    assert_eq!(ran.code, 0, "{:#}", ran.doc);
    // Three through nginx (the HTTP and HTTPS /api/health, the authenticated /; the anonymous
    // one is answered 401 by nginx itself) and one straight: the port_holder step's GET
    // /api/health and the verify URL http://127.0.0.1:PORT/api/health are the same request.
    assert_eq!(requests() - before, 4);
    let holder = step(&ran.doc, "port_holder");
    assert!(
        holder["evidence"]
            .to_string()
            .contains("GET /api/health straight to"),
        "{holder:#}"
    );
    let urls = step(&ran.doc, "recurl")["details"]["urls"].clone();
    let direct = urls
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["route"] == "backend")
        .unwrap_or_else(|| panic!("{urls:#}"));
    assert_eq!(direct["status"], 200, "{direct:#}");
}

#[test]
fn an_expired_certificate_is_the_root_cause() {
    let (_dir, _lab, ran, cause) = diagnosed(Fault::TlsExpired, "tls-expired");
    assert!(
        cause.starts_with(
            "the certificate nginx serves for localhost expired on 2025-02-01T00:00:00Z ("
        ) && cause.ends_with("days ago): clients refuse the connection"),
        "{cause}"
    );
    assert_eq!(ran.code, 1);
    let site = &step(&ran.doc, "tls")["details"]["sites"][0];
    assert!(site["days_left"].as_i64().unwrap() < -290, "{site:#}");
    assert_eq!(site["chain"][0]["not_after"], "2025-02-01T00:00:00Z");
}

#[test]
fn refused_credentials_are_the_root_cause_and_the_password_is_never_shown() {
    let (_dir, lab, ran, cause) = diagnosed(Fault::AuthMismatch, "auth-rejected");
    let password = fs::read_to_string(&lab.password_file).unwrap();
    let password = password.trim();
    assert!(password.len() >= 16);
    assert!(
        cause.contains(
            "refuses admin with 401: the htpasswd entry and the operator's credentials differ"
        ),
        "{cause}"
    );
    assert_eq!(ran.code, 1);

    // Every way fixer reports: human, JSON, the Markdown report, and fix's audit log.
    let run = Run::new();
    let report = run.path("incident.md");
    let human = fixer()
        .args(["diagnose", "--timeout", "2", "-p"])
        .arg(&lab.playbook)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(1));
    let human_text = String::from_utf8_lossy(&human.stdout);
    assert!(human_text.contains("[auth-rejected]"), "{human_text}");
    let mut fix = run.fix(&lab);
    fix.args(["--yes", "--json"]);
    let fixed = output(fix);
    assert_eq!(fixed.code, 1, "{}", fixed.all());
    for (what, text) in [
        ("JSON", ran.doc.to_string()),
        ("human", human_text.to_string()),
        (
            "human stderr",
            String::from_utf8_lossy(&human.stderr).to_string(),
        ),
        ("report", fs::read_to_string(&report).unwrap()),
        ("fix", fixed.all()),
        ("audit", fs::read_to_string(&run.audit).unwrap_or_default()),
    ] {
        assert!(
            !text.contains(password),
            "the password appears in the {what} output"
        );
    }
}

#[test]
fn a_domain_without_a_server_block_falls_to_the_default_server() {
    let (_dir, lab, ran, cause) = diagnosed(Fault::NoServerBlock, "no-server-block");
    assert!(
        cause.starts_with(&format!(
            "no server block on port {} has server_name localhost: nginx answers it from the port's default server (server_name _, ",
            lab.http_port
        )),
        "{cause}"
    );
    assert_eq!(ran.code, 1);
    let recurl = step(&ran.doc, "recurl");
    assert_eq!(recurl["verdict"], "fail", "{recurl:#}");
}

/// A certificate for another name, self-signed and valid 5 days, served by a bare nginx
/// that answers without security headers.
#[test]
fn a_certificate_for_another_name_is_a_mismatch() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    fixer::lab::make_cert_for(
        std::path::Path::new("openssl"),
        certs.path(),
        "other.test",
        "DNS:other.test,DNS:*.other.test",
        5,
    )
    .expect("openssl makes the certificate");
    let port = free_ports(1)[0];
    let nginx = PlainNginx::start(
        "nginx",
        1,
        &format!(
            "server {{ listen 127.0.0.1:{port} ssl http2; server_name localhost; ssl_certificate {}; ssl_certificate_key {}; location / {{ return 200 \"ok\\n\"; }} }}",
            cert.display(),
            key.display()
        ),
    );
    // Verified (no `insecure`): the playbook says the certificate must be right.
    let book = certs.path().join("site.toml");
    fs::write(
        &book,
        format!(
            "name = \"tls\"\n[nginx]\nports = [{port}]\n[[verify]]\nurl = \"https://localhost:{port}/\"\nvia = \"127.0.0.1\"\nexpect = [200]\n"
        ),
    )
    .unwrap();
    let (code, doc) = diagnose_book(&book);
    assert_eq!(code, Some(1));
    assert_eq!(doc["root_cause_code"], "tls-name-mismatch", "{doc:#}");
    let tls = step(&doc, "tls");
    assert_eq!(tls["verdict"], "fail", "{tls:#}");
    assert_eq!(tls["finding"]["code"], "tls-name-mismatch", "{tls:#}");
    assert!(
        tls["finding"]["cause"]
            .as_str()
            .unwrap()
            .contains("does not name it (it names other.test, *.other.test)"),
        "{tls:#}"
    );
    let site = &tls["details"]["sites"][0];
    assert_eq!(site["self_signed"], true);
    assert_eq!(site["alpn"], "h2", "{site:#}");
    let days = site["days_left"].as_i64().unwrap();
    assert!((4..=5).contains(&days), "{site:#}");
    assert_eq!(
        site["headers_missing"].as_array().unwrap().len(),
        3,
        "{site:#}"
    );
    drop(nginx);
}

/// A playbook that probes no HTTPS URL still gets its certificate read: nginx's config says
/// the port is `listen ... ssl`.
#[test]
fn an_ssl_port_in_nginx_config_is_inspected_without_a_verify_url() {
    let certs = tempfile::tempdir().unwrap();
    fixer::lab::make_cert(
        std::path::Path::new("openssl"),
        certs.path(),
        "localhost",
        "DNS:localhost",
    )
    .unwrap();
    let port = free_ports(1)[0];
    let nginx = PlainNginx::start(
        "nginx",
        1,
        &format!(
            "server {{ listen 127.0.0.1:{port} ssl; server_name localhost; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem; add_header Strict-Transport-Security max-age=600 always; add_header X-Content-Type-Options nosniff always; add_header X-Frame-Options DENY always; return 200 \"ok\\n\"; }}",
            d = certs.path().display()
        ),
    );
    let book = certs.path().join("site.toml");
    fs::write(
        &book,
        format!("name = \"ports\"\n[site]\ndomains = [\"localhost\"]\n[nginx]\nports = [{port}]\n"),
    )
    .unwrap();
    let (_, doc) = diagnose_book(&book);
    let tls = step(&doc, "tls");
    assert_eq!(tls["verdict"], "warn", "{tls:#}");
    assert_eq!(tls["finding"]["code"], "tls-self-signed", "{tls:#}");
    let site = &tls["details"]["sites"][0];
    assert_eq!(
        site["url"],
        format!("https://localhost:{port}/"),
        "{site:#}"
    );
    assert_eq!(site["address"], format!("127.0.0.1:{port}"), "{site:#}");
    assert_eq!(site["headers_missing"], serde_json::json!([]), "{site:#}");
    drop(nginx);
}

/// `fixer verify`, as cron runs it, fails on an expired certificate and on a refused login
/// even though every URL it asks answers, and names the step in its one-line verdict.
#[test]
fn verify_fails_on_an_expired_certificate_and_a_refused_login() {
    for (fault, step_name, code) in [
        (Fault::TlsExpired, "tls", "tls-expired"),
        (Fault::AuthMismatch, "auth", "auth-rejected"),
    ] {
        let (_dir, lab) = lab(fault);
        let ran = json_of(&lab, "verify");
        assert_eq!(ran.code, 1, "{:#}", ran.doc);
        assert_eq!(ran.doc["healthy"], false);
        assert_eq!(
            step(&ran.doc, step_name)["finding"]["code"],
            code,
            "{:#}",
            ran.doc
        );
        let out = fixer()
            .args(["verify", "--timeout", "2", "-p"])
            .arg(&lab.playbook)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(last.starts_with("Unhealthy:"), "{text}");
        let password = fs::read_to_string(&lab.password_file).unwrap_or_default();
        let password = password.trim();
        assert!(password.is_empty() || !text.contains(password), "{text}");
        assert!(password.is_empty() || !ran.doc.to_string().contains(password));
    }
}
