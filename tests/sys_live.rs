//! sys against real processes this test starts: listeners, pre-fork sharers, a prompt stuck
//! on stdin, a stopped process, an accept queue nobody drains.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod sys_support;

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};

use fixer::sys::holders::{find_holders, likely_pids};
use fixer::sys::net::{tcp_listeners, unix_listeners, unix_sockets, TcpSocket, TcpState};
use fixer::sys::process::{FdTarget, ProcessInfo};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sys_support::{marker, wait_until, Spawned};

const LISTEN: &str = r#"
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;

/// A master that listens and forks two workers sharing the socket, like a pre-fork server.
const PREFORK: &str = r#"
import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
workers = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        time.sleep(600); os._exit(0)
    workers.append(pid)
print(s.getsockname()[1], *workers, flush=True)
time.sleep(600)
"#;

const PROMPT: &str = r#"
print("ready", flush=True)
input()
"#;

fn v4_listener(port: u16) -> TcpSocket {
    let local = (IpAddr::V4(Ipv4Addr::LOCALHOST), port).into();
    wait_until("the listener in /proc/net/tcp", || {
        tcp_listeners()
            .unwrap()
            .into_iter()
            .find(|s| s.local == local && s.state == TcpState::Listen)
    })
}

fn start_listener(name: &str) -> (Spawned, TcpSocket) {
    let proc = Spawned::python(LISTEN, &[&marker(name)]);
    let port = proc.numbers()[0] as u16;
    let sock = v4_listener(port);
    (proc, sock)
}

#[test]
fn listener_holder_found_likely_first_and_by_full_scan() {
    let (proc, sock) = start_listener("holder");
    let likely = find_holders(&[sock.inode], &[proc.pid()]);
    assert_eq!(likely.holders[&sock.inode], [proc.pid()]);
    assert!(!likely.full_scan, "the likely pid was enough");

    let full = find_holders(&[sock.inode], &[]);
    assert!(full.full_scan);
    assert_eq!(full.holders[&sock.inode], [proc.pid()]);
    assert!(full.scanned > likely.scanned);
}

#[test]
fn likely_pids_match_the_full_command_line() {
    let word = marker("likely");
    let proc = Spawned::python(LISTEN, &[&word]);
    proc.line();
    let re = regex::Regex::new(&regex::escape(&word)).unwrap();
    assert_eq!(likely_pids(Some(&re)), [proc.pid()]);
    let by_name = regex::Regex::new("^python3$").unwrap();
    assert!(
        !likely_pids(Some(&by_name)).contains(&proc.pid()),
        "the name alone never matches"
    );
}

#[test]
fn every_prefork_sharer_is_found_from_any_one_of_them() {
    let master = Spawned::python(PREFORK, &[&marker("prefork")]);
    let nums = master.numbers();
    let (port, workers) = (nums[0] as u16, [nums[1] as i32, nums[2] as i32]);
    let sock = v4_listener(port);
    let mut all = vec![master.pid(), workers[0], workers[1]];
    all.sort_unstable();

    for likely in [vec![master.pid()], vec![workers[1]], vec![]] {
        let scan = find_holders(&[sock.inode], &likely);
        assert_eq!(scan.holders[&sock.inode], all, "likely = {likely:?}");
        assert_eq!(scan.full_scan, likely.is_empty());
    }
}

/// A wrapper (what the matcher finds) whose child, with another command line, holds the socket.
const WRAPPER: &str = r#"
import subprocess, sys, time
inner = 'import os, socket, time\ns = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)\nprint(s.getsockname()[1], os.getpid(), flush=True)\ntime.sleep(600)'
subprocess.Popen([sys.executable, "-c", inner])
time.sleep(600)
"#;

#[test]
fn holder_below_a_matched_wrapper_needs_no_full_scan() {
    let wrapper = Spawned::python(WRAPPER, &[&marker("wrapper")]);
    let nums = wrapper.numbers();
    let (port, child) = (nums[0] as u16, nums[1] as i32);
    let sock = v4_listener(port);
    let scan = find_holders(&[sock.inode], &[wrapper.pid()]);
    assert_eq!(scan.holders[&sock.inode], [child]);
    assert!(!scan.full_scan);
}

#[test]
fn listening_server_sleeps() {
    let (proc, _) = start_listener("sleeps");
    // Just after it printed its port it may still be running on a busy machine: it goes to
    // sleep in accept() soon after, and that is the state this test is about.
    let info = wait_until("the listener asleep in accept()", || {
        ProcessInfo::read(proc.pid())
            .ok()
            .filter(|i| i.state.letter() == 'S')
    });
    assert_eq!(info.state.letter(), 'S');
    assert!(!info.blocked_reading_stdin());
    let cmdline = info.cmdline_str();
    assert!(
        cmdline.contains("python3 -c ") && cmdline.contains("fixer-test-sleeps"),
        "{cmdline}"
    );
    assert_eq!(info.stdin, FdTarget::Pipe);
    assert!(!info.kernel_thread);
    assert!(
        info.age_secs() < 60.0,
        "started just now: {}",
        info.age_secs()
    );
}

#[test]
fn accept_queue_grows_when_nobody_accepts() {
    let (_proc, sock) = start_listener("backlog");
    assert_eq!(
        (sock.rx_queue, sock.tx_queue),
        (0, 0),
        "tx_queue is not the backlog"
    );
    let _clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(sock.local).unwrap())
        .collect();
    let queued = wait_until("three queued connections", || {
        let now = v4_listener(sock.local.port());
        (now.rx_queue >= 3).then_some(now.rx_queue)
    });
    assert_eq!(queued, 3);
}

