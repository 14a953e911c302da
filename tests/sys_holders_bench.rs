//! How long finding one port's holder takes on a crowded host: 2 000 extra processes with
//! ~20 fds each, as in the design's measurements. Ignored by default (it forks 2 000 processes);
//! run with `cargo test --release --test sys_holders_bench -- --ignored --nocapture`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod sys_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use fixer::sys::holders::{find_holders, likely_pids};
use fixer::sys::net::tcp_listeners;
use fixer::sys::process::children_map;
use sys_support::{marker, median, wait_until, Spawned};

const CROWD: &str = r#"
import os, signal, socket, sys
keep = [socket.socketpair() for _ in range(10)]
for _ in range(int(sys.argv[1])):
    if os.fork() == 0:
        signal.pause(); os._exit(0)
print("ready", flush=True)
signal.pause()
"#;

const LISTEN: &str = r#"
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;

/// The straightforward way: std::fs, one path per link, one thread.
fn naive_scan(inode: u64) -> Vec<i32> {
    let want = format!("socket:[{inode}]");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()) {
                found.push(pid);
            }
        }
    }
    found
}

fn time_command(cmd: &str, args: &[&str]) -> Option<Duration> {
    let t = Instant::now();
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| t.elapsed())
}

#[test]
#[ignore = "forks 2 000 processes; run by hand"]
fn holder_of_one_port_among_2000_processes() {
    let crowd = Spawned::python(CROWD, &["2000"]);
    assert_eq!(crowd.line(), "ready");
    let word = marker("bench");
    let server = Spawned::python(LISTEN, &[&word]);
    let port = server.numbers()[0] as u16;
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let inode = wait_until("listener", || {
        tcp_listeners()
            .unwrap()
            .into_iter()
            .find(|s| s.local == local && s.is_listening())
    })
    .inode;
    let re = regex::Regex::new(&regex::escape(&word)).unwrap();
    let pid = [server.pid()];

    let full = find_holders(&[inode], &[]);
    assert_eq!(full.holders[&inode], pid);
    let likely = find_holders(&[inode], &likely_pids(Some(&re)));
    assert!(!likely.full_scan);
    assert_eq!(naive_scan(inode), pid);

    eprintln!("processes scanned by the full scan: {}", full.scanned);
    eprintln!("denied: {:?}", full.denied);
    eprintln!(
        "likely_pids (regex over every cmdline): {:?}",
        median(7, || drop(likely_pids(Some(&re))))
    );
    eprintln!("children_map: {:?}", median(7, || drop(children_map())));
    eprintln!(
        "find_holders, likely-first: {:?}",
        median(7, || drop(find_holders(&[inode], &pid)))
    );
    eprintln!(
        "likely_pids + find_holders: {:?}",
        median(7, || drop(find_holders(&[inode], &likely_pids(Some(&re)))))
    );
    eprintln!(
        "find_holders, full scan: {:?}",
        median(7, || drop(find_holders(&[inode], &[])))
    );
    eprintln!(
        "naive std::fs full scan: {:?}",
        median(7, || drop(naive_scan(inode)))
    );
    let port_arg = format!("-iTCP:{port}");
    eprintln!(
        "lsof {port_arg}: {:?}",
        time_command("lsof", &["-n", "-P", &port_arg])
    );
    eprintln!("ss -ltnp: {:?}", time_command("ss", &["-ltnp"]));
    drop(crowd);
    wait_until("the crowd to be reaped", || {
        (children_map().values().map(Vec::len).sum::<usize>() < 1500).then_some(())
    });
}
