//! Holders remembered from the last run are looked at first, and count only when they hold
//! the socket now. One test per binary: it sets its own FIXER_STATE_DIR.

mod sys_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use fixer::sys::holders::{find_holders_remembered, remembered};
use fixer::sys::net::tcp_listeners;
use sys_support::{marker, wait_until, Spawned};

const LISTEN: &str = r#"
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;

fn listener_inode(port: u16) -> u64 {
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    wait_until("the listener", || {
        tcp_listeners()
            .unwrap()
            .into_iter()
            .find(|s| s.local == local)
    })
    .inode
}

#[test]
fn the_last_holder_is_found_without_a_full_scan_and_a_stale_one_is_not_trusted() {
    let state = tempfile::tempdir().unwrap();
    std::env::set_var("FIXER_STATE_DIR", state.path());
    let server = Spawned::python(LISTEN, &[&marker("remembered")]);
    let port = server.numbers()[0] as u16;
    let inode = listener_inode(port);
    let key = format!("backend 127.0.0.1:{port}");

    // No likely pids: the first run has to read every process.
    let first = find_holders_remembered(&key, &[inode], &[]);
    assert_eq!(first.holders[&inode], vec![server.pid()]);
    assert!(first.full_scan);
    remembered::save();

    let second = find_holders_remembered(&key, &[inode], &[]);
    assert_eq!(second.holders[&inode], vec![server.pid()]);
    assert!(!second.full_scan, "the remembered pid answered");

    // Another socket on the same key: the remembered pid does not hold it, so it is not
    // reported, and the search goes on to read everything.
    let other = Spawned::python(LISTEN, &[&marker("remembered-other")]);
    let other_inode = listener_inode(other.numbers()[0] as u16);
    let third = find_holders_remembered(&key, &[other_inode], &[]);
    assert_eq!(third.holders[&other_inode], vec![other.pid()]);
    assert!(third.full_scan);
    assert!(!third.holders.values().flatten().any(|p| *p == server.pid()));
}
