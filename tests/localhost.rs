//! `localhost` is every address it resolves to. On Debian, /etc/hosts maps `localhost` to
//! `127.0.0.1` and `::1`; nginx resolves `server localhost:P` to both and tries them in turn.
//! This host's /etc/hosts maps it to 127.0.0.1 only and a test must not edit it, so nginx and
//! fixer run in a mount namespace of their own (`unshare -m`) with Debian's hosts file
//! bind-mounted over /etc/hosts. The backend listens on [::1]:P only. A machine without IPv6
//! loopback or mount namespaces skips the test and says so on stderr.
#![allow(clippy::print_stderr)]

mod common;
mod sys_support;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{deadline, lab, status, step, wait_until};
use fixer::lab::{Fault, Lab, Role};
use serde_json::Value;
use sys_support::{marker, Listen, Spawned};

const DEBIAN_HOSTS: &str = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n";

/// `program args…` in a new mount namespace where `hosts` is /etc/hosts.
fn with_hosts(hosts: &Path, program: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args([
        "-m",
        "sh",
        "-c",
        r#"mount --bind "$0" /etc/hosts && exec "$@""#,
    ])
    .arg(hosts)
    .arg(program);
    c
}

/// Whether this machine can run the test: IPv6 loopback and mount namespaces.
fn supported(hosts: &Path) -> bool {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return false;
    }
    let out = with_hosts(hosts, "cat").arg("/etc/hosts").output().unwrap();
    if !out.status.success() || out.stdout != DEBIAN_HOSTS.as_bytes() {
        eprintln!(
            "skipped: cannot bind-mount a hosts file in a mount namespace: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return false;
    }
    true
}

/// The lab's nginx restarted inside the namespace, proxying to `server localhost:P`.
fn nginx_on_localhost(lab: &Lab, hosts: &Path) {
    let master = common::identity(lab.pid(Role::Nginx).unwrap()).unwrap();
    let conf = fs::read_to_string(&lab.nginx_conf).unwrap();
    let from = format!("server 127.0.0.1:{};", lab.backend_port);
    assert!(conf.contains(&from), "{conf}");
    let to = format!("server localhost:{};", lab.backend_port);
    fs::write(&lab.nginx_conf, conf.replace(&from, &to)).unwrap();
    let nginx = |args: &[&str]| {
        let mut c = Command::new("/usr/sbin/nginx");
        c.arg("-p").arg(&lab.dir).arg("-c").arg(&lab.nginx_conf);
        c.args(args);
        c
    };
    assert!(nginx(&["-s", "stop"]).status().unwrap().success());
    assert!(wait_until(deadline(10.0), || common::gone(master)));
    let started = with_hosts(hosts, "/usr/sbin/nginx")
        .arg("-p")
        .arg(&lab.dir)
        .arg("-c")
        .arg(&lab.nginx_conf)
        .status()
        .unwrap();
    assert!(started.success());
}

fn playbook(lab: &Lab, tag: &str) -> std::path::PathBuf {
    let d = lab.dir.display();
    let (http, port) = (lab.http_port, lab.backend_port);
    let text = format!(
        r#"name = "localhost-v6"
[site]
domains = ["localhost"]
[nginx]
ports = [{http}]
binary = "/usr/sbin/nginx"
prefix = "{d}"
config = "{d}/nginx.conf"
[backend]
address = "localhost:{port}"
match = "{tag}"
health_path = "/api/health"
[[verify]]
url = "http://localhost:{port}/api/health"
expect = [200]
[[verify]]
url = "http://localhost:{http}/api/health"
via = "127.0.0.1"
expect = [200]
"#
    );
    let path = lab.dir.join("localhost-v6.toml");
    fs::write(&path, text).unwrap();
    path
}

fn error_log(lab: &Lab) -> String {
    fs::read_to_string(lab.dir.join("logs/error.log")).unwrap_or_default()
}

/// Debian's hosts file in a temp dir, or `None` (said on stderr) where the test cannot run.
fn debian_hosts() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    fs::write(&hosts, DEBIAN_HOSTS).unwrap();
    supported(&hosts).then_some((dir, hosts))
}

