//! The direct probe of a backend, in the protocol nginx itself speaks to it. A PHP-FPM pool
//! behind `fastcgi_pass` never answers an HTTP request, so probing it with HTTP would make a
//! healthy pool look like a holder that accepts and never answers. Where fixer cannot speak the
//! protocol (gRPC, SCGI, a raw stream) it only connects, and says so with
//! [`FailureKind::NotSpoken`], which is never evidence against the holder.
//!
//! Every exchange is bounded: one deadline for the whole answer and a size cap on what is read.

mod accept;
mod fastcgi;
mod fpm_status;
mod php_fpm;

pub use fpm_status::{status as fpm_status, FpmStatus};
pub use php_fpm::{pool as fpm_pool, Pool as FpmPool};
mod uwsgi;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::format::secs;
use crate::sanitize::clean;
use crate::sys::addr::{BackendAddr, Protocol};
use crate::sys::http::raw::{connect_any, connect_unix, Conn, Fail};
use crate::sys::http::{self, Failure, FailureKind, Probe, Response};

/// What the probe sends, decided before anything is sent so the evidence can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// `GET path` over plain HTTP/1.0.
    Http(String),
    /// A TLS handshake (any certificate: this proves liveness, not identity), then `GET path`.
    Https(String),
    /// A FastCGI responder request for php-fpm's `ping.path`.
    FastcgiPing(String),
    /// A FastCGI management record (FCGI_GET_VALUES), answered by any FastCGI server without
    /// running a script.
    FastcgiValues,
    /// A uwsgi request packet for `GET path`.
    Uwsgi(String),
    /// Connect only: fixer does not speak this protocol.
    Connect(Protocol),
}

/// A direct probe of one backend address.
#[derive(Debug, Clone)]
pub struct Request {
    pub addr: BackendAddr,
    pub exchange: Exchange,
    pub timeout: Duration,
}

impl Exchange {
    /// The exchange for `protocol`. `path` is the playbook's health path; for FastCGI a path
    /// other than `/` names php-fpm's `ping.path`, else `ping` (found in php-fpm's config) is
    /// used, else FCGI_GET_VALUES is sent.
    pub fn new(protocol: Protocol, path: &str, ping: Option<String>) -> Exchange {
        match protocol {
            Protocol::Http => Exchange::Http(path.to_string()),
            Protocol::Https => Exchange::Https(path.to_string()),
            Protocol::Fastcgi if path != "/" => Exchange::FastcgiPing(path.to_string()),
            Protocol::Fastcgi => ping.map_or(Exchange::FastcgiValues, Exchange::FastcgiPing),
            Protocol::Uwsgi => Exchange::Uwsgi(path.to_string()),
            p @ (Protocol::Scgi | Protocol::Grpc | Protocol::Tcp) => Exchange::Connect(p),
        }
    }

    /// What is sent, as the evidence line starts: `FastCGI GET /ping (php-fpm ping)`.
    pub fn describe(&self) -> String {
        match self {
            Exchange::Http(p) => format!("GET {p}"),
            Exchange::Https(p) => format!("HTTPS GET {p}"),
            Exchange::FastcgiPing(p) => format!("FastCGI GET {p} (php-fpm ping)"),
            Exchange::FastcgiValues => "FastCGI FCGI_GET_VALUES".into(),
            Exchange::Uwsgi(p) => format!("uwsgi GET {p}"),
            Exchange::Connect(p) => format!("{} connect", p.label()),
        }
    }
}

impl Request {
    /// Everything that makes two probes the same request, for sending each once per walk
    /// (`sys::http::Answers::once`).
    pub fn key(&self) -> String {
        format!("{} {:?} {:?}", self.addr, self.exchange, self.timeout)
    }

    /// The probe of `addr` in `protocol`. For FastCGI without a health path, php-fpm's
    /// `ping.path` is looked up in the config of the master in `holder_cmdline`.
    pub fn new(
        addr: &BackendAddr,
        protocol: Protocol,
        path: &str,
        holder_cmdline: Option<&str>,
        timeout: Duration,
    ) -> Request {
        let ping = match (protocol, path, holder_cmdline) {
            (Protocol::Fastcgi, "/", Some(cmd)) => php_fpm::ping_path(cmd, addr),
            _ => None,
        };
        Request {
            addr: addr.clone(),
            exchange: Exchange::new(protocol, path, ping),
            timeout,
        }
    }

    pub fn describe(&self) -> String {
        self.exchange.describe()
    }

