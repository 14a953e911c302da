//! Zero-config on a hosting server's config: 3 000 server blocks over 40 backends. Correctness
//! only (every row, each backend once); the timing is in scripts/bench. Runs in a PID namespace
//! of its own (see `Isolated`), so only this config is discovered and probed.

mod common;

use std::path::Path;

use common::nginx::{args, free_ports, http_backend, Isolated};
use serde_json::Value;

/// A hosting server's config: `blocks` server blocks over two ports, each proxying to one of
/// `backends` backends — the first a live one, the rest unix sockets that do not exist — half
/// of them through `upstream` blocks.
fn hosting_config(blocks: usize, backends: usize, live: u16, dir: &Path) -> String {
    let ports = free_ports(2);
    let mut c =
        String::from("server_names_hash_max_size 16384;\nserver_names_hash_bucket_size 128;\n");
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
            "server {{ listen 127.0.0.1:{}; server_name s{i}.test; location / {{ proxy_pass {pass}; }} }}\n",
            ports[i % 2]
        );
    }
    c
}

#[test]
fn a_three_thousand_block_config_checks_each_backend_once() {
    let iso = Isolated::new();
    let live = free_ports(1)[0];
    iso.nginx_conf(&hosting_config(3000, 40, live, iso.path()));
    let ran = iso.run(
        &http_backend(live),
        true,
        &[args(&["diagnose", "--json", "--timeout", "10"])],
    );
    assert_eq!(ran[0].code, 1, "{}", ran[0].stderr);
    let doc: Value = serde_json::from_str(&ran[0].stdout).unwrap();
    let mine: Vec<&Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["server"].as_str().unwrap().ends_with(".test") && r["server"] != "other.test")
        .collect();
    assert_eq!(mine.len(), 3000);
    let live = format!("127.0.0.1:{live}");
    let mut seen_ok = false;
    for r in &mine {
        let healthy = r["backend"] == live.as_str();
        let want = if healthy {
            "ok"
        } else {
            "broken: backend-not-listening"
        };
        assert_eq!(r["verdict"], want, "{r:#}");
        seen_ok |= healthy;
        assert!(
            healthy || !seen_ok,
            "a broken row after a healthy one: {r:#}"
        );
    }
    let mut addresses: Vec<&str> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["address"].as_str())
        .collect();
    let all = addresses.len();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(
        (all, addresses.len()),
        (40, 40),
        "each distinct backend checked once"
    );
}

/// With a backend given, every config line that reaches it is shown; the many that go
/// elsewhere are shown up to 20 and counted, and the JSON details keep every one.
#[test]
fn the_upstream_step_names_every_line_to_the_backend_and_counts_the_rest() {
    let iso = Isolated::new();
    let live = free_ports(1)[0];
    iso.nginx_conf(&hosting_config(200, 40, live, iso.path()));
    let backend = format!("127.0.0.1:{live}");
    let ran = iso.run(
        &http_backend(live),
        true,
        &[args(&[
            "diagnose",
            "--json",
            "--timeout",
            "10",
            "--backend",
            &backend,
        ])],
    );
    let doc: Value = serde_json::from_str(&ran[0].stdout).unwrap();
    let up = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "upstream")
        .unwrap();
    assert_eq!(up["verdict"], "ok", "{up:#}");
    let evidence: Vec<&str> = up["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let proxy_lines: Vec<&&str> = evidence.iter().filter(|l| l.contains(" → ")).collect();
    let to_backend = proxy_lines
        .iter()
        .filter(|l| l.ends_with("— the backend"))
        .count();
    // Blocks 0, 40, 80, 120 and 160 proxy to the live backend.
    assert_eq!(to_backend, 5, "{evidence:#?}");
    assert_eq!(proxy_lines.len() - to_backend, 20, "{evidence:#?}");
    let targets = up["details"]["targets"].as_array().unwrap().len();
    assert!(targets > 20, "{up:#}");
    let counted = format!(
        "… and {} more proxy targets that are not the backend",
        targets - 20
    );
    assert!(
        evidence.iter().any(|l| l.starts_with(&counted)),
        "{evidence:#?}"
    );
}
