//! The `port_holder` step against real listeners on loopback, called directly with a target
//! that no playbook validation stands in front of: even a probe that reaches the check in a
//! form fixer cannot send is never evidence against the holder.

mod http_support;

use std::net::SocketAddr;
use std::time::Duration;

use fixer::check::{backend_port, port_holder};
use fixer::step::Verdict;
use fixer::sys::net;
use fixer::target::*;
use http_support::*;

fn target(addr: SocketAddr, health_path: &str) -> Target {
    let mut t = Target::new("test", "test", Duration::from_secs(1));
    let mut backend = BackendSpec::new(BackendAddr::Tcp(addr));
    backend.health_path = health_path.into();
    t.backend = Some(backend);
    t
}

fn holder_step(t: &Target) -> fixer::step::StepResult {
    let tcp = net::tcp_listeners().unwrap();
    let (_, listening) = backend_port::run(t, &tcp, &[]);
    port_holder::run(t, &listening).0
}

#[test]
fn a_request_fixer_refuses_to_send_is_could_not_run() {
    let server = HttpServer::fixed("200 OK", &[]);
    for path in ["/api/health check", "/api/health\r\nX-Evil: 1"] {
        let r = holder_step(&target(server.addr, path));
        assert_eq!(r.verdict, Verdict::Skip, "{path:?}: {r:#?}");
        assert!(r.finding.is_none(), "{r:#?}");
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains("could not be made") && error.contains("says nothing about"),
            "{error}"
        );
    }
    // Only the accept probe's connections arrived, with nothing sent on them.
    let heads = server.requests.lock().unwrap().clone();
    assert!(heads.iter().all(String::is_empty), "{heads:?}");
}

#[test]
fn accepting_and_not_answering_in_time_is_slow_not_stuck_without_nginx_evidence() {
    let server = SilentServer::start();
    let r = holder_step(&target(server.addr, "/"));
    assert_eq!(r.verdict, Verdict::Warn, "{r:#?}");
    let f = r.finding.unwrap();
    assert_eq!(f.code.as_str(), "holder-slow");
    assert!(f.cause.contains("answers slower than 1 s"), "{}", f.cause);
    assert!(
        r.evidence.iter().any(|e| e.contains("1 accepted")),
        "{:#?}",
        r.evidence
    );
}

#[test]
fn a_healthy_holder_is_ok() {
    let server = HttpServer::fixed("200 OK", &[]);
    let r = holder_step(&target(server.addr, "/"));
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert_eq!(serde_json::to_value(&r.details).unwrap()["answering"], true);
}

#[test]
fn a_unix_socket_whose_queue_stays_full_is_stuck_and_one_that_accepts_slowly_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let full = FullUnixSocket::new(dir.path());
    let path = full.path.clone();
    let mut t = target("127.0.0.1:1".parse().unwrap(), "/");
    if let Some(b) = t.backend.as_mut() {
        b.address = BackendAddr::Unix(path.clone());
    }
    let unix = net::unix_sockets().unwrap();
    let (_, listening) = backend_port::run(&t, &[], &unix);
    let r = port_holder::run(&t, &listening).0;
    assert_eq!(r.verdict, Verdict::Fail, "{r:#?}");
    let f = r.finding.unwrap();
    assert_eq!(f.code.as_str(), "holder-stuck");
    assert!(
        f.cause.contains("its accept queue stayed full"),
        "{}",
        f.cause
    );
    drop(full);

    // A unix backend that takes the connection and answers late is slow, not stuck.
    let slow = UnixListenerThatHolds::start(dir.path());
    if let Some(b) = t.backend.as_mut() {
        b.address = BackendAddr::Unix(slow.path.clone());
    }
    let unix = net::unix_sockets().unwrap();
    let (_, listening) = backend_port::run(&t, &[], &unix);
    let r = port_holder::run(&t, &listening).0;
    assert_eq!(r.verdict, Verdict::Warn, "{r:#?}");
    assert_eq!(r.finding.unwrap().code.as_str(), "holder-slow");
}

/// Accepts unix connections and keeps them without a word.
struct UnixListenerThatHolds {
    path: std::path::PathBuf,
    _thread: std::thread::JoinHandle<()>,
}

impl UnixListenerThatHolds {
    fn start(dir: &std::path::Path) -> Self {
        let path = dir.join("holds.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().take(4) {
                held.extend(s.ok());
            }
        });
        UnixListenerThatHolds {
            path,
            _thread: thread,
        }
    }
}

/// A socket file removed while its listener lives on (a tmp cleaner, a second instance that
/// unlinked it): the kernel still lists the listener under the path, but nginx's connect()
/// gets ENOENT. Listed is not reachable.
#[test]
fn a_unix_listener_whose_file_was_removed_is_not_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut t = target("127.0.0.1:1".parse().unwrap(), "/");
    if let Some(b) = t.backend.as_mut() {
        b.address = BackendAddr::Unix(path.clone());
    }
    let (r, listening) = backend_port::run(&t, &[], &net::unix_listeners().unwrap());
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert_eq!(listening.unix.len(), 1);
    std::fs::remove_file(&path).unwrap();
    let (r, listening) = backend_port::run(&t, &[], &net::unix_listeners().unwrap());
    assert_eq!(r.verdict, Verdict::Fail, "{r:#?}");
    let f = r.finding.unwrap();
    assert_eq!(f.code.as_str(), "backend-not-listening");
    assert!(
        f.cause.contains("still listens") && f.cause.contains("the socket file was removed"),
        "{}",
        f.cause
    );
    assert!(listening.is_empty());
    drop(listener);
    // A regular file where the socket should be is named as such.
    std::fs::write(&path, "").unwrap();
    let (r, _) = backend_port::run(&t, &[], &net::unix_listeners().unwrap());
    let cause = r.finding.unwrap().cause;
    assert!(
        cause.contains("gone.sock exists but is not a socket (mode 06"),
        "{cause}"
    );
}
