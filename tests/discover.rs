//! Zero-config: with no playbook and no flags, fixer reads every running nginx's effective
//! config, lists each server block with the backend it proxies to, checks each distinct backend
//! once, and lists broken ones first. Other nginx masters on this host (other tests, a real
//! server's) show up too, as they would on a real host: assertions look at this test's rows.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::nginx::{free_ports, PlainNginx};
use common::{deadline, fixer, wait_until};
use serde_json::Value;

/// A real backend: python's http.server on a loopback port, killed on drop.
struct Backend {
    child: Child,
    port: u16,
}

impl Backend {
    fn start(dir: &Path) -> Backend {
        let port = free_ports(1)[0];
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting python3 -m http.server");
        assert!(
            wait_until(deadline(10.0), || TcpListener::bind(("127.0.0.1", port))
                .is_err()),
            "backend did not listen"
        );
        Backend { child, port }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two server blocks: `good-P.test` proxies to a live backend, `bad-P.test` to a unix socket
/// that does not exist (P: the backend's port, so parallel tests' names differ).
fn two_sites() -> (PlainNginx, Backend, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let backend = Backend::start(scratch.path());
    let ports = free_ports(2);
    let dead = scratch.path().join("dead.sock");
    let extra = format!(
        "server {{ listen 127.0.0.1:{}; server_name good-{b}.test; location / {{ proxy_pass http://127.0.0.1:{b}; }} }}\n\
         server {{ listen 127.0.0.1:{}; server_name bad-{b}.test; location /api/ {{ proxy_pass http://unix:{}:; }} }}\n",
        ports[0],
        ports[1],
        dead.display(),
        b = backend.port
    );
    (PlainNginx::start("nginx", 1, &extra), backend, scratch)
}

fn zero(sub: &str, extra: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = fixer()
        .arg(sub)
        .args(extra)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", cwd)
        .env("FIXER_STATE_DIR", cwd.join("state"))
        .env_remove("FIXER_YES")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn names(b: &Backend) -> (String, String) {
    (
        format!("good-{}.test", b.port),
        format!("bad-{}.test", b.port),
    )
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
    let (_nginx, backend, scratch) = two_sites();
    let (good_name, bad_name) = names(&backend);
    let cwd = scratch.path();
    let (code, out, err) = zero("diagnose", &["--json", "--timeout", "1"], cwd);
    assert_eq!(code, 1, "{out}\n{err}");
    let doc = json(&out);
    let (bad_i, bad) = row(&doc, &bad_name);
    let (good_i, good) = row(&doc, &good_name);
    assert_eq!(bad["verdict"], "broken: backend-not-listening", "{bad:#}");
    assert_eq!(bad["location"], "/api/");
    assert_eq!(good["verdict"], "ok", "{good:#}");
    assert_eq!(good["backend"], format!("127.0.0.1:{}", backend.port));
    assert!(bad_i < good_i, "broken rows come first");

    let (code, out, _) = zero("diagnose", &["--timeout", "1"], cwd);
    assert_eq!(code, 1);
    assert!(out.contains(&bad_name) && out.contains(&good_name), "{out}");
    assert!(out.contains("[backend-not-listening]"), "{out}");
}

#[test]
fn verify_and_fix_with_nothing_work_over_what_was_found() {
    let (_nginx, backend, scratch) = two_sites();
    let (good_name, bad_name) = names(&backend);
    let cwd = scratch.path();
    let (code, out, _) = zero("verify", &["--json", "--timeout", "1"], cwd);
    assert_eq!(code, 1, "{out}");
    let doc = json(&out);
    assert_eq!(row(&doc, &good_name).1["verdict"], "ok");
    assert!(row(&doc, &bad_name).1["broken"].as_bool().unwrap());

    // Dry run only: other tests' broken backends may be on this host too.
    let (code, out, err) = zero("fix", &["--dry-run", "--timeout", "1"], cwd);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains(&bad_name), "{out}");
    // A discovered backend has no restart command: fix says what it needs, changes nothing.
    assert!(
        out.contains("no way to start the backend is configured"),
        "{out}"
    );
}

#[test]
fn init_writes_a_playbook_that_loads_back() {
    let (_nginx, backend, scratch) = two_sites();
    let cwd = scratch.path();
    let addr = format!("127.0.0.1:{}", backend.port);

    // More than one backend on this host: init lists them and asks for a choice.
    let (code, _, err) = zero("init", &[], cwd);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("--backend {addr}")), "{err}");

