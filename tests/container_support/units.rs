//! A site inside the container the way a server has one: a Python backend under its own
//! systemd unit on 127.0.0.1:8080, nginx (the Debian package, started by its unit) proxying
//! port 80 to it, and a playbook in /etc/fixer/playbooks.

use super::Container;

pub const BACKEND_PORT: u16 = 8080;
pub const APP_UNIT: &str = "app.service";

/// The backend: answers `/api/health` with 200. SIGUSR1 makes it stuck (its only thread
/// sleeps in the signal handler: the socket stays open, nobody accepts). With
/// /etc/app/broken present it exits 1 at start, like an app whose config is bad.
pub const APP_PY: &str = r#"import http.server, os, signal, sys, time
if os.path.exists("/etc/app/broken"):
    print("config /etc/app/broken: refusing to start", flush=True)
    sys.exit(1)
signal.signal(signal.SIGUSR1, lambda *_: time.sleep(10**9))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
print("listening on 8080", flush=True)
http.server.HTTPServer(("127.0.0.1", 8080), H).serve_forever()
"#;

pub const NGINX_SITE: &str = "server {
    listen 80 default_server;
    server_name localhost;
    location / {
        proxy_pass http://127.0.0.1:8080;
        proxy_connect_timeout 2s;
        proxy_read_timeout 3s;
    }
}
";

pub const PLAYBOOK: &str = r#"name = "app"
description = "app.service on 127.0.0.1:8080 behind nginx"
[site]
domains = ["localhost"]
expected_ips = ["127.0.0.1", "::1"]
[nginx]
ports = [80]
[backend]
address = "127.0.0.1:8080"
match = "app\\.py"
health_path = "/api/health"
restart = { systemd = "app.service" }
[[verify]]
url = "http://127.0.0.1:8080/api/health"
expect = [200]
[[verify]]
url = "http://localhost/api/health"
via = "127.0.0.1"
expect = [200]
"#;

/// `[Service]` lines of app.service beyond ExecStart (e.g. `Restart=always`), and `[Unit]`
/// lines (e.g. a start limit).
#[derive(Default)]
pub struct AppUnit<'a> {
    pub unit: &'a [&'a str],
    pub service: &'a [&'a str],
}

impl AppUnit<'_> {
    fn text(&self) -> String {
        let mut t = String::from("[Unit]\nDescription=the app behind nginx\n");
        for l in self.unit {
            t += l;
            t += "\n";
        }
        t += "[Service]\nExecStart=/usr/bin/python3 /opt/app/app.py\n";
        for l in self.service {
            t += l;
            t += "\n";
        }
        t + "[Install]\nWantedBy=multi-user.target\n"
    }
}

impl Container {
    /// Installs the backend, its unit, nginx's site and the playbook; starts the backend and
    /// reloads nginx; waits until a request through nginx answers 200.
    pub fn site(&self, unit: AppUnit<'_>) {
        self.write("/opt/app/app.py", APP_PY);
        self.write(&format!("/etc/systemd/system/{APP_UNIT}"), &unit.text());
        self.write("/etc/nginx/sites-enabled/default", NGINX_SITE);
        self.write("/etc/fixer/playbooks/app.toml", PLAYBOOK);
        self.sh_ok("systemctl daemon-reload && systemctl start app.service");
        self.sh_ok("systemctl is-active --quiet nginx && systemctl reload nginx");
        self.wait_for(30, "app answering through nginx", |c| {
            c.http("http://127.0.0.1/api/health") == 200
        });
    }

    /// The site with a start limit of 3 starts in 300 s, then a config that makes app.py exit at
    /// once: systemd restarts it until the start limit stops it. Returns when `limit_hit` holds.
    pub fn crash_loop(&self, limit_hit: impl Fn(&Container) -> bool) {
        self.site(AppUnit {
            unit: &["StartLimitIntervalSec=300", "StartLimitBurst=3"],
            service: &["Restart=on-failure", "RestartSec=100ms"],
        });
        self.sh_ok(
            "mkdir -p /etc/app && touch /etc/app/broken && systemctl kill -s KILL app.service",
        );
        self.wait_for(30, "app.service to hit its start limit", limit_hit);
    }

    /// The status of GET `url` from inside the container (curl; 0 when nothing answered).
    pub fn http(&self, url: &str) -> u16 {
        let out = self.run(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "3",
            "-H",
            "Host: localhost",
            url,
        ]);
        out.stdout.trim().parse().unwrap_or(0)
    }

    /// `systemctl show -p PROP --value UNIT`.
    pub fn prop(&self, unit: &str, prop: &str) -> String {
        self.run(&["systemctl", "show", "-p", prop, "--value", unit])
            .stdout
            .trim()
            .to_string()
    }

    /// The unit's MainPID (as the container sees it), 0 when it has none.
    pub fn main_pid(&self, unit: &str) -> u32 {
        self.prop(unit, "MainPID").parse().unwrap_or(0)
    }

    /// The cgroup path of PID (container view), from the unified line of /proc/PID/cgroup.
    pub fn cgroup_of(&self, pid: u32) -> String {
        let text = self.run(&["cat", &format!("/proc/{pid}/cgroup")]).stdout;
        text.lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("")
            .to_string()
    }

    /// The command line of PID (container view), arguments joined by spaces.
    pub fn cmdline(&self, pid: u32) -> String {
        self.run(&["cat", &format!("/proc/{pid}/cmdline")])
            .stdout
            .split('\0')
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether PID (container view) is alive and not a zombie.
    pub fn alive(&self, pid: u32) -> bool {
        let stat = self.run(&["cat", &format!("/proc/{pid}/stat")]).stdout;
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|s| s != "Z")
    }

    /// `fixer fix -p app --yes` with the audit log in /root, short probes, a bounded wait.
    pub fn fix_yes(&self, extra: &[&str]) -> super::Out {
        let mut args = vec![
            "fix",
            "-p",
            "app",
            "--yes",
            "--audit-log",
            "/root/audit.jsonl",
            "--timeout",
            "1",
            "--wait",
            "40",
        ];
        args.extend_from_slice(extra);
        self.fixer(&args)
    }

    /// The audit log of `fix_yes`, one JSON value a line.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        self.run(&["cat", "/root/audit.jsonl"])
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
            .collect()
    }

    /// `(action, phase, result)` of every audit entry, in order.
    pub fn audit_summary(&self) -> Vec<(String, String, String)> {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
        self.audit()
            .iter()
            .map(|e| (s(&e["action"]), s(&e["phase"]), s(&e["result"])))
            .collect()
    }
}
