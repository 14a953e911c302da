//! The error_log step speaks about this backend, now: lines about another site's upstream and
//! lines caused by fixer's own probes are left out, and after a verified fix the old errors are
//! shown as "before the last verified-healthy time" with verdict ok. Real nginx, real requests.

mod common;
mod fix_support;

use std::fs;
use std::process::Command;

use common::{deadline, lab, status, step, wait_until};
use fix_support::{output, Run};
use fixer::lab::{Fault, Lab};
use serde_json::Value;

/// Adds a second site to the lab's nginx — `other.test` on its own port, proxying to a backend
/// that is down — and reloads nginx. Returns (the site's port, its dead backend's port).
fn add_other_site(lab: &Lab) -> (u16, u16) {
    // Two ports nothing listens on: bound, read, released.
    let [site, dead] = common::nginx::free_ports(2)[..] else {
        unreachable!("two ports asked for")
    };
    let conf = fs::read_to_string(&lab.nginx_conf).unwrap();
    let end = conf.rfind('}').unwrap();
    let other = format!(
        "    server {{\n        listen 127.0.0.1:{site};\n        server_name other.test;\n        \
         location / {{\n            proxy_pass http://127.0.0.1:{dead};\n        }}\n    }}\n"
    );
    fs::write(
        &lab.nginx_conf,
        format!("{}{other}{}", &conf[..end], &conf[end..]),
    )
    .unwrap();
    let reload = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(&lab.dir)
        .arg("-c")
        .arg(&lab.nginx_conf)
        .args(["-s", "reload"])
        .status()
        .unwrap();
    assert!(reload.success());
    assert!(
        wait_until(deadline(10.0), || status(site, "/").ok() == Some(502)),
        "the other site never answered"
    );
    (site, dead)
}

fn diagnose(run: &Run, lab: &Lab) -> Value {
    let mut cmd = run.fixer("diagnose");
    cmd.args(["--json", "--timeout", "1", "-p"])
        .arg(&lab.playbook);
    let out = output(cmd);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()))
}

fn count(log: &Value, key: &str) -> u64 {
    log["details"]["counts"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {key}: {log:#}"))
}

#[test]
fn another_sites_dead_backend_is_not_this_backends_error() {
    let (_dir, mut lab) = lab(Fault::None);
    let (site, dead) = add_other_site(&lab);
    for _ in 0..3 {
        assert_eq!(status(site, "/").unwrap(), 502);
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    }
    let run = Run::new();
    let doc = diagnose(&run, &lab);
    let log = step(&doc, "error_log");
    assert_eq!(log["verdict"], "ok", "{log:#}");
    assert!(count(log, "other_upstreams") >= 3, "{log:#}");
    assert_eq!(count(log, "since"), 0);
    let evidence = log["evidence"].to_string();
    assert!(
        evidence.contains(&format!("about other upstreams (127.0.0.1:{dead})")),
        "{evidence}"
    );
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    common::down_and_check(&mut lab);
}

#[test]
fn own_probes_are_left_out_and_a_verified_fix_ends_the_warning() {
    let (_dir, mut lab) = lab(Fault::BackendDown);
    let run = Run::new();
    // Two users hit the outage.
    for _ in 0..2 {
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 502);
    }
    let first = diagnose(&run, &lab);
    let log = step(&first, "error_log");
    assert_eq!(log["verdict"], "warn", "{log:#}");
    assert_eq!(count(log, "since"), 2, "{log:#}");
    assert!(log["finding"]["cause"]
        .as_str()
        .unwrap()
        .contains("nginx logged 2 upstream error(s) about 127.0.0.1:"));

    // The first diagnose probed through nginx; its own 502s are not counted the second time.
    let second = diagnose(&run, &lab);
    let log = step(&second, "error_log");
    assert_eq!(count(log, "since"), 2, "{log:#}");
    assert!(count(log, "own_probes") >= 1, "{log:#}");
    assert!(
        log["evidence"]
            .to_string()
            .contains("caused by fixer's own probes (Referer: fixer:probe)"),
        "{log:#}"
    );

    let mut fix = run.fix(&lab);
    fix.args(["--yes", "--json"]);
    let fixed = output(fix);
    assert_eq!(fixed.code, 0, "{}", fixed.all());

    let after = diagnose(&run, &lab);
    let log = step(&after, "error_log");
    assert_eq!(log["verdict"], "ok", "{log:#}");
    assert_eq!(count(log, "since"), 0, "{log:#}");
    assert_eq!(count(log, "before"), 2, "{log:#}");
    let summary = log["summary"].as_str().unwrap();
    assert!(
        summary.contains("since fixer verified the site healthy at")
            && summary.contains("2 before it"),
        "{summary}"
    );
    assert!(
        log["evidence"]
            .to_string()
            .contains("before the last verified-healthy time: 2×"),
        "{log:#}"
    );
    assert_eq!(after["exit_code"], 0, "{after:#}");
    common::down_and_check(&mut lab);
}

/// Appends `n` lines of users refused by the dead backend, stamped now, to the lab's error log.
fn flood(lab: &Lab, n: usize) {
    use std::io::Write;
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    let line = format!(
        "{now} [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: \"GET /api/health HTTP/1.1\", upstream: \"http://127.0.0.1:{}/api/health\", host: \"localhost\"\n",
        lab.backend_port
    );
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(lab.dir.join("logs/error.log"))
        .unwrap();
    log.write_all(line.repeat(n).as_bytes()).unwrap();
}

#[test]
fn a_busy_log_is_counted_to_the_window_start_and_a_flood_is_said_to_be_cut() {
    let (_dir, mut lab) = lab(Fault::BackendDown);
    let run = Run::new();
    // ~6 MiB: far past the old 512 KiB tail, within the byte bound: every line counted.
    flood(&lab, 25_000);
    let doc = diagnose(&run, &lab);
    let log = step(&doc, "error_log");
    assert_eq!(count(log, "since"), 25_000, "{:#}", log["evidence"]);
    assert!(log["details"]["window_cut"].is_null(), "{log:#}");
    assert_eq!(log["finding"]["code"], "log-connection-refused");
    let root = doc["root_cause"].as_str().unwrap();
    assert!(
        root.contains("(25000 'connection refused' in nginx's error log since "),
        "{root}"
    );

    // Past the 16 MiB bound: counted as far as it goes, and said so.
    flood(&lab, 70_000);
    let doc = diagnose(&run, &lab);
    let log = step(&doc, "error_log");
    let since = count(log, "since");
    assert!((50_000..95_000).contains(&since), "{since}");
    assert!(log["details"]["window_cut"].is_string(), "{log:#}");
    let evidence = log["evidence"].to_string();
    assert!(
        evidence.contains("the window was cut: only the last 16 MiB were read"),
        "{evidence}"
    );
    common::down_and_check(&mut lab);
}