#[test]
fn prompt_on_a_pipe_blocks_reading_stdin() {
    let proc = Spawned::python(PROMPT, &[]);
    assert_eq!(proc.line(), "ready");
    let info = wait_until("the prompt to block", || {
        let info = ProcessInfo::read(proc.pid()).ok()?;
        info.blocked_reading_stdin().then_some(info)
    });
    assert_eq!(info.stdin, FdTarget::Pipe);
    assert_eq!(
        info.syscall.as_ref().map(|s| (s.name.as_str(), s.arg0)),
        Some(("read", 0))
    );
    assert!(proc.stdin.is_some(), "the writing end stays open");
}

#[test]
fn prompt_on_a_fifo_blocks_reading_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("prompt.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Read-write, so opening does not wait for a writer and the fifo never sees EOF.
    let end = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let proc = Spawned::python_with_stdin(PROMPT, &[], end.try_clone().unwrap().into());
    assert_eq!(proc.line(), "ready");
    let info = wait_until("the prompt to block", || {
        let info = ProcessInfo::read(proc.pid()).ok()?;
        info.blocked_reading_stdin().then_some(info)
    });
    assert_eq!(info.stdin, FdTarget::Fifo(fifo.display().to_string()));
}

#[test]
fn prompt_on_a_terminal_blocks_reading_stdin() {
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux, Debian package bsdutils) is missing: run scripts/setup"
    );
    let inner = "python3 -c 'import os; print(os.getpid(), flush=True); input()'";
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", inner, "/dev/null"])
        .stdin(Stdio::piped());
    let mut term = Spawned::spawn(&mut cmd);
    let pid = term.numbers()[0] as i32;
    term.also_kill.push(pid);
    let info = wait_until("the prompt to block", || {
        let info = ProcessInfo::read(pid).ok()?;
        info.blocked_reading_stdin().then_some(info)
    });
    assert!(
        matches!(&info.stdin, FdTarget::Tty(p) if p.starts_with("/dev/pts/")),
        "{:?}",
        info.stdin
    );
}

#[test]
fn stopped_process_shows_t() {
    let (proc, _) = start_listener("stopped");
    kill(Pid::from_raw(proc.pid()), Signal::SIGSTOP).unwrap();
    let info = wait_until("state T", || {
        let info = ProcessInfo::read(proc.pid()).ok()?;
        info.state.is_stopped().then_some(info)
    });
    assert!(!info.blocked_reading_stdin());
}

#[test]
fn unix_listener_and_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    let script = format!(
        "import socket, time\ns = socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(4)\nprint(1, flush=True)\ntime.sleep(600)\n",
        path.display().to_string()
    );
    let proc = Spawned::python(&script, &[]);
    proc.line();
    let want = path.display().to_string();
    let sock = unix_sockets()
        .unwrap()
        .into_iter()
        .find(|s| s.path.as_deref() == Some(want.as_str()));
    let sock = sock.expect("the unix socket is listed");
    assert!(sock.listening);
    assert_eq!(
        find_holders(&[sock.inode], &[proc.pid()]).holders[&sock.inode],
        [proc.pid()]
    );
}

/// unix_diag lists the listener with what /proc/net/unix cannot show: the connections waiting
/// in its accept queue and the backlog limit (connect() fails with EAGAIN beyond it).
#[test]
fn unix_listener_from_the_kernel_with_its_accept_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sock");
    let script = format!(
        "import socket, time\ns = socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(7)\nprint(1, flush=True)\ntime.sleep(600)\n",
        path.display().to_string()
    );
    let proc = Spawned::python(&script, &[]);
    proc.line();
    let want = path.display().to_string();
    let waiting: Vec<std::os::unix::net::UnixStream> = (0..2)
        .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
        .collect();
    let sock = unix_listeners()
        .unwrap()
        .into_iter()
        .find(|s| s.path.as_deref() == Some(want.as_str()))
        .expect("the listener is listed");
    assert!(sock.listening);
    // Another test's sockets never show here; only the connections this test made.
    assert_eq!(
        (sock.accept_queue, sock.backlog),
        (Some(2), Some(7)),
        "{sock:?}"
    );
    // The same socket as /proc/net/unix (the fallback) lists it, beside the two connections
    // waiting in its queue, which carry its path with inode 0.
    let lines: Vec<_> = unix_sockets()
        .unwrap()
        .into_iter()
        .filter(|s| s.path.as_deref() == Some(want.as_str()))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let listening: Vec<_> = lines.iter().filter(|s| s.listening).collect();
    assert_eq!(listening.len(), 1);
    assert_eq!(listening[0].inode, sock.inode);
    // A connected (not listening) socket is never a listener.
    assert!(unix_listeners().unwrap().iter().all(|s| s.listening));
    drop(waiting);
}

#[test]
fn ipv6_loopback_listener() {
    let script = r#"
import socket, time
try:
    s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); s.listen(8)
    print(s.getsockname()[1], flush=True)
except OSError:
    print(0, flush=True)
time.sleep(600)
"#;
    let proc = Spawned::python(script, &[]);
    let port = proc.numbers()[0] as u16;
    assert_ne!(
        port, 0,
        "IPv6 loopback (::1) is unavailable here; fixer checks [::1] listeners, so enable it \
         (sysctl net.ipv6.conf.lo.disable_ipv6=0)"
    );
    let local = format!("[::1]:{port}").parse().unwrap();
    let sock = wait_until("the v6 listener", || {
        tcp_listeners()
            .unwrap()
            .into_iter()
            .find(|s| s.local == local && s.is_listening())
    });
    assert_eq!(sock.rx_queue, 0);
}
