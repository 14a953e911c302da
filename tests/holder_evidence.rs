//! fixer acts only on readings it made: a probe it could not send, a backend slower than its
//! timeout, a protocol it did not speak, and one healthy listener beside a stuck one are never
//! reasons to kill. Real nginx (the lab's, its config edited and reloaded as an operator would),
//! real python backends, the real binary.

mod common;
mod fix_support;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{deadline, lab, step, wait_until};
use fix_support::{output, Owned, Run};
use fixer::lab::{Fault, Lab, Role};
use serde_json::Value;

/// Answers GET after `--delay` seconds, from a thread per request; `--tls CERT KEY` wraps
/// the listening socket in TLS; `--reuse-port` shares the address with other listeners.
const BACKEND: &str = r#"import argparse, http.server, socket, ssl, time
p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--delay", type=float, default=0)
p.add_argument("--tls", nargs=2)
p.add_argument("--reuse-port", action="store_true")
a = p.parse_args()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(a.delay)
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        if a.reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()
s = S(("127.0.0.1", a.port), H)
if a.tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.tls[0], a.tls[1])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("serving", flush=True)
s.serve_forever()
"#;

/// Listens with SO_REUSEPORT and never accepts, like a stale instance that hung.
const STUCK_REUSE: &str = r#"import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
print("listening", flush=True)
while True:
    time.sleep(3600)
"#;

fn backend(run: &Run, name: &str, args: &[String]) -> Owned {
    let script = run.script(name, BACKEND);
    Owned::python(&script, args)
}

/// `GET /api/health` straight to the port answers within `timeout`.
fn answers(port: u16, timeout: Duration) -> bool {
    common::http_get(port, "/api/health", None, timeout).is_ok_and(|s| s == 200)
}

/// Edits the lab's nginx.conf and reloads nginx, waiting until the old workers are gone, so
/// the new config is what serves.
fn reconfigure(lab: &Lab, edit: impl Fn(&str) -> String) {
    let conf = fs::read_to_string(&lab.nginx_conf).unwrap();
    let edited = edit(&conf);
    assert_ne!(conf, edited, "the edit changed nothing");
    fs::write(&lab.nginx_conf, edited).unwrap();
    let master = lab.pid(Role::Nginx).unwrap();
    let old = workers(master);
    let status = Command::new(nginx())
        .arg("-p")
        .arg(&lab.dir)
        .arg("-c")
        .arg(&lab.nginx_conf)
        .args(["-s", "reload"])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "nginx -s reload failed");
    assert!(
        wait_until(deadline(15.0), || {
            let now = workers(master);
            !now.is_empty() && now.iter().all(|w| !old.contains(w))
        }),
        "nginx did not replace its workers after the reload"
    );
}

fn nginx() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn workers(master: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                let rest = &s[s.rfind(')').map_or(0, |i| i + 1)..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(master)
                    && f.first() != Some(&"Z")
            })
        })
        .collect()
}

/// The lab's playbook with its `[[verify]]` list replaced by `verify` (TOML text).
fn playbook(run: &Run, lab: &Lab, backend: &str, verify: &str) -> std::path::PathBuf {
    let text = fs::read_to_string(&lab.playbook).unwrap();
    let head = text.split("[[verify]]").next().unwrap();
    let head: String = head
        .lines()
        .map(|l| match l.starts_with("match = ") && !backend.is_empty() {
            true => format!("match = '{backend}'\n"),
            false => format!("{l}\n"),
        })
        .collect();
    let path = run.path("playbook.toml");
    fs::write(&path, format!("{head}{verify}")).unwrap();
    path
}

fn nginx_url(lab: &Lab) -> String {
    format!(
        "[[verify]]\nurl = \"http://localhost:{}/api/health\"\nvia = \"127.0.0.1\"\nexpect = [200]\n",
        lab.http_port
    )
}

fn direct_url(lab: &Lab) -> String {
    format!(
        "[[verify]]\nurl = \"http://127.0.0.1:{}/api/health\"\nexpect = [200]\n",
        lab.backend_port
    )
}

fn diagnose(run: &Run, book: &Path, timeout: &str) -> (i32, Value) {
    let mut cmd = run.fixer("diagnose");
    cmd.arg("--json")
        .arg("-p")
        .arg(book)
        .args(["--timeout", timeout]);
    let out = output(cmd);
    let doc = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    (out.code, doc)
}

