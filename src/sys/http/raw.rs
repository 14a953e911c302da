//! A hand-written HTTP/1.0 GET over a plain TCP or unix socket, reading only the response head.
//! Used on the backend itself, to tell "refuses" from "accepts but never answers".

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{canonical_reason, connect_timeout, is_local, Failure, FailureKind, Response};
use crate::format::{io_message, secs};
use crate::pace::Pace;
use crate::sys::addr::BackendAddr;

/// The response head is read up to this size; a backend's status line and headers fit.
const MAX_HEAD: usize = 16 * 1024;

pub(crate) trait Conn: Read + Write {
    fn set_timeouts(&self, t: Duration) -> std::io::Result<()>;
}

impl Conn for TcpStream {
    fn set_timeouts(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

impl Conn for UnixStream {
    fn set_timeouts(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

pub fn get(addr: &BackendAddr, path: &str, timeout: Duration) -> Result<Response, Failure> {
    let started = Instant::now();
    let fail = |kind, message: String| Failure {
        kind,
        message,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(fail(
            FailureKind::Local,
            format!("not sent: fixer refuses the request path {path:?}"),
        ));
    }
    let (mut conn, host): (Box<dyn Conn>, String) = match addr {
        BackendAddr::Unix(p) => (
            Box::new(connect_unix(p, timeout).map_err(|(k, m)| fail(k, m))?),
            "localhost".into(),
        ),
        tcp => (
            Box::new(connect_any(&tcp.tcp_addrs(), timeout).map_err(|(k, m)| fail(k, m))?),
            tcp.to_string(),
        ),
    };
    let deadline = started + timeout;
    exchange(conn.as_mut(), path, &host, deadline, timeout)
        .map_err(|(k, m)| fail(k, m))
        .map(|head| {
            let mut resp = head;
            resp.elapsed_ms = started.elapsed().as_millis() as u64;
            resp
        })
}

pub(crate) type Fail = (FailureKind, String);

/// Tries each address in turn, as nginx does with a name that resolves to several; the first
/// that connects wins. A failure names every address tried.
pub(crate) fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Fail> {
    let mut tried = Vec::new();
    let mut last = (FailureKind::Connect, "no address to connect to".to_string());
    for addr in addrs {
        match connect_tcp(addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => {
                tried.push(format!("{addr}: {}", e.1));
                last = e;
            }
        }
    }
    if tried.len() > 1 {
        last.1 = tried.join("; ");
    }
    Err(last)
}

pub(crate) fn connect_tcp(addr: &SocketAddr, timeout: Duration) -> Result<TcpStream, Fail> {
    let limit = connect_timeout(timeout);
    TcpStream::connect_timeout(addr, limit).map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => (
            FailureKind::ConnectTimeout,
            format!("no TCP connection within {}", secs(limit)),
        ),
        _ if is_local(&e) => (FailureKind::Local, format!("not sent: {}", io_message(&e))),
        _ => (FailureKind::Connect, io_message(&e)),
    })
}

/// A unix-socket connect does not wait when the listener's accept queue is full; it fails
/// with EAGAIN. Retry until the connect timeout, then report the queue as full.
pub(crate) fn connect_unix(path: &Path, timeout: Duration) -> Result<UnixStream, Fail> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let limit = connect_timeout(timeout);
    let mut pace = Pace::backoff(Duration::from_millis(5), Duration::from_millis(100), limit);
    let io = |e: rustix::io::Errno| std::io::Error::from(e);
    let local = |e: rustix::io::Errno| {
        (
            FailureKind::Local,
            format!("not sent: {}", io_message(&io(e))),
        )
    };
    let addr = SocketAddrUnix::new(path).map_err(local)?;
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)
        .map_err(local)?;
    loop {
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => break,
            Err(rustix::io::Errno::AGAIN) if pace.wait() => {}
            Err(rustix::io::Errno::AGAIN) => {
                return Err((
                    FailureKind::ConnectTimeout,
                    format!("accept queue full: not accepted within {}", secs(limit)),
                ))
            }
            Err(e) if is_local(&io(e)) => return Err(local(e)),
            Err(e) => return Err((FailureKind::Connect, io_message(&io(e)))),
        }
    }
    let stream = UnixStream::from(fd);
    stream
        .set_nonblocking(false)
        .map_err(|e| (FailureKind::Connect, io_message(&e)))?;
    Ok(stream)
}

fn exchange(
    conn: &mut dyn Conn,
    path: &str,
    host: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<Response, Fail> {
    let stuck = || {
        (
            FailureKind::ResponseTimeout,
            format!("connected but no response in {}", secs(timeout)),
        )
    };
    let io_fail = |e: std::io::Error| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => stuck(),
        _ => (FailureKind::Protocol, io_message(&e)),
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: fixer/{}\r\nReferer: {}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        super::PROBE_REFERER
    );
    let remaining = |d: Instant| d.saturating_duration_since(Instant::now());
    conn.set_timeouts(remaining(deadline).max(Duration::from_millis(1)))
        .map_err(io_fail)?;
    conn.write_all(request.as_bytes()).map_err(io_fail)?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while find_end(&head).is_none() && head.len() < MAX_HEAD {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(stuck());
        }
        conn.set_timeouts(left).map_err(io_fail)?;
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_fail(e)),
        }
    }
    if head.is_empty() {
        return Err((
            FailureKind::Protocol,
            "connection closed without a response".into(),
        ));
    }
    parse_head(&head).map_err(|m| (FailureKind::Protocol, m))
}

fn find_end(head: &[u8]) -> Option<usize> {
    head.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses the status line and the `Server` and `Location` headers of a response head.
pub(crate) fn parse_head(head: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let status_line = lines.next().unwrap_or("");
    let not_http = || {
        format!(
            "not an HTTP response: {:?}",
            status_line.chars().take(60).collect::<String>()
        )
    };
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or("").starts_with("HTTP/") {
        return Err(not_http());
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(not_http)?;
    let reason = match parts.next().map(str::trim) {
        Some(r) if !r.is_empty() => r.chars().take(100).collect(),
        _ => canonical_reason(status).to_string(),
    };
    let (mut server, mut location) = (None, None);
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = || Some(value.trim().chars().take(256).collect::<String>());
        if name.eq_ignore_ascii_case("server") {
            server = value();
        } else if name.eq_ignore_ascii_case("location") {
            location = value();
        }
    }
    Ok(Response {
        status,
        reason,
        server,
        location,
        elapsed_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_head() {
        let r =
            parse_head(b"HTTP/1.1 302 Found\r\nserver: gunicorn\r\nLocation: /login\r\n\r\nbody")
                .unwrap();
        assert_eq!((r.status, r.reason.as_str()), (302, "Found"));
        assert_eq!(r.server.as_deref(), Some("gunicorn"));
        assert_eq!(r.location.as_deref(), Some("/login"));
    }

    #[test]
    fn fills_in_a_missing_reason() {
        let r = parse_head(b"HTTP/1.0 503\r\n\r\n").unwrap();
        assert_eq!(r.reason, "Service Unavailable");
        assert_eq!(r.server, None);
    }

    #[test]
    fn rejects_what_is_not_http() {
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.2\r\n")
            .unwrap_err()
            .contains("not an HTTP response"));
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
