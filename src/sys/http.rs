//! HTTP probes with hard timeouts: through nginx with a chosen Host/SNI (like `curl --resolve`)
//! or straight to a backend, including one on a unix socket.
//!
//! Text in a [`Response`] or [`Failure`] comes from the wire; pass it through
//! [`crate::sanitize::clean`] before it reaches a terminal.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Serialize;
use ureq::http::{HeaderMap, StatusCode, Uri};
use ureq::tls::TlsConfig;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, NextTimeout, RustlsConnector, TcpConnector, Transport,
};

use crate::sys::addr::BackendAddr;

mod answers;
pub(crate) mod raw;

pub use answers::Answers;

/// Sent as `Referer` with every probe. nginx writes a request's Referer into its error-log lines
/// (`referrer: "fixer:probe"`), so the error_log step can leave out errors fixer caused itself.
pub const PROBE_REFERER: &str = "fixer:probe";

#[derive(Debug, Clone)]
pub struct Probe {
    pub url: String,
    /// Connect to this IP (or IP:port) instead of resolving the URL's host.
    pub via: Option<String>,
    pub insecure: bool,
    /// `(user, password)`; the password never leaves this struct.
    pub basic_auth: Option<(String, String)>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub server: Option<String>,
    pub location: Option<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Nothing accepted the connection (refused, unreachable).
    Connect,
    /// The TCP connection did not complete in time (e.g. accept queue full).
    ConnectTimeout,
    /// Connected and sent, but no response arrived in time: the peer is slow or stuck.
    ResponseTimeout,
    Tls,
    Dns,
    Protocol,
    /// fixer could not make or send the request itself (a path it refuses, no file descriptors
    /// or ports left, a permission): nothing reached the peer, so nothing is known about it.
    Local,
    /// Connected, but the answer was not judged: the backend speaks a protocol fixer does not
    /// (gRPC, SCGI, a raw stream), or answered in another protocol than nginx's config says.
    /// Never evidence that the backend is stuck.
    NotSpoken,
}

impl FailureKind {
    /// The kebab-case name used in JSON details.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::ConnectTimeout => "connect-timeout",
            FailureKind::ResponseTimeout => "response-timeout",
            FailureKind::Tls => "tls",
            FailureKind::Dns => "dns",
            FailureKind::Protocol => "protocol",
            FailureKind::Local => "local",
            FailureKind::NotSpoken => "not-spoken",
        }
    }

    /// The only failure that says something about the peer's health: it took the request and
    /// did not answer in time. Refused, unreachable, a TLS or protocol mismatch, and failures of
    /// fixer's own are no evidence that a process is stuck.
    pub fn is_no_answer(self) -> bool {
        self == FailureKind::ResponseTimeout
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub elapsed_ms: u64,
}

/// The parts of a probe URL fixer routes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    pub https: bool,
    /// Host without IPv6 brackets.
    pub host: String,
    /// Explicit port, or 80/443 from the scheme.
    pub port: u16,
}

impl UrlParts {
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("URL {url:?} must start with http:// or https://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("URL {url:?} has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(UrlParts {
            https,
            host: host.to_string(),
            port,
        })
    }

    /// The addresses a probe connects to: `via` (IP or IP:port, the port defaulting to the
    /// URL's), else every address the URL's host resolves to (an IP literal is itself).
    pub fn connect_addrs(
        &self,
        via: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, String> {
        match via {
            Some(via) => parse_via(via, self.port).map(|a| vec![a]),
            None => Ok(crate::sys::resolve::resolve(&self.host, timeout)?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, self.port))
                .collect()),
        }
    }
}

/// Parses `via`: `IP`, `IP:port` or `[v6]:port`.
pub fn parse_via(via: &str, default_port: u16) -> Result<SocketAddr, String> {
    let via = via.trim();
    if let Ok(addr) = via.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = via.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| format!("via must be an IP address or IP:port, got {via:?}"))
}

/// How long a probe waits for the TCP connection and TLS handshake.
use crate::format::{io_message, secs};

pub fn connect_timeout(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(3))
}

/// The standard reason phrase of `status`, or `""` for an unknown one.
pub fn canonical_reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// One HTTP GET, redirects not followed. Finishes within `timeout` plus the connect timeout.
pub fn get(probe: &Probe) -> Result<Response, Failure> {
    get_with_headers(probe, &[]).map(|(r, _)| r)
}

