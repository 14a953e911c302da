//! `fixer watch --install` against real systemd as PID 1 in a throwaway container (see
//! tests/container_support and docs/testing.md): the timer fires, a killed backend comes back
//! through its unit, and a receiver on the container's loopback gets the alert.

mod container_support;

use container_support::{AppUnit, Container, APP_UNIT};

/// Records every POST body as one line of /root/received.jsonl and answers 200.
const RECEIVER_PY: &str = r#"import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open("/root/received.jsonl", "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", 9099), H).serve_forever()
"#;

fn received(c: &Container) -> Vec<serde_json::Value> {
    c.run(&["cat", "/root/received.jsonl"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// Like `Container::wait_for`, with the watch service's journal in the failure.
fn wait(c: &Container, secs: u64, what: &str, mut cond: impl FnMut(&Container) -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond(c) {
        if std::time::Instant::now() >= end {
            let journal = c.sh("systemctl list-timers --all --no-pager; journalctl --no-pager -n 60 -u 'fixer-watch@*'");
            panic!("{what} did not happen within {secs} s:\n{}", journal.all());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn installed_timer_brings_a_killed_backend_back_and_alerts() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.write("/opt/recv/recv.py", RECEIVER_PY);
    c.sh_ok("systemd-run --unit=recv /usr/bin/python3 /opt/recv/recv.py");
    c.wait_for(20, "the receiver to listen", |c| {
        c.http("http://127.0.0.1:9099/") != 0
    });
    c.sh_ok(
        r#"printf '\n[watch]\nauto_fix = ["restart-backend"]\n' >> /etc/fixer/playbooks/app.toml"#,
    );

    let install = "FIXER_HOOK_URL=http://127.0.0.1:9099/hook?token=TOKEN42 \
        fixer watch --install app --interval 2s --fix --notify env:FIXER_HOOK_URL --timeout 1";
    // No terminal and no --yes: refused, nothing written.
    let refused = c.sh(install);
    assert_eq!(refused.code, 4, "{}", refused.all());
    assert!(
        refused.stdout.contains("Refused: --install needs consent"),
        "{}",
        refused.all()
    );
    assert_ne!(
        c.sh("test -e /etc/systemd/system/fixer-watch@.service")
            .code,
        0
    );
    let dry = c.sh(&format!("{install} --dry-run"));
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("Run systemctl enable --now fixer-watch@app.timer"),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("Dry run: nothing was changed."),
        "{}",
        dry.all()
    );
    assert_ne!(
        c.sh("test -e /etc/systemd/system/fixer-watch@.service")
            .code,
        0
    );

    let out = c.sh(&format!("{install} --yes"));
    assert_eq!(out.code, 0, "{}", out.all());
    for line in [
        "wrote /etc/systemd/system/fixer-watch@.service (mode 644)",
        "wrote /etc/systemd/system/fixer-watch@.timer (mode 644)",
        "wrote /etc/systemd/system/fixer-watch@app.timer.d/interval.conf (mode 644)",
        "wrote /etc/fixer/watch/app.env (mode 600)",
        "systemctl daemon-reload: exit 0",
        "systemctl enable --now fixer-watch@app.timer: exit 0",
    ] {
        assert!(out.stdout.contains(line), "{line}: {}", out.all());
    }
    assert!(!out.all().contains("TOKEN42"), "{}", out.all());
    assert_eq!(c.prop("fixer-watch@app.timer", "ActiveState"), "active");
    assert_eq!(
        c.sh_ok("stat -c %a /etc/fixer/watch/app.env").stdout.trim(),
        "600"
    );
    wait(&c, 60, "a first round (healthy: nothing sent)", |c| {
        c.sh("grep -q '\"state\": \"healthy\"' /var/lib/fixer/watch/*.json")
            .code
            == 0
    });
    assert!(
        received(&c).is_empty(),
        "a healthy first round sends nothing"
    );

    let before = c.main_pid(APP_UNIT);
    c.sh_ok("systemctl kill -s KILL app.service");
    wait(&c, 90, "the alert that the backend was fixed", |c| {
        received(c).iter().any(|m| m["event"] == "fixed")
    });
    let m = received(&c)
        .into_iter()
        .find(|m| m["event"] == "fixed")
        .unwrap();
    assert_eq!(m["state"], "healthy");
    assert_eq!(m["playbook"], "app");
    assert_eq!(m["actions"], serde_json::json!(["restart-backend (done)"]));
    let after = c.main_pid(APP_UNIT);
    assert!(after != 0 && after != before, "MainPID {before} → {after}");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
    let audit = c.run(&["cat", "/var/log/fixer/audit.jsonl"]).stdout;
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"consent\":\"auto-fix\"") && l.contains("\"result\":\"done\"")),
        "{audit}"
    );

    let gone = c.fixer(&["watch", "--uninstall", "app", "--yes"]);
    assert_eq!(gone.code, 0, "{}", gone.all());
    assert!(
        gone.stdout
            .contains("systemctl disable --now fixer-watch@app.timer: exit 0"),
        "{}",
        gone.all()
    );
    assert_ne!(c.prop("fixer-watch@app.timer", "ActiveState"), "active");
    assert_ne!(
        c.sh("test -e /etc/systemd/system/fixer-watch@.service")
            .code,
        0
    );
    assert_ne!(c.sh("test -e /etc/fixer/watch/app.env").code, 0);
}