    let (code, out, _) = zero("init", &["--server", &names(&backend).0], cwd);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("address = \"{addr}\"")), "{out}");

    let file = cwd.join("good.toml");
    let (code, out, err) = zero("init", &["--backend", &addr, "--write", "good.toml"], cwd);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("wrote good.toml"), "{out}");
    // It loads (no exit 2), and every local step passes; `dns` checks good-P.test, a name
    // nothing resolves here, and says so.
    let (code, out, err) = zero("diagnose", &["--json", "-p", file.to_str().unwrap()], cwd);
    assert_ne!(code, 2, "{out}\n{err}");
    let doc = json(&out);
    assert_eq!(
        doc["playbook"]["name"],
        format!("good-{}-test", backend.port)
    );
    for s in doc["steps"].as_array().unwrap() {
        if s["name"] != "dns" {
            assert!(s["verdict"] == "ok", "{s:#}");
        }
    }
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

/// A hosting server's config: `blocks` server blocks over two ports, each proxying to one of
/// `backends` backends — the first a live one, the rest unix sockets that do not exist — half
/// of them through `upstream` blocks. Server names end in `-TAG.test`.
fn hosting_config(blocks: usize, backends: usize, live: u16, dir: &Path, tag: u16) -> String {
    let ports = free_ports(2);
    let mut c = String::from("server_names_hash_max_size 16384;\nserver_names_hash_bucket_size 128;\n");
    let target = |k: usize| match k {
        0 => format!("127.0.0.1:{live}"),
        k => format!("unix:{}/dead-{k}.sock", dir.display()),
    };
    for k in 0..backends {
        c += &format!("upstream pool{k} {{ server {}; }}\n", target(k));
    }
    for i in 0..blocks {
        let k = i % backends;
        let pass = if i % 2 == 0 {
            format!("http://pool{k}")
        } else {
            match k {
                0 => format!("http://127.0.0.1:{live}"),
                _ => format!("http://{}:", target(k)),
            }
        };
        c += &format!(
            "server {{ listen 127.0.0.1:{}; server_name s{i}-{tag}.test; location / {{ proxy_pass {pass}; }} }}\n",
            ports[i % 2]
        );
    }
    c
}

#[test]
fn a_three_thousand_block_config_checks_each_backend_once() {
    let scratch = tempfile::tempdir().unwrap();
    let backend = Backend::start(scratch.path());
    let tag = backend.port;
    let conf = hosting_config(3000, 40, backend.port, scratch.path(), tag);
    let _nginx = PlainNginx::start("nginx", 1, &conf);
    let (code, out, err) = zero("diagnose", &["--json", "--timeout", "2"], scratch.path());
    assert_eq!(code, 1, "{err}");
    let doc = json(&out);
    let suffix = format!("-{tag}.test");
    let mine: Vec<&Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["server"].as_str().unwrap().ends_with(&suffix))
        .collect();
    assert_eq!(mine.len(), 3000);
    let live = format!("127.0.0.1:{}", backend.port);
    let mut seen_ok = false;
    for r in &mine {
        let healthy = r["backend"] == live;
        let want = if healthy { "ok" } else { "broken: backend-not-listening" };
        assert_eq!(r["verdict"], want, "{r:#}");
        seen_ok |= healthy;
        assert!(healthy || !seen_ok, "a broken row after a healthy one: {r:#}");
    }
    let dir = scratch.path().display().to_string();
    let mut addresses: Vec<&str> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["address"].as_str())
        .filter(|a| a.contains(&dir) || *a == live)
        .collect();
    let all = addresses.len();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!((all, addresses.len()), (40, 40), "each distinct backend checked once");
}