fn dry_run(run: &Run, book: &Path, timeout: &str) -> fix_support::Output {
    let mut cmd = run.fixer("fix");
    cmd.arg("-p")
        .arg(book)
        .arg("--audit-log")
        .arg(&run.audit)
        .args(["--timeout", timeout, "--dry-run"]);
    output(cmd)
}

#[test]
fn a_slow_backend_is_holder_slow_and_never_killed() {
    let (_dir, lab) = lab(Fault::BackendDown);
    reconfigure(&lab, |c| {
        c.replace("proxy_read_timeout 1s;", "proxy_read_timeout 10s;")
    });
    let run = Run::new();
    let port = lab.backend_port.to_string();
    let slow = backend(
        &run,
        "slow-backend.py",
        &["--port".into(), port, "--delay".into(), "3".into()],
    );
    assert!(
        wait_until(deadline(20.0), || answers(
            lab.backend_port,
            Duration::from_secs(5)
        )),
        "the slow backend never answered"
    );
    // Users through nginx get 200, just slowly.
    assert_eq!(
        common::http_get(lab.http_port, "/api/health", None, Duration::from_secs(8)).unwrap(),
        200
    );
    let book = playbook(&run, &lab, r#"slow-backend\.py"#, &nginx_url(&lab));
    let (_, doc) = diagnose(&run, &book, "1");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "warn", "{holder:#}");
    assert_eq!(holder["finding"]["code"], "holder-slow", "{holder:#}");
    let cause = holder["finding"]["cause"].as_str().unwrap();
    assert!(cause.contains("answers slower than 1 s"), "{cause}");
    assert!(
        cause.contains("nginx waits 10 s for it here (proxy_read_timeout at ")
            && cause.contains("so users get slow pages, not 502/504"),
        "{cause}"
    );
    assert_eq!(holder["details"]["pid"], slow.pid());
    assert_ne!(doc["root_cause_code"], "holder-stuck", "{doc:#}");

    let out = dry_run(&run, &book, "1");
    assert!(!out.stdout.contains("Plan: kill-holder"), "{}", out.all());
    assert!(!out.stdout.contains("Plan: restart"), "{}", out.all());
    assert!(
        run.audit().is_empty(),
        "a dry run of a slow backend acted: {:?}",
        run.audit()
    );
    assert_eq!(common::proc_state(slow.pid()).map(|s| s != 'Z'), Some(true));
}

#[test]
fn a_working_site_with_a_tls_backend_is_not_broken() {
    let (_dir, lab) = lab(Fault::BackendDown);
    reconfigure(&lab, |c| {
        c.replace(
            "proxy_pass http://lab_backend",
            "proxy_pass https://lab_backend",
        )
    });
    let run = Run::new();
    fixer::lab::make_cert(
        Path::new("openssl"),
        run.dir.path(),
        "localhost",
        "DNS:localhost,IP:127.0.0.1",
    )
    .unwrap();
    let (cert, key) = (run.path("cert.pem"), run.path("key.pem"));
    let tls = backend(
        &run,
        "tls-backend.py",
        &[
            "--port".into(),
            lab.backend_port.to_string(),
            "--tls".into(),
            cert.display().to_string(),
            key.display().to_string(),
        ],
    );
    assert!(
        wait_until(deadline(20.0), || common::status(
            lab.http_port,
            "/api/health"
        )
        .is_ok_and(|s| s == 200)),
        "nginx never got 200 from the TLS backend"
    );
    // The plain-HTTP direct URL disagrees with nginx: a reading, not a failure of the site.
    let verify = format!("{}{}", direct_url(&lab), nginx_url(&lab));
    let book = playbook(&run, &lab, r#"tls-backend\.py"#, &verify);
    let (code, doc) = diagnose(&run, &book, "1");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["outcome"], "healthy", "{doc:#}");
    for name in ["port_holder", "recurl"] {
        assert_ne!(
            step(&doc, name)["verdict"],
            "fail",
            "{:#}",
            step(&doc, name)
        );
    }
    let recurl = step(&doc, "recurl");
    if recurl["verdict"] == "warn" {
        assert_eq!(recurl["finding"]["code"], "probes-disagree", "{recurl:#}");
        let cause = recurl["finding"]["cause"].as_str().unwrap();
        assert!(
            cause.contains("every URL through nginx answers as expected"),
            "{cause}"
        );
    }

    let out = dry_run(&run, &book, "1");
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("Nothing to fix"), "{}", out.all());
    assert!(!out.stdout.contains("Plan:"), "{}", out.all());
    assert_eq!(common::proc_state(tls.pid()).map(|s| s != 'Z'), Some(true));
}

