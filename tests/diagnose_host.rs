//! Host pressure and the backend's own log as evidence when the backend is down, in a
//! throwaway container (its own mount namespace, so a tiny full filesystem is easy to make; see
//! tests/container_support and docs/testing.md).

mod common;
mod container_support;

use container_support::{Container, APP_PY};
use serde_json::Value;

/// A backend started by command, logging to /var/log/app/app.log.
const PLAYBOOK: &str = r#"name = "cmd"
[nginx]
ports = [80]
[backend]
address = "127.0.0.1:8080"
restart = { command = "python3 /opt/app/app.py", log = "/var/log/app/app.log" }
"#;

fn backend_port(doc: &Value) -> &Value {
    common::step(doc, "backend_port")
}

/// The backend died after its log filled a 1 MB filesystem: nothing listens, and the
/// evidence has the full disk (in the root cause too) and the log's last lines.
#[test]
fn a_full_log_disk_and_the_last_log_lines_explain_a_dead_backend() {
    let c = Container::boot();
    c.write("/opt/app/app.py", APP_PY);
    c.write("/etc/fixer/playbooks/cmd.toml", PLAYBOOK);
    c.sh_ok(
        "mkdir -p /var/log/app && mount -t tmpfs -o size=1m tmpfs /var/log/app \
         && for i in $(seq 1 30); do echo \"request $i ok\"; done > /var/log/app/app.log \
         && echo 'OSError: [Errno 28] No space left on device' >> /var/log/app/app.log \
         && (dd if=/dev/zero of=/var/log/app/fill bs=4k 2>/dev/null || true)",
    );

    let out = c.fixer(&["diagnose", "-p", "cmd", "--json", "--timeout", "1"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let step = backend_port(&doc);
    let evidence: Vec<&str> = step["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let has = |needle: &str| evidence.iter().any(|e| e.contains(needle));
    assert!(has("host: memory "), "{evidence:#?}");
    assert!(
        has("host-disk-full: the filesystem holding /var/log/app/app.log is full (0 B free of 1.0 MB)"),
        "{evidence:#?}"
    );
    let log: Vec<&&str> = evidence
        .iter()
        .filter(|e| e.starts_with("log /var/log/app/app.log: "))
        .collect();
    assert_eq!(log.len(), 10, "{evidence:#?}");
    assert!(log[9].ends_with("OSError: [Errno 28] No space left on device"));
    assert!(log[0].ends_with("request 22 ok"), "{log:?}");
    assert_eq!(step["finding"]["code"], "backend-not-listening");
    assert!(
        doc["root_cause"]
            .as_str()
            .unwrap()
            .contains("; the filesystem holding /var/log/app/app.log is full"),
        "{}",
        out.all()
    );
    assert_eq!(
        step["details"]["host"]["findings"][0]["code"],
        "host-disk-full"
    );
}
