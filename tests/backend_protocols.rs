//! Backends that do not speak plain HTTP, against the real thing: Debian's php-fpm behind
//! `fastcgi_pass`, and a TLS backend behind `proxy_pass https://`. A healthy one must be
//! diagnosed healthy and never planned for a kill; a stopped or dead one still is found.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{
    deadline, down_and_check, fixer, lab, lab_processes, port_free, proc_state, run_lab as run,
    status, step, wait_until,
};
use fixer::lab::{Fault, Lab, Role};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn diagnose_json(lab: &Lab) -> (i32, Value) {
    diagnose_with(&lab.playbook)
}

/// A playbook in `dir` for a backend on the unix socket `socket` (with `backend` lines added to
/// its `[backend]` table) behind an nginx port nothing listens on: the checks of the backend
/// itself are what these tests read.
fn unix_playbook(dir: &Path, socket: &Path, backend: &str) -> PathBuf {
    let nginx_port = common::nginx::free_ports(1)[0];
    let book = dir.join("playbook.toml");
    let text = format!(
        "[nginx]\nports = [{nginx_port}]\n[backend]\naddress = \"unix:{}\"\n{backend}\n",
        socket.display()
    );
    fs::write(&book, text).unwrap();
    book
}

/// The port_holder step shows a line starting with `probe` (the probe as fixer sent it).
fn assert_holder_evidence(doc: &Value, probe: &str) {
    assert!(
        evidence(doc, "port_holder")
            .iter()
            .any(|e| e.starts_with(probe)),
        "{:#}",
        step(doc, "port_holder")
    );
}

fn evidence(doc: &Value, name: &str) -> Vec<String> {
    step(doc, name)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

/// The backend's master (php-fpm, uWSGI) and its workers.
fn backend_family(lab: &Lab) -> Vec<i32> {
    let master = lab.pid(Role::Backend).expect("the lab runs a backend");
    let ppid = |pid: i32| {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(1)?.parse::<i32>().ok()
    };
    lab_processes(lab)
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|&pid| pid == master || ppid(pid) == Some(master))
        .collect()
}

fn signal_all(pids: &[i32], sig: Signal) {
    for &pid in pids {
        kill(Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("{sig} to {pid}: {e}"));
    }
}