    /// One evidence line: what was sent, where, and what came back.
    pub fn evidence(&self, outcome: &Result<Response, Failure>) -> String {
        let head = format!("{} straight to {}", self.describe(), self.addr);
        match (outcome, &self.exchange) {
            (Ok(r), Exchange::FastcgiValues) => {
                format!("{head} → {} in {} ms", clean(&r.reason), r.elapsed_ms)
            }
            (Ok(r), _) => format!(
                "{head} → {} {} in {} ms",
                r.status,
                clean(&r.reason),
                r.elapsed_ms
            ),
            (Err(f), _) => format!("{head} → {} ({} ms)", clean(&f.message), f.elapsed_ms),
        }
    }
}

/// How a holder that was not found stuck is described in the verdict: what the probe proved.
pub fn answers(protocol: Protocol, outcome: &Result<Response, Failure>) -> String {
    match outcome {
        Ok(_) => format!("answers {}", protocol.label()),
        Err(_) if matches!(protocol, Protocol::Scgi | Protocol::Grpc | Protocol::Tcp) => format!(
            "accepts connections (fixer does not speak {}, so the answer was not judged)",
            protocol.label()
        ),
        Err(_) => format!(
            "accepts connections, but its answer is not {}: not judged",
            protocol.label()
        ),
    }
}

/// Sends the request's exchange and reads the answer, within the request's timeout plus the
/// connect timeout.
pub fn probe(req: &Request) -> Result<Response, Failure> {
    let started = Instant::now();
    let fail = |(kind, message): Fail| Failure {
        kind,
        message,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    let timed = |mut r: Response| {
        r.elapsed_ms = started.elapsed().as_millis() as u64;
        r
    };
    let deadline = started + req.timeout;
    let session = |conn| Session {
        conn,
        deadline,
        timeout: req.timeout,
    };
    match &req.exchange {
        Exchange::Http(path) => http::raw_get(&req.addr, path, req.timeout),
        Exchange::Https(path) => https(&req.addr, path, req.timeout),
        Exchange::FastcgiPing(path) => {
            let mut conn = connect(&req.addr, req.timeout).map_err(fail)?;
            fastcgi::ping(&mut session(conn.as_mut()), path, &req.addr)
                .map(timed)
                .map_err(fail)
        }
        Exchange::FastcgiValues => {
            let mut conn = connect(&req.addr, req.timeout).map_err(fail)?;
            fastcgi::get_values(&mut session(conn.as_mut()))
                .map(timed)
                .map_err(fail)
        }
        Exchange::Uwsgi(path) => {
            let mut conn = connect(&req.addr, req.timeout).map_err(fail)?;
            uwsgi::get(&mut session(conn.as_mut()), path, &req.addr)
                .map(timed)
                .map_err(fail)
        }
        Exchange::Connect(p) => Err(fail(accept::connect_only(
            &req.addr,
            *p,
            deadline,
            req.timeout,
        ))),
    }
}

/// TLS straight to the backend's address, certificate not checked: the backend's certificate
/// is usually self-signed or names the site, not 127.0.0.1.
fn https(addr: &BackendAddr, path: &str, timeout: Duration) -> Result<Response, Failure> {
    let BackendAddr::Tcp(sock) = addr else {
        return Err(Failure {
            kind: FailureKind::NotSpoken,
            message: "fixer does not speak HTTPS over a unix socket; not probed".into(),
            elapsed_ms: 0,
        });
    };
    let outcome = http::get(&Probe {
        url: format!("https://{sock}{path}"),
        via: None,
        insecure: true,
        basic_auth: None,
        timeout,
    });
    // A handshake that failed (an old TLS version, a plain-HTTP answer) is an answer fixer could
    // not judge, not a holder that does not answer; one that timed out stays a timeout.
    outcome.map_err(|f| match f.kind {
        FailureKind::Tls => Failure {
            kind: FailureKind::NotSpoken,
            message: format!("answered, but {}", f.message),
            ..f
        },
        _ => f,
    })
}

fn connect(addr: &BackendAddr, timeout: Duration) -> Result<Box<dyn Conn>, Fail> {
    Ok(match addr {
        BackendAddr::Tcp(_) | BackendAddr::Named(_) => {
            Box::new(connect_any(&addr.tcp_addrs(), timeout)?)
        }
        BackendAddr::Unix(p) => Box::new(connect_unix(p, timeout)?),
    })
}

/// One connection to a backend, with the deadline of the whole exchange and the timeout it was
/// derived from (quoted when nothing arrived in time).
pub(super) struct Session<'a> {
    pub conn: &'a mut dyn Conn,
    pub deadline: Instant,
    pub timeout: Duration,
}

