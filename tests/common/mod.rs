//! Helpers shared by the integration tests: the real binary, labs in temp dirs, polling with a
//! deadline, and a tiny HTTP GET over std's TcpStream (so tests do not depend on fixer's own
//! probe code). Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code, clippy::print_stderr)]

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

pub mod nginx;

use fixer::lab::{Fault, Lab};

/// The fixer binary built for these tests.
pub fn fixer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fixer"))
}

/// A lab with `fault` in a fresh temp dir. Bind as `let (_dir, lab) = lab(..)` so the lab is
/// dropped (torn down) before its directory.
pub fn lab(fault: Fault) -> (tempfile::TempDir, Lab) {
    let dir = tempfile::Builder::new()
        .prefix("fixer-lab-")
        .tempdir()
        .expect("creating a temp dir");
    let started = Instant::now();
    let lab = Lab::up(dir.path(), fault).unwrap_or_else(|e| panic!("lab up {fault}: {e:#}"));
    eprintln!(
        "lab {fault} up in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    (dir, lab)
}

/// `secs` from now.
pub fn deadline(secs: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(secs)
}

/// Calls `cond` every 20 ms until it is true (→ true) or the deadline passes (→ false).
pub fn wait_until(deadline: Instant, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The status code of `GET path` on 127.0.0.1:port with `Host: localhost`, optional basic
/// auth, and `timeout` for connecting, writing and reading.
pub fn http_get(
    port: u16,
    path: &str,
    auth: Option<(&str, &str)>,
    timeout: Duration,
) -> io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n");
    if let Some((user, password)) = auth {
        req += &format!(
            "Authorization: Basic {}\r\n",
            base64(&format!("{user}:{password}"))
        );
    }
    req += "Connection: close\r\n\r\n";
    s.write_all(req.as_bytes())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad response {line:?}")))
}

/// `http_get` without auth and a 3 s timeout.
pub fn status(port: u16, path: &str) -> io::Result<u16> {
    http_get(port, path, None, Duration::from_secs(3))
}

fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Can a new listener bind 127.0.0.1:port right now?
pub fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The fields of /proc/PID/stat after the command name; index 0 is the state (field 3).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(String::from).collect())
}

/// The /proc state letter (R, S, T, Z, ...).
pub fn proc_state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// (pid, start time) of the process, to tell it from a later one with a reused pid.
pub fn identity(pid: i32) -> Option<(i32, u64)> {
    Some((pid, stat_fields(pid)?.get(19)?.parse().ok()?))
}

/// Gone: no such process, a different one under that pid, or a zombie (already dead).
pub fn gone((pid, ticks): (i32, u64)) -> bool {
    match identity(pid) {
        Some((_, t)) if t == ticks => proc_state(pid) == Some('Z'),
        _ => true,
    }
}

/// Every process the lab runs right now, nginx workers included.
pub fn lab_processes(lab: &Lab) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = lab
        .processes
        .iter()
        .filter_map(|p| identity(p.pid))
        .collect();
    let parents: Vec<i32> = out.iter().map(|p| p.0).collect();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let ppid = stat_fields(pid).and_then(|f| f.get(1)?.parse::<i32>().ok());
        if ppid.is_some_and(|pp| parents.contains(&pp)) {
            out.extend(identity(pid));
        }
    }
    out
}

/// Tears the lab down and checks what a user would: its ports are free and its processes
/// are gone.
pub fn down_and_check(lab: &mut Lab) {
    let procs = lab_processes(lab);
    let ports = [
        lab.http_port,
        lab.https_port,
        lab.backend_port,
        lab.upstream_port,
    ];
    let started = Instant::now();
    lab.down().unwrap_or_else(|e| panic!("lab down: {e:#}"));
    eprintln!(
        "lab {} down in {:.0} ms",
        lab.fault,
        started.elapsed().as_secs_f64() * 1000.0
    );
    for p in procs {
        assert!(gone(p), "lab process {} still running after down", p.0);
    }
    for port in ports {
        assert!(port_free(port), "port {port} still taken after down");
    }
}

/// `fixer ARGS --timeout 1 -p PLAYBOOK` on a lab, with its state (and so the fix lock) in the
/// lab's own directory so that tests running side by side do not wait for each other; the
/// exit code and stdout followed by stderr.
pub fn run_lab(lab: &Lab, args: &[&str]) -> (i32, String) {
    let out = lab_command(lab, args).output().expect("running fixer");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text += &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The command [`run_lab`] runs, for a test that sets up its stdio itself.
pub fn lab_command(lab: &Lab, args: &[&str]) -> Command {
    let mut cmd = fixer();
    cmd.env("FIXER_STATE_DIR", lab.dir.join("fixer-state"))
        .env("NO_COLOR", "1")
        .args(args)
        .args(["--timeout", "1", "-p"])
        .arg(&lab.playbook);
    cmd
}

/// The step named `name` in a `--json` document.
pub fn step<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["steps"]
        .as_array()
        .expect("steps is an array")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {doc:#}"))
}

/// The fixer binary in a fresh world-readable temp dir, for running it as another user: the
/// checkout's target dir may sit under a 0700 directory (/root/src, a `mktemp -d`). Hard-linked
/// when the file system allows, else copied. Keep the dir alive while the binary runs.
pub fn fixer_for_anyone() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("fixer-bin-")
        .tempdir()
        .expect("creating a temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("fixer");
    let built = env!("CARGO_BIN_EXE_fixer");
    if fs::hard_link(built, &path).is_err() {
        fs::copy(built, &path).expect("copying the fixer binary");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    (dir, path)
}
