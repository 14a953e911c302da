//! PHP-FPM on a unix socket, as Debian runs it, behind `fastcgi_pass unix:` — the most common
//! 502 in the wild — against the real php-fpm: the socket missing (repaired by starting php-fpm
//! again), a socket nginx's workers may not write, and a pool whose every worker is busy, which
//! must never be taken for a stuck holder.

mod common;

use common::{down_and_check, identity, lab, run_lab as run, status, step};
use fixer::lab::{Fault, Lab, Role};
use serde_json::Value;

fn diagnose(lab: &Lab) -> (i32, Value) {
    let (code, text) = run(lab, &["diagnose", "--json"]);
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    (code, doc)
}

/// The step's finding is the root cause. nginx's error log names the same failure by its own
/// code (`log-no-such-file`, `log-upstream-timeout`), but only backs the step's sentence with its
/// count: it is the root cause only when nothing but the probes through nginx failed.
fn root_cause_is(doc: &Value, step_name: &str, code: &str) -> String {
    let finding = &step(doc, step_name)["finding"];
    assert_eq!(finding["code"], code, "{:#}", step(doc, step_name));
    let root = doc["root_cause_code"].as_str().unwrap_or_default();
    assert_eq!(root, code, "{doc:#}");
    assert_eq!(doc["root_cause"], finding["cause"]);
    finding["cause"].as_str().unwrap().to_string()
}

fn socket(lab: &Lab) -> String {
    lab.dir.join("run/php-fpm.sock").display().to_string()
}

#[test]
fn a_missing_socket_is_named_and_php_fpm_started_again() {
    let (_dir, mut lab) = lab(Fault::UnixSocketMissing);
    let (code, doc) = diagnose(&lab);
    let cause = root_cause_is(&doc, "backend_port", "backend-not-listening");
    assert_eq!(
        cause,
        format!(
            "unix:{} does not exist, so nginx cannot reach the backend (502)",
            socket(&lab)
        )
    );
    assert_eq!(code, 1);
    assert_eq!(step(&doc, "upstream")["details"]["protocol"], "fastcgi");

    // The repair is the playbook's php-fpm command, verified through nginx.
    let (_, plan) = run(&lab, &["fix", "--dry-run"]);
    assert!(plan.contains("php-fpm.conf"), "{plan}");
    let audit = lab.dir.join("audit.jsonl").display().to_string();
    let (code, out) = run(
        &lab,
        &["fix", "--yes", "--wait", "20", "--audit-log", &audit],
    );
    assert!(out.contains("Fixed and verified"), "{out}");
    assert_eq!(code, 0, "{out}");
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    down_and_check(&mut lab);
}

#[test]
fn a_socket_nginx_may_not_write_is_a_permission_problem_not_a_dead_backend() {
    let (_dir, lab) = lab(Fault::FpmSocketPermission);
    // nginx itself is refused: the lab's fault is real.
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 502);
    let (code, doc) = diagnose(&lab);
    assert_eq!(
        doc["root_cause_code"], "backend-socket-permission",
        "{doc:#}"
    );
    let cause = doc["root_cause"].as_str().unwrap();
    assert!(
        cause.contains("is not writable by")
            && cause.contains(&format!(
                "nginx's connect() to unix:{} fails with (13: Permission denied) → 502",
                socket(&lab)
            )),
        "{cause}"
    );
    if nix::unistd::geteuid().is_root() {
        assert!(
            cause.contains("run as nobody") && cause.contains("mode 0660, owner root:root"),
            "{cause}"
        );
    }
    // The fix names the pool's file, found through the socket's holder.
    let action = step(&doc, "backend_port")["finding"]["action"].to_string();
    assert!(
        action.contains(&format!(
            "in {}/php-fpm.conf (pool lab), set listen.owner/listen.group to",
            lab.dir.display()
        )),
        "{action}"
    );
    assert_eq!(code, 1);
    // The pool itself is healthy, and fixer (as root) reaches it.
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");

    // Nothing to kill or restart: a restart would recreate the same socket.
    let master = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let (code, out) = run(&lab, &["fix", "--yes"]);
    assert!(out.contains("Left for you to change"), "{out}");
    assert!(
        !out.contains("SIGTERM") && !out.contains("SIGKILL"),
        "{out}"
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(identity(master.0), Some(master), "php-fpm was left alone");
}

#[test]
fn a_full_pool_is_not_a_stuck_holder_and_is_never_killed() {
    let (_dir, lab) = lab(Fault::FpmPoolFull);
    let master = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let (code, doc) = diagnose(&lab);
    let cause = &root_cause_is(&doc, "port_holder", "fpm-pool-full");
    assert!(
        cause.starts_with(&format!(
            "php-fpm pool lab on unix:{} (master PID {}) is full: all 1 of its workers are busy (pm.max_children = 1) and none waits for a connection",
            socket(&lab),
            master.0
        )),
        "{cause}"
    );
    assert!(
        cause.contains("php-fpm logged \"server reached pm.max_children\""),
        "{cause}"
    );
    assert_eq!(code, 1);
    let evidence = step(&doc, "port_holder")["evidence"].to_string();
    assert!(
        evidence.contains("php-fpm workers: 1 busy, 0 idle"),
        "{evidence}"
    );

    let (code, out) = run(&lab, &["fix", "--yes"]);
    assert!(out.contains("Left for you to change"), "{out}");
    assert!(out.contains("fixer neither kills nor restarts it"), "{out}");
    assert!(
        !out.contains("SIGTERM") && !out.contains("SIGKILL") && !out.contains("Plan:"),
        "{out}"
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(identity(master.0), Some(master), "php-fpm was left alone");
}