/// Writes `request` and reads until `complete` says the answer is whole, the peer closes, `cap`
/// bytes arrived, or the deadline passes. A partial answer is still an answer; nothing at all
/// by the deadline is a response timeout.
fn exchange(
    s: &mut Session<'_>,
    request: &[u8],
    cap: usize,
    complete: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, Fail> {
    let (conn, deadline, timeout) = (&mut *s.conn, s.deadline, s.timeout);
    let stuck = || {
        (
            FailureKind::ResponseTimeout,
            format!("connected but no response in {}", secs(timeout)),
        )
    };
    let io_fail = |e: std::io::Error| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => stuck(),
        _ => (FailureKind::Protocol, crate::format::io_message(&e)),
    };
    let left = || deadline.saturating_duration_since(Instant::now());
    conn.set_timeouts(left().max(Duration::from_millis(1)))
        .map_err(io_fail)?;
    conn.write_all(request).map_err(io_fail)?;
    let mut got = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while !complete(&got) && got.len() < cap {
        if left().is_zero() {
            break;
        }
        conn.set_timeouts(left()).map_err(io_fail)?;
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n.min(cap - got.len())]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if got.is_empty() => return Err(io_fail(e)),
            Err(_) => break,
        }
    }
    if got.is_empty() {
        return Err(if left().is_zero() {
            stuck()
        } else {
            (
                FailureKind::Protocol,
                "connection closed without an answer".into(),
            )
        });
    }
    Ok(got)
}

/// The `Status:` line and headers of a CGI-style answer (FastCGI's stdout): the status
/// defaults to 200, or 302 with a `Location`.
fn cgi_head(head: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(head);
    let end = text.find("\r\n\r\n").or_else(|| text.find("\n\n"));
    let Some(end) = end else {
        return Err(format!(
            "not a CGI answer: {:?}",
            text.chars().take(60).collect::<String>()
        ));
    };
    let (mut status, mut reason, mut server, mut location) = (None, None, None, None);
    for line in text[..end].lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().chars().take(256).collect::<String>();
        match name.trim().to_ascii_lowercase().as_str() {
            "status" => {
                let (code, why) = value.split_once(' ').unwrap_or((&value, ""));
                status = code.parse::<u16>().ok().filter(|s| (100..1000).contains(s));
                reason = Some(why.trim().to_string()).filter(|r| !r.is_empty());
            }
            "server" | "x-powered-by" => server = server.or(Some(value)),
            "location" => location = Some(value),
            _ => {}
        }
    }
    let status = status.unwrap_or(if location.is_some() { 302 } else { 200 });
    Ok(Response {
        status,
        reason: reason.unwrap_or_else(|| http::canonical_reason(status).to_string()),
        server,
        location,
        elapsed_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocol: Protocol, path: &str) -> Request {
        let addr = BackendAddr::parse("127.0.0.1:9000").unwrap();
        Request::new(&addr, protocol, path, None, Duration::from_secs(2))
    }

    #[test]
    fn picks_the_exchange_for_each_protocol() {
        assert_eq!(
            req(Protocol::Http, "/h").exchange,
            Exchange::Http("/h".into())
        );
        assert_eq!(
            req(Protocol::Https, "/h").exchange,
            Exchange::Https("/h".into())
        );
        assert_eq!(
            req(Protocol::Fastcgi, "/ping").exchange,
            Exchange::FastcgiPing("/ping".into())
        );
        assert_eq!(
            req(Protocol::Fastcgi, "/").exchange,
            Exchange::FastcgiValues
        );
        assert_eq!(
            req(Protocol::Grpc, "/").exchange,
            Exchange::Connect(Protocol::Grpc)
        );
        assert_eq!(
            req(Protocol::Fastcgi, "/").describe(),
            "FastCGI FCGI_GET_VALUES"
        );
    }

    #[test]
    fn reads_a_cgi_head() {
        let r = cgi_head(b"Status: 404 Not Found\r\nX-Powered-By: PHP/8.2\r\n\r\nFile not found.")
            .unwrap();
        assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"));
        assert_eq!(r.server.as_deref(), Some("PHP/8.2"));
        let ok = cgi_head(b"Content-type: text/plain\r\n\r\npong").unwrap();
        assert_eq!((ok.status, ok.reason.as_str()), (200, "OK"));
        let moved = cgi_head(b"Location: /login\n\n").unwrap();
        assert_eq!(moved.status, 302);
        assert!(cgi_head(b"garbage").is_err());
    }
}