/// [`get`], also returning the answer's `names` headers that were present (lowercase names,
/// values cut like every header), for the checks that judge headers.
pub fn get_with_headers(
    probe: &Probe,
    names: &[&str],
) -> Result<(Response, Vec<(String, String)>), Failure> {
    fetch(probe).map(|(r, all)| (r, only(all, names)))
}

/// The headers among `all` that `names` asks for, in the order asked.
fn only(all: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|n| {
            let n = n.to_ascii_lowercase();
            all.iter().find(|(k, _)| *k == n).cloned()
        })
        .collect()
}

/// One GET with every answer header (lowercase names, values cut). ureq refuses a header
/// block over 64 KiB, so what is kept is bounded.
fn fetch(probe: &Probe) -> Result<(Response, Vec<(String, String)>), Failure> {
    let started = Instant::now();
    let fail = |kind, message: String| Failure {
        kind,
        message,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    let url = UrlParts::parse(&probe.url).map_err(|m| fail(FailureKind::Local, m))?;
    let via = match &probe.via {
        Some(v) => Some(parse_via(v, url.port).map_err(|m| fail(FailureKind::Local, m))?),
        None => None,
    };
    let stage = Arc::new(AtomicU8::new(STAGE_NONE));
    let agent = agent(probe, via, &stage);
    let mut request = agent.get(&probe.url).header("Referer", PROBE_REFERER);
    if let Some((user, password)) = &probe.basic_auth {
        request = request.header("Authorization", basic_auth(user, password));
    }
    match request.call() {
        Ok(resp) => {
            let all = resp
                .headers()
                .keys()
                .filter_map(|k| Some((k.as_str().to_string(), header(resp.headers(), k.as_str())?)))
                .collect();
            let response = Response {
                status: resp.status().as_u16(),
                reason: canonical_reason(resp.status().as_u16()).to_string(),
                server: header(resp.headers(), "server"),
                location: header(resp.headers(), "location"),
                elapsed_ms: started.elapsed().as_millis() as u64,
            };
            Ok((response, all))
        }
        Err(e) => {
            let (kind, message) = classify(e, stage.load(Ordering::SeqCst), &url, probe.timeout);
            Err(fail(kind, message))
        }
    }
}

/// A raw `GET path` straight to a backend address (TCP or unix socket).
pub fn raw_get(addr: &BackendAddr, path: &str, timeout: Duration) -> Result<Response, Failure> {
    raw::get(addr, path, timeout)
}

/// ureq zeroes both buffers for every connection, twice over TLS, and its 128 KiB defaults
/// cost more CPU per probe than the request itself. The input buffer still holds the
/// largest response header ureq accepts (64 KiB), so no answer is cut; a probe's request is
/// a few hundred bytes.
const INPUT_BUFFER: usize = 64 * 1024 + 1024;
const OUTPUT_BUFFER: usize = 8 * 1024;

fn agent(probe: &Probe, via: Option<SocketAddr>, stage: &Arc<AtomicU8>) -> ureq::Agent {
    let connect = connect_timeout(probe.timeout);
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(format!("fixer/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .disable_verification(probe.insecure)
                .build(),
        )
        .timeout_global(Some(probe.timeout + connect))
        .timeout_connect(Some(connect))
        .timeout_send_request(Some(probe.timeout))
        .timeout_recv_response(Some(probe.timeout))
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(OUTPUT_BUFFER)
        .build();
    // No proxy connectors: a probe must reach exactly the address it names.
    let connector =
        ().chain(TcpConnector::default())
            .chain(Mark(stage.clone(), STAGE_TCP))
            .chain(RustlsConnector::default())
            .chain(Mark(stage.clone(), STAGE_READY));
    let resolver = FixedResolver {
        via,
        timeout: probe.timeout,
    };
    ureq::Agent::with_parts(config, connector, resolver)
}

fn basic_auth(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// A header's value as text, cut to a length that fits an evidence line.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    Some(text.chars().take(256).collect())
}

const STAGE_NONE: u8 = 0;
const STAGE_TCP: u8 = 1;
const STAGE_READY: u8 = 2;

/// Records how far the connection got, so a timeout or I/O error can be told apart: before
/// the TCP connection, during the TLS handshake, or while waiting for the response.
#[derive(Debug)]
struct Mark(Arc<AtomicU8>, u8);

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        if chained.is_some() {
            self.0.store(self.1, Ordering::SeqCst);
        }
        Ok(chained)
    }
}