/// `fixer diagnose --json -p BOOK` inside the namespace.
fn diagnose(hosts: &Path, lab: &Lab, book: &Path) -> (Option<i32>, Value) {
    let out = with_hosts(hosts, env!("CARGO_BIN_EXE_fixer"))
        .args(["diagnose", "--json", "--timeout", "2", "-p"])
        .arg(book)
        .env("FIXER_STATE_DIR", lab.dir.join("state"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (out.status.code(), doc)
}

/// Sends user requests through nginx (each must answer 200) until nginx has logged a refused
/// try of `addr`.
fn until_refused(lab: &Lab, addr: &str) {
    let refused = format!("upstream: \"http://{addr}/api/health\"");
    assert!(
        wait_until(deadline(10.0), || {
            assert_eq!(status(lab.http_port, "/api/health").ok(), Some(200));
            error_log(lab).contains(&refused)
        }),
        "nginx never tried {addr}:\n{}",
        error_log(lab)
    );
}

#[test]
fn a_backend_on_ipv6_loopback_behind_localhost_is_healthy_with_a_warning() {
    let Some((_hosts_dir, hosts)) = debian_hosts() else {
        return;
    };
    let (_dir, mut lab) = lab(Fault::BackendDown);
    let tag = marker("v6only");
    let port = lab.backend_port.to_string();
    let backend = Spawned::ok_listener(
        "::1",
        Listen {
            port: lab.backend_port,
            tag: &tag,
            ..Default::default()
        },
    );
    assert_eq!(backend.line(), port);
    nginx_on_localhost(&lab, &hosts);

    // Users get 200, while nginx's tries of 127.0.0.1:P are refused and logged.
    until_refused(&lab, &format!("127.0.0.1:{port}"));
    let (code, doc) = diagnose(&hosts, &lab, &playbook(&lab, &tag));
    assert_eq!(code, Some(0), "{doc:#}");

    let upstream = step(&doc, "upstream");
    assert_eq!(upstream["verdict"], "ok", "{upstream:#}");
    assert!(
        upstream["evidence"]
            .to_string()
            .contains("localhost resolves to ::1, 127.0.0.1; nginx tries each in turn"),
        "{upstream:#}"
    );

    let port_step = step(&doc, "backend_port");
    assert_eq!(port_step["verdict"], "warn", "{port_step:#}");
    assert_eq!(port_step["finding"]["code"], "backend-partly-listening");
    let cause = port_step["finding"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!(
            "listens on [::1]:{port} but not on 127.0.0.1:{port}"
        )),
        "{cause}"
    );
    assert!(
        port_step["evidence"]
            .to_string()
            .contains("localhost resolves to ::1, 127.0.0.1"),
        "{port_step:#}"
    );

    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    assert_eq!(
        holder["details"]["pid"].as_i64(),
        Some(backend.pid() as i64)
    );
    assert_eq!(step(&doc, "recurl")["verdict"], "ok");
    assert!(doc["root_cause_code"].is_null(), "{doc:#}");

    // nginx's refused tries of 127.0.0.1:P are explained as a fallback, not called an outage.
    let log_step = step(&doc, "error_log");
    assert_eq!(log_step["verdict"], "warn", "{log_step:#}");
    assert!(log_step["details"]["counts"]["fell_back"].as_u64() >= Some(1));
    assert_eq!(log_step["details"]["counts"]["since"], 0, "{log_step:#}");
    let cause = log_step["finding"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("refused connection(s) to 127.0.0.1:{port}"))
            && cause.contains(&format!("the backend listens on [::1]:{port}"))
            && cause.contains("not an outage"),
        "{cause}"
    );
    assert!(
        !log_step.to_string().contains("backend down"),
        "{log_step:#}"
    );
    drop(backend);
    common::down_and_check(&mut lab);
}

/// The other way round, as on a stock Debian server: the backend listens on 127.0.0.1 only and
/// the playbook says so, nginx proxies to `localhost`. nginx's refused tries of [::1]:P are
/// this backend's lines, explained as a fallback — never "backend down".
#[test]
fn refused_tries_of_localhosts_other_address_are_not_an_outage() {
    let Some((_hosts_dir, hosts)) = debian_hosts() else {
        return;
    };
    let (_dir, mut lab) = lab(Fault::None);
    nginx_on_localhost(&lab, &hosts);
    let port = lab.backend_port;
    until_refused(&lab, &format!("[::1]:{port}"));
    let (code, doc) = diagnose(&hosts, &lab, &lab.playbook);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(step(&doc, "backend_port")["verdict"], "ok");
    let upstream = step(&doc, "upstream");
    assert_eq!(upstream["verdict"], "ok", "{upstream:#}");
    let log_step = step(&doc, "error_log");
    assert_eq!(log_step["verdict"], "warn", "{log_step:#}");
    assert_eq!(log_step["details"]["counts"]["since"], 0, "{log_step:#}");
    let cause = log_step["finding"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("refused connection(s) to [::1]:{port}"))
            && cause.contains(&format!("the backend listens on 127.0.0.1:{port}"))
            && cause.contains("not an outage"),
        "{cause}"
    );
    assert!(
        !log_step.to_string().contains("backend down"),
        "{log_step:#}"
    );
    common::down_and_check(&mut lab);
}

/// The `localhost-v6` lab: the backend binds [::1] only (as an app told to bind `localhost`
/// may, where `localhost` resolves to ::1 first), nginx proxies to 127.0.0.1: users get 502,
/// and the root cause is the interface, not a dead backend.
#[test]
fn the_localhost_v6_lab_blames_the_interface() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let (_dir, lab) = lab(Fault::LocalhostV6);
    let out = common::fixer()
        .args(["diagnose", "--json", "--timeout", "2", "-p"])
        .arg(&lab.playbook)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(doc["root_cause_code"], "backend-wrong-interface", "{doc:#}");
    let port = lab.backend_port;
    assert_eq!(
        doc["root_cause"],
        format!("port {port} listens only on [::1]:{port}, not on 127.0.0.1:{port}, so connections to 127.0.0.1:{port} are refused")
    );
    assert_eq!(status(lab.http_port, "/api/health").ok(), Some(502));
}
