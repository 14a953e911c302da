//! Zero-config: with no playbook and no flags, fixer reads every running nginx's effective
//! config, lists each server block with the backend it proxies to, checks each distinct backend
//! once, and lists broken ones first. Each scenario runs in a PID namespace of its own, so the
//! discovery sees (and probes) only this test's nginx, never another test's sites.

mod common;

use std::process::Command;

use common::nginx::{args, closing_backend, free_ports, http_backend, Isolated, Ran};
use serde_json::Value;

/// Two server blocks: `good.test` proxies to a live backend on `live`, `bad.test` to a unix
/// socket that does not exist.
fn two_sites(iso: &Isolated, live: u16) {
    let ports = free_ports(2);
    let dead = iso.path().join("dead.sock");
    iso.nginx_conf(&format!(
        "server {{ listen 127.0.0.1:{}; server_name good.test; location / {{ proxy_pass http://127.0.0.1:{live}; }} }}\n\
         server {{ listen 127.0.0.1:{}; server_name bad.test; location /api/ {{ proxy_pass http://unix:{}:; }} }}\n",
        ports[0],
        ports[1],
        dead.display(),
    ));
}

fn json(r: &Ran) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr))
}

/// Two sites (one backend live, one not) in an isolated namespace, and `runs` of fixer there.
fn run_two_sites(runs: &[Vec<String>]) -> (u16, Vec<Ran>) {
    let iso = Isolated::new();
    let live = free_ports(1)[0];
    two_sites(&iso, live);
    let ran = iso.run(&http_backend(live), true, runs);
    (live, ran)
}

fn row<'a>(doc: &'a Value, server: &str) -> (usize, &'a Value) {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, r)| r["server"] == server)
        .unwrap_or_else(|| panic!("no row for {server}: {doc:#}"))
}

#[test]
fn diagnose_with_nothing_lists_every_server_block_broken_first() {
    let (live, ran) = run_two_sites(&[
        args(&["diagnose", "--json", "--timeout", "2"]),
        args(&["diagnose", "--timeout", "2"]),
    ]);
    assert_eq!(ran[0].code, 1, "{}\n{}", ran[0].stdout, ran[0].stderr);
    let doc = json(&ran[0]);
    let (bad_i, bad) = row(&doc, "bad.test");
    let (good_i, good) = row(&doc, "good.test");
    assert_eq!(bad["verdict"], "broken: backend-not-listening", "{bad:#}");
    assert_eq!(bad["location"], "/api/");
    assert_eq!(good["verdict"], "ok", "{good:#}");
    assert_eq!(good["backend"], format!("127.0.0.1:{live}"));
    assert!(bad_i < good_i, "broken rows come first");
    assert_eq!(doc["backends"].as_array().unwrap().len(), 2, "{doc:#}");

    let out = &ran[1].stdout;
    assert_eq!(ran[1].code, 1);
    assert!(
        out.contains("bad.test") && out.contains("good.test"),
        "{out}"
    );
    assert!(out.contains("[backend-not-listening]"), "{out}");
    assert!(out.contains("1 of 2 backends broken"), "{out}");
}

#[test]
fn verify_and_fix_with_nothing_work_over_what_was_found() {
    let (_, ran) = run_two_sites(&[
        args(&["verify", "--json", "--timeout", "2"]),
        args(&["fix", "--dry-run", "--timeout", "2"]),
        args(&["diagnose", "--report", "r.md"]),
    ]);
    assert_eq!(ran[0].code, 1, "{}", ran[0].stdout);
    let doc = json(&ran[0]);
    assert_eq!(row(&doc, "good.test").1["verdict"], "ok");
    assert!(row(&doc, "bad.test").1["broken"].as_bool().unwrap());

    let out = &ran[1].stdout;
    assert_eq!(ran[1].code, 1, "{out}\n{}", ran[1].stderr);
    assert!(out.contains("fixer fix — playbook bad.test"), "{out}");
    // A discovered backend has no restart command: fix says what it needs, changes nothing.
    assert!(
        out.contains("no way to start the backend is configured"),
        "{out}"
    );
    assert_eq!(ran[2].code, 2);
    assert!(ran[2].stderr.contains("--report"), "{}", ran[2].stderr);
}

