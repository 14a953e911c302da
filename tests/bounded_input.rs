//! Every read and wait is bounded: a FIFO or /dev/zero where fixer expects a small file, a huge
//! command line, an audit log with garbage. fixer answers within its timeout and says which
//! file and why.

mod common;
mod fix_support;
mod sys_support;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{fixer, lab, step};
use fix_support::Run;
use fixer::lab::Fault;
use sys_support::Spawned;

/// Runs `cmd` to completion, killing it and failing if it takes longer than `limit`: a hang is
/// the bug these tests look for.
fn bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while it runs, so a large output cannot block it on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn fifo(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    path.display().to_string()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_password_file_that_is_a_fifo_or_a_device_cannot_run_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (file, said) in [
        (
            fifo(dir.path(), "pw"),
            "is a FIFO (named pipe), not a regular file",
        ),
        (
            "/dev/zero".to_string(),
            "is a character device, not a regular file",
        ),
    ] {
        let book = dir.path().join("site.toml");
        fs::write(
            &book,
            format!(
                "[nginx]\nports = [9]\n[[verify]]\nurl = \"http://127.0.0.1:{port}/\"\n\
                 auth = {{ user = \"u\", password_file = \"{file}\" }}\n"
            ),
        )
        .unwrap();
        let mut cmd = fixer();
        cmd.args(["diagnose", "--json", "--timeout", "1", "-p"])
            .arg(&book);
        let out = bounded(cmd, Duration::from_secs(20));
        // Other checks may find problems on this host (3 or 1); the password one is what counts.
        assert_ne!(out.status.code(), Some(0), "{}", text(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let urls = &step(&doc, "recurl")["details"]["urls"][0];
        let error = urls["error"].as_str().unwrap();
        assert_eq!(
            error,
            format!("basic-auth password file {file} {said}; fixer uses only regular files")
        );
    }
}

#[test]
fn a_playbook_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (path, said) in [
        (fifo(dir.path(), "pb.toml"), "is a FIFO (named pipe)"),
        ("/dev/zero".to_string(), "is a character device"),
    ] {
        let mut cmd = fixer();
        cmd.args(["diagnose", "-p", &path]);
        let out = bounded(cmd, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("playbook {path} {said}, not a regular file")),
            "{err}"
        );
    }
}

#[test]
fn an_audit_log_that_is_a_fifo_stops_fix_before_it_acts() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let run = Run::new();
    let audit = fifo(run.dir.path(), "audit.fifo");
    let mut cmd = run.fixer("fix");
    cmd.arg("-p").arg(&lab.playbook).args([
        "--timeout",
        "1",
        "--wait",
        "5",
        "--yes",
        "--audit-log",
        &audit,
    ]);
    let out = bounded(cmd, Duration::from_secs(60));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(5), "{all}");
    assert!(
        all.contains(&format!(
            "audit log {audit} is a FIFO (named pipe), not a regular file"
        )),
        "{all}"
    );
    let backend = lab.pid(fixer::lab::Role::Backend).unwrap();
    assert_eq!(common::proc_state(backend), Some('T'), "nothing was done");
}

#[test]
fn fixer_log_skips_bad_lines_including_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"action\":\"kill-holder\",\"phase\":\"start\"}\n");
    bytes.extend_from_slice(b"\xff\xfe broken\n");
    bytes.extend_from_slice(b"{\"action\":\"kill-holder\",\"phase\":\"end\"}\n");
    fs::write(&log, bytes).unwrap();
    let mut cmd = fixer();
    cmd.args(["log", "--json", "-n", "5", "--audit-log"])
        .arg(&log);
    let out = bounded(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2, "{}", text(&out));
    assert!(lines[1].contains("\"end\""), "{}", text(&out));
}

/// Listens on 127.0.0.1 and answers 200; its command line is whatever it was given.
const SERVER: &str = r#"
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"); c.close()
"#;

#[test]
fn a_huge_command_line_is_cut_on_the_terminal_and_kept_whole_in_json() {
    // 15 arguments of 100 000 bytes: 1.5 MB (one argument may be at most 128 KiB).
    let arg = "a".repeat(100_000);
    let args: Vec<&str> = std::iter::repeat_n(arg.as_str(), 15).collect();
    let server = Spawned::python(SERVER, &args);
    let port = server.line();
    let backend = format!("127.0.0.1:{port}");
    let base = [
        "diagnose",
        "--timeout",
        "1",
        "--nginx-port",
        "9",
        "--backend",
    ];
    let mut cmd = fixer();
    cmd.args(base).arg(&backend).env("NO_COLOR", "1");
    let out = bounded(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let longest = stdout.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 10_000, "a {longest}-byte line was printed");
    assert!(stdout.contains("bytes in all]"), "{stdout}");

    let mut cmd = fixer();
    cmd.args(base).arg(&backend).arg("--json");
    let out = bounded(cmd, Duration::from_secs(30));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cmdline = step(&doc, "port_holder")["details"]["cmdline"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cmdline.len() > 1_500_000, "{}", cmdline.len());
}

#[test]
fn a_long_match_pattern_is_refused_not_run() {
    let pattern = "a".repeat(50_000);
    let mut cmd = fixer();
    cmd.args(["diagnose", "--backend", "127.0.0.1:1", "--match", &pattern]);
    let out = bounded(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("fixer: error: --match: the regex is 50000 bytes long; at most 1024"),
        "{err}"
    );
}
