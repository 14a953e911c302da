//! Listening unix sockets on a host with many connected ones (a busy php-fpm or a desktop
//! session has thousands): unix_diag with only LISTEN requested against /proc/net/unix, which
//! lists every socket. Ignored by default (it opens ~40 000 sockets); run with
//! `cargo test --release --test unix_diag_bench -- --ignored --nocapture`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod sys_support;

use std::process::Command;

use fixer::sys::net::{unix_listener_source, unix_listeners, unix_sockets, ListenerSource};
use sys_support::{median, Spawned};

/// One process holds this many socket pairs (two fds each): the hard fd limit here is 20 000.
const PAIRS: usize = 4_900;
const PROCESSES: usize = 4;

const CROWD: &str = r#"
import resource, signal, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
keep = [socket.socketpair() for _ in range(int(sys.argv[1]))]
print("ready", flush=True)
signal.pause()
"#;

#[test]
#[ignore]
fn unix_listeners_on_a_crowded_host() {
    let crowd: Vec<Spawned> = (0..PROCESSES)
        .map(|_| Spawned::python(CROWD, &[&PAIRS.to_string()]))
        .collect();
    crowd.iter().for_each(|c| {
        c.line();
    });
    let all = unix_sockets().unwrap().len();
    let listeners = unix_listeners().unwrap().len();
    assert_eq!(unix_listener_source(), Some(ListenerSource::SockDiag));
    let diag = median(9, || {
        unix_listeners().unwrap();
    });
    let proc = median(9, || {
        unix_sockets().unwrap();
    });
    let ss = median(9, || {
        Command::new("ss").args(["-Hlx"]).output().unwrap();
    });
    println!(
        "{all} unix sockets, {listeners} listening: unix_diag {diag:?}, /proc/net/unix streamed {proc:?}, `ss -Hlx` {ss:?}"
    );
    drop(crowd);
}