#[test]
fn init_writes_a_playbook_that_loads_back() {
    let iso = Isolated::new();
    let live = free_ports(1)[0];
    two_sites(&iso, live);
    let addr = format!("127.0.0.1:{live}");
    let file = iso.path().join("good.toml").display().to_string();
    let ran = iso.run(
        &http_backend(live),
        true,
        &[
            args(&["init"]),
            args(&["init", "--server", "good.test"]),
            args(&["init", "--backend", &addr, "--write", "good.toml"]),
            args(&["diagnose", "--json", "--timeout", "2", "-p", &file]),
        ],
    );
    // Two backends: init lists them and asks for a choice.
    assert_eq!(ran[0].code, 2, "{}", ran[0].stderr);
    assert!(
        ran[0].stderr.contains(&format!("--backend {addr}")),
        "{}",
        ran[0].stderr
    );
    assert!(
        ran[0].stderr.contains("(server bad.test)"),
        "{}",
        ran[0].stderr
    );

    assert_eq!(ran[1].code, 0, "{}", ran[1].stderr);
    assert!(
        ran[1].stdout.contains(&format!("address = \"{addr}\"")),
        "{}",
        ran[1].stdout
    );

    assert_eq!(ran[2].code, 0, "{}", ran[2].stderr);
    assert!(
        ran[2].stdout.contains("wrote good.toml"),
        "{}",
        ran[2].stdout
    );

    // It loads (no exit 2) and every local step passes; `dns` checks good.test, a name nothing
    // resolves here, and says so.
    let doc = json(&ran[3]);
    assert_ne!(ran[3].code, 2, "{}", ran[3].stderr);
    assert_eq!(doc["playbook"]["name"], "good-test");
    // No HTTPS URL and no basic auth on this site: tls and auth have nothing to look at.
    for s in doc["steps"].as_array().unwrap() {
        match s["name"].as_str() {
            Some("dns") => {}
            Some("tls" | "auth") => assert_eq!(s["verdict"], "skip", "{s:#}"),
            _ => assert_eq!(s["verdict"], "ok", "{s:#}"),
        }
    }
}

#[test]
fn a_fastcgi_backend_is_never_probed_over_http_nor_planned_for_a_kill() {
    let iso = Isolated::new();
    let ports = free_ports(2);
    let (site, fcgi) = (ports[0], ports[1]);
    iso.nginx_conf(&format!(
        "server {{ listen 127.0.0.1:{site}; server_name php.test; location / {{ fastcgi_pass 127.0.0.1:{fcgi}; }} }}\n"
    ));
    let ran = iso.run(
        &closing_backend(fcgi),
        true,
        &[
            args(&["diagnose", "--json", "--timeout", "1"]),
            args(&["fix", "--dry-run", "--timeout", "1"]),
        ],
    );
    let doc = json(&ran[0]);
    let backend = &doc["backends"][0];
    assert_eq!(backend["address"], format!("127.0.0.1:{fcgi}"), "{doc:#}");
    let holder = common::step(backend, "port_holder");
    assert_eq!(holder["verdict"], "skip", "{holder:#}");
    assert!(!doc.to_string().contains("holder-stuck"), "{doc:#}");
    let out = &ran[1].stdout;
    assert!(!out.contains("SIGTERM"), "{out}");
}

#[test]
fn a_host_without_nginx_says_so() {
    // A fresh PID namespace and an empty /etc/nginx: a host where no nginx runs or is set up.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /etc/nginx && exec {} diagnose",
            empty.path().display(),
            env!("CARGO_BIN_EXE_fixer")
        ))
        .current_dir(empty.path())
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", empty.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("No nginx on this host"), "{stdout}");
}
