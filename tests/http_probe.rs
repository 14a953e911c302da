//! `sys::http` against real servers on loopback.

mod http_support;

use std::time::{Duration, Instant};

use fixer::sys::http::{self, FailureKind, Probe};
use fixer::target::BackendAddr;
use http_support::*;

const T: Duration = Duration::from_secs(1);

fn probe(url: &str) -> Probe {
    Probe {
        url: url.into(),
        via: None,
        insecure: false,
        basic_auth: None,
        timeout: T,
    }
}

/// The latest a probe with timeout `T` may finish: its own budget plus a generous margin.
fn deadline(started: Instant) -> Instant {
    started + T + http::connect_timeout(T) + Duration::from_secs(3)
}

#[test]
fn reads_status_and_server_header() {
    let server = HttpServer::fixed("200 OK", &[("Server", "test/1.0")]);
    let r = http::get(&probe(&server.url("/api/health"))).unwrap();
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.server.as_deref(), Some("test/1.0"));
    assert!(server.requests.lock().unwrap()[0].starts_with("GET /api/health HTTP/1.1\r\n"));
}

#[test]
fn fills_in_the_reason_phrase() {
    let server = HttpServer::start(|_| "HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n".into());
    let r = http::get(&probe(&server.url("/"))).unwrap();
    assert_eq!((r.status, r.reason.as_str()), (503, "Service Unavailable"));
}

#[test]
fn does_not_follow_redirects() {
    let server = HttpServer::fixed("302 Found", &[("Location", "/login")]);
    let r = http::get(&probe(&server.url("/"))).unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.location.as_deref(), Some("/login"));
    assert_eq!(server.requests.lock().unwrap().len(), 1);
}

#[test]
fn a_peer_that_never_answers_is_a_response_timeout() {
    let server = SilentServer::start();
    let started = Instant::now();
    let f = http::get(&probe(&format!("http://{}/", server.addr))).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ResponseTimeout, "{f:?}");
    assert!(f.message.contains("no response in 1 s"), "{}", f.message);
}

#[test]
fn a_listener_nobody_accepts_from_is_a_response_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let started = Instant::now();
    let f = http::get(&probe(&url)).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ResponseTimeout, "{f:?}");
}

#[test]
fn a_closed_port_is_a_connect_failure() {
    let f = http::get(&probe(&format!("http://{}/", closed_port()))).unwrap_err();
    assert_eq!(f.kind, FailureKind::Connect);
    assert_eq!(f.message, "connection refused");
}

#[test]
fn an_unresolvable_name_is_a_dns_failure() {
    let f = http::get(&probe("http://no-such-host.invalid/")).unwrap_err();
    assert_eq!(f.kind, FailureKind::Dns, "{f:?}");
    assert!(f.message.contains("no-such-host.invalid"), "{}", f.message);
}

#[test]
fn via_keeps_the_host_header_of_the_url() {
    let server = HttpServer::start(|head| {
        let host = header(head, "host").unwrap_or("none").to_string();
        response("200 OK", &[("Server", &format!("host={host}"))])
    });
    let port = server.addr.port();
    let p = Probe {
        via: Some("127.0.0.1".into()),
        ..probe(&format!("http://fixer.test:{port}/"))
    };
    let r = http::get(&p).unwrap();
    assert_eq!(r.server, Some(format!("host=fixer.test:{port}")));
    let p = Probe {
        via: Some(server.addr.to_string()),
        ..probe("http://fixer.test/")
    };
    assert_eq!(
        http::get(&p).unwrap().server.as_deref(),
        Some("host=fixer.test")
    );
}

#[test]
fn sends_basic_auth() {
    let server = HttpServer::start(|head| match header(head, "authorization") {
        Some("Basic YWRtaW46czNjcmV0") => response("200 OK", &[]),
        _ => response("401 Unauthorized", &[]),
    });
    let url = server.url("/");
    let with = |pw: &str| Probe {
        basic_auth: Some(("admin".into(), pw.into())),
        ..probe(&url)
    };
    assert_eq!(http::get(&with("s3cret")).unwrap().status, 200);
    assert_eq!(http::get(&with("wrong")).unwrap().status, 401);
    assert_eq!(http::get(&probe(&url)).unwrap().status, 401);
}

