//! The port-holder and backend-port steps on shapes the lab does not make: a pre-fork server,
//! a backend bound to the wrong interface, and a holder fixer is not allowed to inspect.

mod common;
mod sys_support;

use std::os::unix::process::CommandExt;

use common::{fixer, step};
use serde_json::Value;
use sys_support::{marker, Listen, Spawned};

fn diagnose(args: &[&str], as_nobody: bool) -> Value {
    // As nobody, from a copy anyone can run (the checkout may sit under a 0700 directory).
    let copy = as_nobody.then(common::fixer_for_anyone);
    let mut cmd = match &copy {
        Some((_dir, bin)) => std::process::Command::new(bin),
        None => fixer(),
    };
    cmd.args(["diagnose", "--json", "--timeout", "1", "--nginx-port", "9"])
        .args(args);
    if as_nobody {
        cmd.uid(65534)
            .gid(65534)
            .env("HOME", "/tmp")
            .current_dir("/tmp");
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_process_of_a_prefork_server_is_listed_with_the_master_first() {
    let tag = marker("prefork");
    let server = Spawned::ok_listener(
        "127.0.0.1",
        Listen {
            forks: 2,
            tag: &tag,
            ..Default::default()
        },
    );
    let port = server.line();
    let backend = format!("127.0.0.1:{port}");
    let doc = diagnose(&["--backend", &backend, "--match", &tag], false);
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    let d = &holder["details"];
    assert_eq!(d["pid"].as_i64().unwrap() as i32, server.pid());
    assert_eq!(d["pids"].as_array().unwrap().len(), 3, "{d:#}");
    assert_eq!(d["answering"], true);
    assert_eq!(d["matches"], true);
    let evidence = holder["evidence"].to_string();
    assert!(
        evidence.contains(&format!("(child of {})", server.pid())),
        "{evidence}"
    );
}

#[test]
fn a_backend_bound_to_another_interface_is_named() {
    let server = Spawned::ok_listener("::1", Listen::default());
    let port = server.line();
    let doc = diagnose(&["--backend", &format!("127.0.0.1:{port}")], false);
    let s = step(&doc, "backend_port");
    assert_eq!(s["verdict"], "fail");
    assert_eq!(s["finding"]["code"], "backend-wrong-interface");
    let cause = s["finding"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!(
            "listens only on [::1]:{port}, not on 127.0.0.1:{port}"
        )),
        "{cause}"
    );
    assert_eq!(step(&doc, "port_holder")["verdict"], "skip");
}

#[test]
fn a_holder_fixer_cannot_inspect_is_never_called_free() {
    let server = Spawned::ok_listener("127.0.0.1", Listen::default());
    let port = server.line();
    let doc = diagnose(&["--backend", &format!("127.0.0.1:{port}")], true);
    assert_eq!(step(&doc, "backend_port")["verdict"], "ok");
    let s = step(&doc, "port_holder");
    assert_eq!(s["finding"]["code"], "holder-uninspectable", "{s:#}");
    assert!(
        s["finding"]["cause"]
            .as_str()
            .unwrap()
            .contains("run as root"),
        "{s:#}"
    );
}
