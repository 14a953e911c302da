//! The `recurl` step against real servers on loopback.

mod http_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fixer::check::recurl;
use fixer::step::Verdict;
use fixer::sys::http;
use fixer::target::*;
use http_support::*;

const T: Duration = Duration::from_secs(1);

fn target(backend: Option<SocketAddr>, verify: Vec<VerifySpec>) -> Target {
    Target {
        name: "test".into(),
        source: "test".into(),
        domains: vec![],
        expected_ips: vec![],
        dns_server: None,
        nginx: NginxSpec::default(),
        backend: backend.map(|a| BackendSpec {
            address: BackendAddr::Tcp(a),
            matcher: None,
            health_path: "/".into(),
            restart: None,
            protocol: None,
        }),
        verify,
        timeout: T,
        watch: Default::default(),
    }
}

fn spec(url: &str, expect: &[u16]) -> VerifySpec {
    VerifySpec {
        url: url.into(),
        via: None,
        insecure: false,
        expect: expect.to_vec(),
        auth: None,
    }
}

fn code(r: &fixer::step::StepResult) -> &'static str {
    r.finding
        .as_ref()
        .map(|f| f.code.as_str())
        .unwrap_or("none")
}

#[test]
fn no_urls_is_a_skip() {
    assert_eq!(recurl::run(&target(None, vec![])).verdict, Verdict::Skip);
}

#[test]
fn all_healthy_is_ok_with_evidence_in_playbook_order() {
    let backend = HttpServer::fixed("200 OK", &[("Server", "gunicorn")]);
    let nginx = HttpServer::fixed("401 Unauthorized", &[("Server", "nginx/1.22.1")]);
    let port = nginx.addr.port();
    let t = target(
        Some(backend.addr),
        vec![
            spec(&backend.url("/api/health"), &[200]),
            VerifySpec {
                via: Some("127.0.0.1".into()),
                ..spec(
                    &format!("http://example.com:{port}/api/health"),
                    &[200, 401],
                )
            },
        ],
    );
    let r = recurl::run(&t);
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert_eq!(r.summary, "all 2 URLs answered as expected");
    assert!(r.evidence[0].starts_with(&format!("GET {} → 200 OK in ", backend.url("/api/health"))));
    assert!(
        r.evidence[0].ends_with("ms (Server: gunicorn), expected 200"),
        "{}",
        r.evidence[0]
    );
    assert!(
        r.evidence[1].contains(" via 127.0.0.1 → 401 Unauthorized in "),
        "{}",
        r.evidence[1]
    );
    assert!(
        r.evidence[1].ends_with("expected 200, 401"),
        "{}",
        r.evidence[1]
    );
    let details = serde_json::to_value(&r.details).unwrap();
    let urls = details["urls"].as_array().unwrap();
    assert_eq!(urls[0]["route"], "backend");
    assert_eq!(urls[1]["route"], "nginx");
    assert_eq!(urls[1]["status"], 401);
    assert_eq!(urls[1]["error_kind"], serde_json::Value::Null);
}

#[test]
fn gateway_errors_are_told_apart() {
    for (status, meaning) in [
        ("502 Bad Gateway", "could not connect"),
        ("504 Gateway Timeout", "proxy_read_timeout"),
    ] {
        let nginx = HttpServer::fixed(status, &[("Server", "nginx")]);
        let r = recurl::run(&target(None, vec![spec(&nginx.url("/"), &[200])]));
        assert_eq!((r.verdict, code(&r)), (Verdict::Fail, "http-gateway-error"));
        let cause = &r.finding.as_ref().unwrap().cause;
        assert!(
            cause.contains(meaning) && cause.contains("(the one URL failed)"),
            "{cause}"
        );
    }
}

#[test]
fn a_failing_backend_url_explains_the_nginx_502() {
    let dead = http_support::closed_port();
    let nginx = HttpServer::fixed("502 Bad Gateway", &[("Server", "nginx")]);
    let t = target(
        Some(dead),
        vec![
            spec(&nginx.url("/"), &[200]),
            spec(&format!("http://{dead}/api/health"), &[200]),
        ],
    );
    let r = recurl::run(&t);
    assert_eq!(code(&r), "http-connect-failed", "{r:#?}");
    let cause = &r.finding.as_ref().unwrap().cause;
    assert!(
        cause.contains("the backend URL") && cause.contains("connection refused"),
        "{cause}"
    );
    assert!(cause.ends_with("(2 of 2 URLs failed)"), "{cause}");
    assert!(
        r.evidence[1].ends_with("→ connection refused after 0 ms")
            || r.evidence[1].contains("connection refused after")
    );
    let details = serde_json::to_value(&r.details).unwrap();
    assert_eq!(details["urls"][1]["error_kind"], "connect");
}

#[test]
fn backend_5xx_redirects_and_other_statuses() {
    let backend = HttpServer::fixed("500 Internal Server Error", &[]);
    let r = recurl::run(&target(
        Some(backend.addr),
        vec![spec(&backend.url("/"), &[200])],
    ));
    assert_eq!(code(&r), "http-backend-error");

    let redirect = HttpServer::fixed(
        "301 Moved Permanently",
        &[("Location", "https://example.com/")],
    );
    let r = recurl::run(&target(None, vec![spec(&redirect.url("/"), &[200])]));
    assert_eq!(code(&r), "http-redirect");
    assert!(r.finding.unwrap().cause.contains("to https://example.com/"));

    let missing = HttpServer::fixed("404 Not Found", &[]);
    let r = recurl::run(&target(None, vec![spec(&missing.url("/"), &[200])]));
    assert_eq!(code(&r), "http-unexpected-status");
}