#[test]
fn tls_via_loopback_sends_the_url_name_as_sni() {
    let tls = TlsServer::start();
    let p = |host: &str, insecure| Probe {
        via: Some("127.0.0.1".into()),
        insecure,
        ..probe(&format!("https://{host}:{}/", tls.port))
    };
    let r = http::get(&p("fixer.test", true)).unwrap();
    assert_eq!(r.status, 200);
    // s_server refuses any other server name, so the 200 above proves the SNI.
    let f = http::get(&p("other.test", true)).unwrap_err();
    assert_eq!(f.kind, FailureKind::Tls, "{f:?}");
    let f = http::get(&p("fixer.test", false)).unwrap_err();
    assert_eq!(f.kind, FailureKind::Tls, "{f:?}");
    assert!(f.message.contains("certificate"), "{}", f.message);
}

#[test]
fn tls_to_a_silent_peer_is_a_response_timeout() {
    let server = SilentServer::start();
    let p = Probe {
        insecure: true,
        ..probe(&format!("https://{}/", server.addr))
    };
    let started = Instant::now();
    let f = http::get(&p).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ResponseTimeout, "{f:?}");
    assert!(f.message.contains("TLS handshake"), "{}", f.message);
}

#[test]
fn tls_to_a_plain_http_server_is_a_tls_failure() {
    // Answers in plain text as soon as it accepts, like nginx answering 400 to a ClientHello.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let _ = stream.read(&mut [0u8; 4096]);
    });
    let p = Probe {
        insecure: true,
        ..probe(&format!("https://{addr}/"))
    };
    let f = http::get(&p).unwrap_err();
    server.join().unwrap();
    assert_eq!(f.kind, FailureKind::Tls, "{f:?}");
}

#[test]
fn a_bad_via_is_reported_not_guessed() {
    let p = Probe {
        via: Some("example.org".into()),
        ..probe("http://fixer.test/")
    };
    let f = http::get(&p).unwrap_err();
    assert_eq!(
        f.kind,
        FailureKind::Local,
        "fixer's own input, not the peer's answer"
    );
    assert!(f.message.contains("via"), "{}", f.message);
}

#[test]
fn a_path_fixer_refuses_is_never_sent_and_never_a_timeout() {
    let server = HttpServer::fixed("200 OK", &[]);
    for path in ["/api/health check", "/a\r\nX: y", "api"] {
        let f = http::raw_get(&BackendAddr::Tcp(server.addr), path, T).unwrap_err();
        assert_eq!(f.kind, FailureKind::Local, "{path:?}: {f:?}");
        assert!(!f.kind.is_no_answer());
        assert!(f.message.starts_with("not sent: "), "{}", f.message);
    }
    assert!(
        server.requests.lock().unwrap().is_empty(),
        "something was sent"
    );
}

#[test]
fn raw_get_over_tcp() {
    let server = HttpServer::fixed("200 OK", &[("Server", "gunicorn")]);
    let r = http::raw_get(&BackendAddr::Tcp(server.addr), "/api/health", T).unwrap();
    assert_eq!((r.status, r.server.as_deref()), (200, Some("gunicorn")));
    assert!(server.requests.lock().unwrap()[0].starts_with("GET /api/health HTTP/1.0\r\n"));
}

#[test]
fn raw_get_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let server = UnixServer::start(
        dir.path(),
        response("204 No Content", &[("Server", "uvicorn")]),
    );
    let r = http::raw_get(&BackendAddr::Unix(server.path.clone()), "/", T).unwrap();
    assert_eq!((r.status, r.reason.as_str()), (204, "No Content"));
    assert_eq!(r.server.as_deref(), Some("uvicorn"));
}