#[test]
fn healthy_php_fpm_is_healthy_and_nothing_is_planned() {
    let (_dir, mut lab) = lab(Fault::FastcgiBackend);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let workers = backend_family(&lab);
    assert!(workers.len() >= 3, "a master and two workers: {workers:?}");

    let (code, doc) = diagnose_json(&lab);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["healthy"], true);
    assert_eq!(step(&doc, "upstream")["details"]["protocol"], "fastcgi");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    assert_eq!(holder["details"]["protocol"], "fastcgi");
    assert_eq!(holder["details"]["answering"], true);
    assert_eq!(
        holder["details"]["pid"].as_i64().unwrap() as i32,
        lab.pid(Role::Backend).unwrap()
    );
    // The ping path comes from the pool's own config (the playbook names none).
    let probe = format!(
        "FastCGI GET /ping (php-fpm ping) straight to 127.0.0.1:{} → 200 OK",
        lab.backend_port
    );
    assert_holder_evidence(&doc, &probe);
    // The direct verify URL is asked in FastCGI too: a management record, no script run.
    let direct = &step(&doc, "recurl")["details"]["urls"][0];
    assert_eq!(direct["route"], "backend");
    assert_eq!(direct["status"], 200, "{direct:#}");
    assert!(direct["reason"]
        .as_str()
        .unwrap()
        .starts_with("FCGI_GET_VALUES_RESULT"));

    let (code, out) = run(&lab, &["fix", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Nothing to fix"), "{out}");
    assert!(
        !out.contains("holder-stuck") && !out.contains("Plan:"),
        "{out}"
    );
    // The workers go down with the master, and the port is free again.
    down_and_check(&mut lab);
}

#[test]
fn stopped_php_fpm_is_still_found_stopped() {
    let (_dir, lab) = lab(Fault::FastcgiBackend);
    let pids = backend_family(&lab);
    signal_all(&pids, Signal::SIGSTOP);
    let all_stopped = || pids.iter().all(|&p| proc_state(p) == Some('T'));
    assert!(wait_until(deadline(5.0), all_stopped));

    let (code, doc) = diagnose_json(&lab);
    assert_eq!(doc["root_cause_code"], "holder-stopped", "{doc:#}");
    assert_eq!(code, 1);
    let (_, out) = run(&lab, &["fix", "--dry-run"]);
    assert!(out.contains("send SIGCONT"), "{out}");
    assert!(!out.contains("SIGTERM"), "{out}");
    signal_all(&pids, Signal::SIGCONT);
}

#[test]
fn dead_php_fpm_is_not_listening_and_is_started_again() {
    let (_dir, mut lab) = lab(Fault::FastcgiBackend);
    let pids = backend_family(&lab);
    let master = lab.pid(Role::Backend).unwrap();
    // SIGQUIT: php-fpm's graceful stop, which takes its workers down with it.
    signal_all(&[master], Signal::SIGQUIT);
    let gone = || {
        port_free(lab.backend_port) && pids.iter().all(|&p| proc_state(p).is_none_or(|s| s == 'Z'))
    };
    assert!(
        wait_until(deadline(10.0), gone),
        "php-fpm did not stop: {:?} free {}",
        pids.iter().map(|&p| (p, proc_state(p))).collect::<Vec<_>>(),
        port_free(lab.backend_port)
    );

    let (code, doc) = diagnose_json(&lab);
    assert_eq!(doc["root_cause_code"], "backend-not-listening", "{doc:#}");
    assert_eq!(code, 1);
    let (_, out) = run(&lab, &["fix", "--dry-run"]);
    assert!(
        out.contains("php-fpm.conf"),
        "the plan starts php-fpm again: {out}"
    );
    // Started again, it is waited for and verified in FastCGI, not HTTP.
    let audit = lab.dir.join("audit.jsonl").display().to_string();
    let (code, out) = run(
        &lab,
        &["fix", "--yes", "--wait", "20", "--audit-log", &audit],
    );
    assert!(
        out.contains("listens and FastCGI FCGI_GET_VALUES answers"),
        "{out}"
    );
    assert!(out.contains("Fixed and verified"), "{out}");
    assert_eq!(code, 0, "{out}");
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    down_and_check(&mut lab);
}

#[test]
fn verify_asks_php_fpm_in_fastcgi() {
    let (_dir, lab) = lab(Fault::FastcgiBackend);
    let (code, out) = run(&lab, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("FCGI_GET_VALUES_RESULT"), "{out}");
}

#[test]
fn healthy_uwsgi_is_healthy_and_a_stopped_one_is_found() {
    let (_dir, mut lab) = lab(Fault::UwsgiBackend);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let (code, doc) = diagnose_json(&lab);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(step(&doc, "upstream")["details"]["protocol"], "uwsgi");
    let probe = format!(
        "uwsgi GET /api/health straight to 127.0.0.1:{} → 200 OK",
        lab.backend_port
    );
    assert_holder_evidence(&doc, &probe);
    let (code, out) = run(&lab, &["fix", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Nothing to fix"), "{out}");

    let family = backend_family(&lab);
    assert!(family.len() >= 3, "a master and two workers: {family:?}");
    signal_all(&family, Signal::SIGSTOP);
    assert!(wait_until(deadline(5.0), || family
        .iter()
        .all(|&p| proc_state(p) == Some('T'))));
    let (code, doc) = diagnose_json(&lab);
    assert_eq!(doc["root_cause_code"], "holder-stopped", "{doc:#}");
    assert_eq!(code, 1);
    signal_all(&family, Signal::SIGCONT);
    down_and_check(&mut lab);
}

#[test]
fn https_backend_is_probed_over_tls_and_healthy() {
    let (_dir, mut lab) = lab(Fault::HttpsBackend);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let (code, doc) = diagnose_json(&lab);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(step(&doc, "upstream")["details"]["protocol"], "https");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    let probe = format!(
        "HTTPS GET /api/health straight to 127.0.0.1:{} → 200 OK",
        lab.backend_port
    );
    assert_holder_evidence(&doc, &probe);
    let (code, out) = run(&lab, &["fix", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Nothing to fix"), "{out}");
    down_and_check(&mut lab);
}

/// The lab's playbook with `protocol = "..."` added to `[backend]`, as an operator would write.
fn with_protocol(lab: &Lab, protocol: &str) -> PathBuf {
    let text = fs::read_to_string(&lab.playbook).unwrap();
    assert!(text.contains("\n[backend]\n"), "{text}");
    let text = text.replace(
        "\n[backend]\n",
        &format!("\n[backend]\nprotocol = \"{protocol}\"\n"),
    );
    let path = lab.dir.join(format!("playbook-{protocol}.toml"));
    fs::write(&path, text).unwrap();
    path
}

fn diagnose_with(playbook: &Path) -> (i32, Value) {
    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "1", "-p"])
        .arg(playbook)
        .output()
        .expect("running fixer");
    let text = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    (out.status.code().unwrap_or(-1), doc)
}

#[test]
fn a_protocol_fixer_does_not_speak_is_never_evidence_of_stuck() {
    let (_dir, lab) = lab(Fault::None);
    let (_, doc) = diagnose_with(&with_protocol(&lab, "grpc"));
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    assert_eq!(holder["details"]["answering"], false);
    let probe = format!(
        "gRPC connect straight to 127.0.0.1:{} → connected and accepted; fixer does not speak gRPC, so the answer was not judged",
        lab.backend_port
    );
    assert_holder_evidence(&doc, &probe);
    // The playbook and nginx disagree; the upstream step says so.
    assert!(
        evidence(&doc, "upstream")
            .iter()
            .any(|e| e.contains("speaks gRPC (playbook); nginx speaks HTTP")),
        "{:#}",
        step(&doc, "upstream")
    );
    let urls = step(&doc, "recurl")["details"]["urls"].as_array().unwrap();
    assert_eq!(urls[0]["error_kind"], "not-spoken", "{:#}", urls[0]);
    assert_eq!(urls[0]["healthy"], true);
    assert_ne!(doc["root_cause_code"], "holder-stuck", "{doc:#}");
}

#[test]
fn a_holder_that_never_accepts_is_found_whatever_the_protocol() {
    let (_dir, lab) = lab(Fault::StuckHolder);
    let (code, doc) = diagnose_with(&with_protocol(&lab, "grpc"));
    let probe = format!(
        "gRPC connect straight to 127.0.0.1:{} → connected, but the holder did not accept the connection in 1 s",
        lab.backend_port
    );
    assert_holder_evidence(&doc, &probe);
    assert_eq!(doc["root_cause_code"], "holder-stuck", "{doc:#}");
    assert_eq!(code, 1);
}

#[test]
fn a_stopped_holder_is_stopped_whatever_the_protocol() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let (code, doc) = diagnose_with(&with_protocol(&lab, "tcp"));
    assert_eq!(doc["root_cause_code"], "holder-stopped", "{doc:#}");
    assert_eq!(code, 1);
}

/// A php-fpm master started by this test, pool on a unix socket in a temp dir (Debian's
/// default layout: `listen = /run/php/php8.2-fpm.sock`). Dropping it stops the master, which
/// takes its workers down.
struct PhpFpm {
    child: std::process::Child,
    socket: PathBuf,
}

impl PhpFpm {
    fn start(dir: &Path) -> PhpFpm {
        let binary = fs::read_dir("/usr/sbin")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("php-fpm")
            })
            .expect("php-fpm is not installed: apt-get install php-fpm");
        // `$pool` expands to the pool's name, as in Debian's `listen = /run/php/$pool.sock` style.
        let socket = dir.join("www.sock");
        let conf = dir.join("php-fpm.conf");
        let d = dir.display();
        fs::write(
            &conf,
            format!(
                "[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\n\n\
                 [www]\nlisten = {d}/$pool.sock\npm = static\npm.max_children = 1\n\
                 ping.path = /fpm-ping\n"
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(binary);
        cmd.arg("-F").arg("-y").arg(&conf).arg("-p").arg(dir);
        if nix::unistd::geteuid().is_root() {
            cmd.arg("-R");
        }
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let fpm = PhpFpm { child, socket };
        // Dropped (stopped) if this fails.
        assert!(wait_until(deadline(10.0), || fpm.socket.exists()));
        fpm
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

#[test]
fn php_fpm_on_a_unix_socket_is_probed_in_fastcgi() {
    let dir = tempfile::tempdir().unwrap();
    let fpm = PhpFpm::start(dir.path());
    let book = unix_playbook(
        dir.path(),
        &fpm.socket,
        "protocol = \"fastcgi\"\nmatch = \"^php-fpm: \"",
    );
    let (_, doc) = diagnose_with(&book);
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    // The ping path is read from the pool whose `listen` ($pool expanded) is this socket.
    let probe = format!(
        "FastCGI GET /fpm-ping (php-fpm ping) straight to unix:{} → 200 OK",
        fpm.socket.display()
    );
    assert_holder_evidence(&doc, &probe);
}

/// uWSGI on a unix socket (`uwsgi_pass unix:`), probed in its own protocol over the socket and
/// found by socket inode, as php-fpm is.
#[test]
fn uwsgi_on_a_unix_socket_is_probed_in_uwsgi() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    fs::write(
        &app,
        "def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'ok']\n",
    )
    .unwrap();
    let socket = dir.path().join("uwsgi.sock");
    let mut child = std::process::Command::new("uwsgi_python3")
        .arg("--socket")
        .arg(&socket)
        .arg("--wsgi-file")
        .arg(&app)
        .args(["--master", "--processes", "1", "--die-on-term"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("uwsgi is not installed: apt-get install uwsgi-plugin-python3");
    let ready = wait_until(deadline(10.0), || socket.exists());
    let book = unix_playbook(
        dir.path(),
        &socket,
        "protocol = \"uwsgi\"\nmatch = \"uwsgi\"\nhealth_path = \"/health\"",
    );
    let doc = ready.then(|| diagnose_with(&book).1);
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let _ = child.wait();
    let doc = doc.expect("uwsgi created its socket");
    assert_eq!(step(&doc, "backend_port")["verdict"], "ok", "{doc:#}");
    let holder = step(&doc, "port_holder");
    assert_eq!(holder["verdict"], "ok", "{holder:#}");
    let probe = format!(
        "uwsgi GET /health straight to unix:{} → 200 OK",
        socket.display()
    );
    assert!(
        evidence(&doc, "port_holder")
            .iter()
            .any(|e| e.starts_with(&probe)),
        "{holder:#}"
    );
}