/// Connects to `via` when set (keeping the URL's Host and SNI, like `curl --resolve`), else
/// resolves the URL's host through the system resolver with the probe's timeout.
#[derive(Debug)]
struct FixedResolver {
    via: Option<SocketAddr>,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ResolveFailed(String);

impl Resolver for FixedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _: &ureq::config::Config,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        if let Some(addr) = self.via {
            out.push(addr);
            return Ok(out);
        }
        let url = UrlParts::parse(&uri.to_string()).map_err(ureq::Error::BadUri)?;
        let ips = crate::sys::resolve::resolve(&url.host, self.timeout).map_err(|e| {
            ureq::Error::Other(Box::new(ResolveFailed(format!(
                "cannot resolve {}: {e}",
                url.host
            ))))
        })?;
        for ip in ips.into_iter().take(16) {
            out.push(SocketAddr::new(ip, url.port));
        }
        Ok(out)
    }
}

fn classify(
    err: ureq::Error,
    stage: u8,
    url: &UrlParts,
    timeout: Duration,
) -> (FailureKind, String) {
    use std::io::ErrorKind as K;
    use FailureKind as F;
    let in_handshake = url.https && stage == STAGE_TCP;
    let timed_out = |stage: u8| match stage {
        STAGE_NONE => (
            F::ConnectTimeout,
            format!(
                "no TCP connection within {}",
                secs(connect_timeout(timeout))
            ),
        ),
        STAGE_TCP if url.https => (
            F::ResponseTimeout,
            format!(
                "connected but no TLS handshake within {}",
                secs(connect_timeout(timeout))
            ),
        ),
        _ => (
            F::ResponseTimeout,
            format!("connected but no response in {}", secs(timeout)),
        ),
    };
    match err {
        ureq::Error::Timeout(_) => timed_out(stage),
        ureq::Error::HostNotFound => (F::Dns, format!("cannot resolve {}", url.host)),
        ureq::Error::Other(e) if e.is::<ResolveFailed>() => (F::Dns, e.to_string()),
        ureq::Error::Tls(m) => (F::Tls, format!("TLS: {m}")),
        ureq::Error::Rustls(e) => (F::Tls, format!("TLS: {e}")),
        ureq::Error::Io(e) if matches!(e.kind(), K::TimedOut | K::WouldBlock) => timed_out(stage),
        ureq::Error::Io(e) if stage == STAGE_NONE && is_local(&e) => (F::Local, io_message(&e)),
        ureq::Error::Io(e) if stage == STAGE_NONE => (F::Connect, io_message(&e)),
        ureq::Error::Io(e) if in_handshake => (F::Tls, format!("TLS handshake failed: {e}")),
        ureq::Error::Io(e) => (F::Protocol, io_message(&e)),
        e @ (ureq::Error::BadUri(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_))
            if stage == STAGE_NONE =>
        {
            (F::Local, e.to_string())
        }
        other => (F::Protocol, other.to_string()),
    }
}

/// Errors that come from this host before anything reached the peer: out of file descriptors,
/// buffers or local ports, or not allowed to open a socket.
pub(crate) fn is_local(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    let Some(code) = e.raw_os_error() else {
        return false;
    };
    let errno = Errno::from_raw_os_error(code);
    [
        Errno::MFILE,
        Errno::NFILE,
        Errno::NOBUFS,
        Errno::NOMEM,
        Errno::ACCESS,
        Errno::PERM,
        Errno::ADDRNOTAVAIL,
        Errno::AFNOSUPPORT,
        Errno::INVAL,
    ]
    .contains(&errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_via() {
        let u = UrlParts::parse("https://example.com/api").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (true, "example.com", 443)
        );
        let t = Duration::from_secs(5);
        assert_eq!(
            u.connect_addrs(Some("127.0.0.1"), t).unwrap(),
            vec!["127.0.0.1:443".parse().unwrap()]
        );
        assert_eq!(
            u.connect_addrs(Some("[::1]:8443"), t).unwrap(),
            vec!["[::1]:8443".parse().unwrap()]
        );
        let v6 = UrlParts::parse("http://[::1]:8080/").unwrap();
        assert_eq!(
            v6.connect_addrs(None, t).unwrap(),
            vec!["[::1]:8080".parse().unwrap()]
        );
        let local = UrlParts::parse("http://localhost:8080/").unwrap();
        let addrs = local.connect_addrs(None, t).unwrap();
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080));
        assert!(UrlParts::parse("ftp://x/").is_err());
        assert!(u.connect_addrs(Some("example.org"), t).is_err());
    }

    #[test]
    fn encodes_basic_auth() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn formats_seconds() {
        assert_eq!(secs(Duration::from_secs(2)), "2 s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
    }
}
