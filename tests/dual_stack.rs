//! A backend on `[::]` takes IPv4 only when its socket is dual-stack. /proc does not say which;
//! fixer reads the socket's IPV6_V6ONLY, so an IPv6-only listener is never called the holder of
//! 127.0.0.1:P (its probe there is refused, which says nothing about it being stuck).

mod common;
mod sys_support;

use common::{fixer, step};
use serde_json::Value;
use sys_support::{marker, Listen, Spawned};

fn diagnose(port: &str, tag: &str) -> Value {
    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "1", "--nginx-port", "9"])
        .args(["--backend", &format!("127.0.0.1:{port}"), "--match", tag])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn no_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_err()
}

#[test]
fn an_ipv6_only_wildcard_is_not_the_ipv4_backend() {
    if no_ipv6() {
        return;
    }
    let tag = marker("v6only");
    let server = Spawned::ok_listener(
        "::",
        Listen {
            v6only: Some(true),
            tag: &tag,
            ..Default::default()
        },
    );
    let port = server.line();
    let doc = diagnose(&port, &tag);
    let s = step(&doc, "backend_port");
    assert_eq!(s["finding"]["code"], "backend-wrong-interface", "{s:#}");
    let cause = s["finding"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!(
            "listens only on [::]:{port} (IPv6 only), not on 127.0.0.1:{port}"
        )),
        "{cause}"
    );
    assert!(
        s["evidence"].to_string().contains(&format!(
            "[::]:{port}: IPV6_V6ONLY set (read from PID {}'s socket), so it refuses IPv4",
            server.pid()
        )),
        "{s:#}"
    );
    assert_eq!(
        step(&doc, "port_holder")["verdict"],
        "skip",
        "no holder to blame"
    );
}

#[test]
fn a_dual_stack_wildcard_serves_ipv4() {
    if no_ipv6() {
        return;
    }
    let tag = marker("dual");
    let server = Spawned::ok_listener(
        "::",
        Listen {
            v6only: Some(false),
            tag: &tag,
            ..Default::default()
        },
    );
    let port = server.line();
    let doc = diagnose(&port, &tag);
    let s = step(&doc, "backend_port");
    assert_eq!(s["verdict"], "ok", "{s:#}");
    assert!(
        s["evidence"].to_string().contains("IPV6_V6ONLY not set"),
        "{s:#}"
    );
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    assert_eq!(holder["details"]["pid"].as_i64(), Some(server.pid() as i64));
}