/// A path fixer cannot send is refused when the playbook is read (exit 2, file:line:key), so it
/// never reaches a probe; that the check itself calls such a probe "could not run" (never stuck)
/// is tested in tests/holder_check.rs, where no playbook validation stands in front of it.
#[test]
fn a_probe_fixer_cannot_send_is_refused_before_any_reading() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let text = fs::read_to_string(&lab.playbook).unwrap();
    let text = text.replace(
        r#"health_path = "/api/health""#,
        r#"health_path = "/api/health check""#,
    );
    let book = run.path("playbook.toml");
    fs::write(&book, text).unwrap();
    let mut cmd = run.fixer("diagnose");
    cmd.arg("--json")
        .arg("-p")
        .arg(&book)
        .args(["--timeout", "1"]);
    let out = output(cmd);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("backend.health_path") && out.stderr.contains("contains a space"),
        "{}",
        out.all()
    );
    let out = dry_run(&run, &book, "1");
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(!out.stdout.contains("Plan:"), "{}", out.all());
}

#[test]
fn of_two_listeners_on_one_address_only_the_stuck_one_is_named_and_removed() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let port = lab.backend_port;
    let healthy = backend(
        &run,
        "reuse-ok.py",
        &["--port".into(), port.to_string(), "--reuse-port".into()],
    );
    assert!(wait_until(deadline(20.0), || answers(
        port,
        Duration::from_secs(2)
    )));
    let stuck_script = run.script("reuse-stuck.py", STUCK_REUSE);
    let stuck = Owned::python(&stuck_script, &[port.to_string()]);
    assert!(
        wait_until(deadline(10.0), || fix_support::listeners(port)
            .contains(&stuck.pid())),
        "the stuck listener did not start"
    );
    // Users: some requests are answered, the ones the kernel hands to the stuck listener wait.
    let mut waiting = Vec::new();
    assert!(
        wait_until(deadline(20.0), || {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                let _ = s.write_all(b"GET /api/health HTTP/1.0\r\n\r\n");
                let mut b = [0u8; 16];
                if s.read(&mut b).is_err() {
                    waiting.push(s);
                }
            }
            waiting.len() >= 2
        }),
        "no request ever reached the stuck listener"
    );
    let book = playbook(&run, &lab, r#"reuse-(ok|stuck)\.py"#, &direct_url(&lab));
    let (code, doc) = diagnose(&run, &book, "1");
    assert_eq!(code, 1, "{doc:#}");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["finding"]["code"], "holder-stuck", "{holder:#}");
    assert_eq!(holder["details"]["pid"], stuck.pid(), "{holder:#}");
    assert_eq!(holder["details"]["pids"], serde_json::json!([stuck.pid()]));
    assert_eq!(holder["details"]["others_accept"], true, "{holder:#}");
    let cause = holder["finding"]["cause"].as_str().unwrap();
    assert!(cause.contains("one of 2 listening sockets"), "{cause}");
    assert!(
        !cause.contains(&format!("PID {}", healthy.pid())),
        "{cause}"
    );

    let out = dry_run(&run, &book, "1");
    let plan = out
        .stdout
        .split_once("Plan: kill-holder")
        .unwrap_or_else(|| panic!("no kill planned: {}", out.all()))
        .1;
    assert!(
        plan.contains(&format!("PID {}", stuck.pid())),
        "{}",
        out.all()
    );
    assert!(
        !plan.contains(&format!("PID {}", healthy.pid())),
        "{}",
        out.all()
    );
    assert!(!plan.contains("Plan: restart-backend"), "{}", out.all());
    assert!(run.audit().is_empty());

    // And for real: the stuck listener goes, the healthy one stays and keeps serving.
    let stuck_id = common::identity(stuck.pid()).unwrap();
    let mut cmd = run.fixer("fix");
    cmd.arg("-p")
        .arg(&book)
        .arg("--audit-log")
        .arg(&run.audit)
        .args(["--timeout", "1", "--yes", "--grace", "5", "--wait", "20"]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all()
            .contains("still served by the other listeners, as planned"),
        "{}",
        out.all()
    );
    assert!(
        wait_until(deadline(10.0), || common::gone(stuck_id)),
        "{}",
        out.all()
    );
    assert_eq!(
        common::proc_state(healthy.pid()).map(|s| s != 'Z'),
        Some(true),
        "the healthy listener was touched: {}",
        out.all()
    );
    assert!(answers(port, Duration::from_secs(2)));
    drop(waiting);
}