/// As many stuck URLs as the probe pool runs at once: together they cost one timeout, where
/// probing them one after another would cost `PROBE_THREADS` timeouts (16 s) and fail here.
#[test]
fn hanging_urls_cost_one_timeout_not_one_each() {
    let stuck = SilentServer::start();
    let n = fixer::limits::PROBE_THREADS;
    let specs = (0..n)
        .map(|i| spec(&format!("http://{}/{i}", stuck.addr), &[200]))
        .collect();
    let started = Instant::now();
    let r = recurl::run(&target(None, specs));
    let one = T + http::connect_timeout(T);
    let sequential = T * n as u32;
    assert!(one * 2 < sequential, "the test could not tell them apart");
    let took = started.elapsed();
    assert!(
        took < one * 2,
        "{n} stuck URLs took {took:?}; one timeout is {one:?}, one after another {sequential:?}"
    );
    assert_eq!(code(&r), "http-timeout");
    assert!(r
        .finding
        .unwrap()
        .cause
        .contains("slower than fixer's --timeout, or stuck"));
}

/// One more stuck URL than the pool holds waits for a free worker: the number of probes in
/// flight is bounded (a lower bound, so a slow machine cannot make it fail).
#[test]
fn the_probe_pool_is_bounded() {
    let stuck = SilentServer::start();
    let n = fixer::limits::PROBE_THREADS + 1;
    let specs = (0..n)
        .map(|i| spec(&format!("http://{}/{i}", stuck.addr), &[200]))
        .collect();
    let started = Instant::now();
    let r = recurl::run(&target(None, specs));
    assert!(started.elapsed() >= T * 2, "took {:?}", started.elapsed());
    assert_eq!(code(&r), "http-timeout");
}

/// Thousands of URLs (more than a playbook may hold) neither panic nor spawn a thread each.
#[test]
fn thousands_of_urls_are_probed_through_the_pool() {
    let closed = closed_port();
    let specs: Vec<VerifySpec> = (0..5000)
        .map(|i| spec(&format!("http://{closed}/{i}"), &[200]))
        .collect();
    let results = recurl::probe_all(&target(None, specs));
    assert_eq!(results.len(), 5000);
    assert!(results
        .iter()
        .all(|r| r.error_kind.as_deref() == Some("connect")));
    assert!(
        results[4999].url.ends_with("/4999"),
        "playbook order is kept"
    );
}

/// A whole `fixer diagnose` with several stuck URLs: well under what probing them one after
/// another would take (N × timeout), whatever else the host runs.
#[test]
fn a_whole_diagnose_with_stuck_urls_costs_one_timeout() {
    let stuck = SilentServer::start();
    let n = 12;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"));
    cmd.args(["diagnose", "--json", "--timeout", "1", "--nginx-port", "9"]);
    for i in 0..n {
        cmd.args(["--health", &format!("http://{}/{i}", stuck.addr)]);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    let sequential = T * n;
    assert!(
        took < sequential,
        "diagnose took {took:?}, as long as {n} timeouts"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recurl = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "recurl")
        .unwrap();
    assert_eq!(recurl["finding"]["code"], "http-timeout", "{recurl:#}");
    assert_eq!(
        recurl["details"]["urls"].as_array().unwrap().len(),
        n as usize
    );
}

#[test]
fn basic_auth_password_never_shows() {
    const PW: &str = "s3cret-Pw-7781";
    let server = HttpServer::start(|head| match header(head, "authorization") {
        Some("Basic YWRtaW46czNjcmV0LVB3LTc3ODE=") => response("200 OK", &[]),
        _ => response("401 Unauthorized", &[]),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{PW}\nsecond line\n")).unwrap();
    std::env::set_var("FIXER_TEST_RECURL_PW", PW);
    let auth = |password| {
        Some(AuthSpec {
            user: "admin".into(),
            password,
        })
    };
    let with = |password| VerifySpec {
        auth: auth(password),
        ..spec(&server.url("/"), &[200])
    };
    let t = target(
        None,
        vec![
            with(PasswordSource::File(file)),
            with(PasswordSource::Env("FIXER_TEST_RECURL_PW".into())),
            // The password also in the URL's userinfo must be masked.
            spec(&format!("http://admin:{PW}@{}/", server.addr), &[200]),
        ],
    );
    let r = recurl::run(&t);
    let shown = serde_json::to_string(&r).unwrap();
    assert!(!shown.contains(PW), "{shown}");
    let results = recurl::probe_all(&t);
    assert!(results[0].healthy && results[1].healthy, "{results:#?}");
    assert!(!serde_json::to_string(&results).unwrap().contains(PW));
    assert!(!format!("{results:?}").contains(PW));
}

#[test]
fn a_missing_password_makes_the_url_unhealthy_without_a_request() {
    let server = HttpServer::fixed("200 OK", &[]);
    let auth = AuthSpec {
        user: "admin".into(),
        password: PasswordSource::Env("FIXER_TEST_UNSET_PW".into()),
    };
    let s = VerifySpec {
        auth: Some(auth),
        ..spec(&server.url("/"), &[200])
    };
    let t = target(None, vec![s.clone()]);
    let u = recurl::probe_url(&t, &s);
    assert!(!u.healthy);
    assert_eq!(u.error_kind.as_deref(), Some("credentials"));
    assert!(u
        .error
        .as_deref()
        .unwrap()
        .contains("FIXER_TEST_UNSET_PW is not set"));
    assert!(server.requests.lock().unwrap().is_empty());
    let r = recurl::run(&t);
    assert_ne!(r.verdict, Verdict::Ok);
    assert!(r.evidence[0].contains("not sent"), "{}", r.evidence[0]);
}