#[test]
fn raw_get_failures() {
    let silent = SilentServer::start();
    let started = Instant::now();
    let f = http::raw_get(&BackendAddr::Tcp(silent.addr), "/", T).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ResponseTimeout, "{f:?}");

    let f = http::raw_get(&BackendAddr::Tcp(closed_port()), "/", T).unwrap_err();
    assert_eq!(
        (f.kind, f.message.as_str()),
        (FailureKind::Connect, "connection refused")
    );

    let dir = tempfile::tempdir().unwrap();
    let missing = BackendAddr::Unix(dir.path().join("gone.sock"));
    let f = http::raw_get(&missing, "/", T).unwrap_err();
    assert_eq!(
        (f.kind, f.message.as_str()),
        (FailureKind::Connect, "no such socket file")
    );

    let closer = HttpServer::start(|_| String::new());
    let f = http::raw_get(&BackendAddr::Tcp(closer.addr), "/", T).unwrap_err();
    assert_eq!(f.kind, FailureKind::Protocol, "{f:?}");
}

/// A listener with backlog 0 whose accept queue is already full: the kernel drops further
/// SYNs, so a connect never completes.
#[test]
fn a_full_accept_queue_is_a_connect_timeout() {
    use rustix::net::{AddressFamily, SocketType};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::bind(&fd, &"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()).unwrap();
    rustix::net::listen(&fd, 0).unwrap();
    let listener = std::net::TcpListener::from(fd);
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    let started = Instant::now();
    let f = http::get(&probe(&format!("http://{addr}/"))).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ConnectTimeout, "{f:?}");
    let f = http::raw_get(&BackendAddr::Tcp(addr), "/", T).unwrap_err();
    assert_eq!(f.kind, FailureKind::ConnectTimeout, "{f:?}");
}

#[test]
fn a_full_unix_accept_queue_is_a_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let full = FullUnixSocket::new(dir.path());
    let path = full.path.clone();
    let started = Instant::now();
    let f = http::raw_get(&BackendAddr::Unix(path), "/", T).unwrap_err();
    assert!(
        Instant::now() < deadline(started),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(f.kind, FailureKind::ConnectTimeout, "{f:?}");
    assert!(f.message.contains("accept queue full"), "{}", f.message);
    drop(full);
}

/// The probe's buffers are sized for a probe, not a download, but an answer with a 60 KiB
/// header (cookies, a long policy) is still read, not reported as a broken answer.
#[test]
fn a_60_kib_response_header_is_read() {
    let big = "a".repeat(60 * 1024);
    let server = HttpServer::fixed("200 OK", &[("X-Big", big.as_str())]);
    let (r, headers) = http::get_with_headers(&probe(&server.url("/")), &["x-big"]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(headers.len(), 1, "{headers:?}");
}

/// One diagnosis's answers: the same request asked twice is sent once; a request that differs
/// in anything sent (credentials included) is sent on its own.
#[test]
fn answers_send_each_distinct_request_once() {
    let server = HttpServer::fixed("200 OK", &[]);
    let answers = http::Answers::new();
    let plain = probe(&server.url("/"));
    let with = |password: &str| Probe {
        basic_auth: Some(("admin".into(), password.into())),
        ..plain.clone()
    };
    for _ in 0..3 {
        assert_eq!(answers.get(&plain).unwrap().status, 200);
    }
    assert_eq!(server.requests.lock().unwrap().len(), 1);
    answers.get(&with("one")).unwrap();
    answers.get(&with("two")).unwrap();
    answers.get(&with("one")).unwrap();
    answers.get(&probe(&server.url("/other"))).unwrap();
    assert_eq!(server.requests.lock().unwrap().len(), 4);
    assert_eq!(answers.sent(), 4);
    // A new walk asks again.
    http::Answers::new().get(&plain).unwrap();
    assert_eq!(server.requests.lock().unwrap().len(), 5);
}