#[test]
fn could_not_run_is_never_healthy() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let verify = format!(
        "{}[[verify]]\nurl = \"http://localhost:{p}/\"\nvia = \"127.0.0.1\"\nexpect = [200]\n\
         [verify.auth]\nuser = \"admin\"\npassword_env = \"FIXER_TEST_NO_SUCH_PASSWORD\"\n\
         [[verify]]\nurl = \"http://localhost:{p}/\"\nvia = \"127.0.0.1\"\nexpect = [200]\n\
         [verify.auth]\nuser = \"admin\"\npassword_file = {missing:?}\n",
        nginx_url(&lab),
        p = lab.http_port,
        missing = run.path("no-such-password").display().to_string(),
    );
    let book = playbook(&run, &lab, "", &verify);

    let (code, doc) = diagnose(&run, &book, "1");
    assert_eq!(code, 3, "{doc:#}");
    assert_eq!(doc["healthy"], false);
    assert_eq!(doc["outcome"], "incomplete");
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(doc["could_not_run"][0]["step"], "recurl", "{doc:#}");

    let mut human = run.fixer("diagnose");
    human.arg("-p").arg(&book).args(["--timeout", "1"]);
    let out = output(human);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(!out.stdout.contains("Healthy:"), "{}", out.all());
    let last = out.last_line();
    assert!(last.starts_with("Incomplete: "), "{last}");
    assert!(
        last.contains("FIXER_TEST_NO_SUCH_PASSWORD") || last.contains("no-such-password"),
        "names what could not run: {last}"
    );

    let report = run.path("report.md");
    let mut md = run.fixer("diagnose");
    md.arg("-p")
        .arg(&book)
        .args(["--timeout", "1", "--report"])
        .arg(&report);
    assert_eq!(output(md).code, 3);
    let text = fs::read_to_string(&report).unwrap();
    assert!(text.contains("- **Outcome:** incomplete"), "{text}");

    let out = dry_run(&run, &book, "1");
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(!out.stdout.contains("Nothing to fix"), "{}", out.all());
    assert!(
        out.stdout.contains("Incomplete: nothing was changed"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("recurl"), "{}", out.all());
}

#[test]
fn a_backend_nginx_gives_up_on_but_that_accepts_is_slow_not_stuck() {
    // The lab's nginx waits 1 s (proxy_read_timeout 1s); this backend needs 5 s. nginx gives up
    // (504), but the holder accepts fixer's connections: slow, not stuck, and never killed.
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let port = lab.backend_port.to_string();
    let slow = backend(
        &run,
        "slow-backend.py",
        &["--port".into(), port, "--delay".into(), "5".into()],
    );
    assert!(
        wait_until(deadline(20.0), || fix_support::listeners(lab.backend_port)
            .contains(&slow.pid())),
        "the slow backend never listened"
    );
    let book = playbook(&run, &lab, r#"slow-backend\.py"#, &nginx_url(&lab));
    let (code, doc) = diagnose(&run, &book, "2");
    assert_eq!(code, 1, "{doc:#}");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["finding"]["code"], "holder-slow", "{holder:#}");
    let cause = holder["finding"]["cause"].as_str().unwrap();
    assert!(cause.contains("nginx gives up on it"), "{cause}");
    assert!(cause.contains("slow, not shown stuck"), "{cause}");
    let evidence = holder["evidence"].to_string();
    assert!(
        evidence.contains("nginx answered 504 Gateway Timeout")
            && evidence.contains("at least as long as nginx does (1 s, proxy_read_timeout at "),
        "{evidence}"
    );
    let out = dry_run(&run, &book, "2");
    assert!(!out.all().contains("Plan: kill-holder"), "{}", out.all());
    assert!(run.audit().is_empty(), "{:?}", run.audit());
}
