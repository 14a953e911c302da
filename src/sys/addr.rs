//! A backend's address as sockets see it — TCP, a host name resolved as nginx resolves it, or a
//! unix socket — and the protocol spoken there. The probes below connect to it; the playbook and
//! the command line (`target`) say which one to use.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAddr {
    Tcp(SocketAddr),
    /// A host name such as `localhost`, kept as written.
    Named(NamedAddr),
    Unix(PathBuf),
}

/// A backend named by host. nginx resolves the name once, when it loads its config, to every
/// address the system resolver returns (Debian's /etc/hosts maps `localhost` to `::1` and
/// `127.0.0.1`) and tries them in turn; fixer resolves it the same way, once, when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAddr {
    pub host: String,
    pub port: u16,
    /// In the resolver's order, at most [`MAX_ADDRS`].
    pub addrs: Vec<SocketAddr>,
}

/// How long resolving a backend's host name may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Addresses kept of one name: each costs a connect attempt in a probe.
pub const MAX_ADDRS: usize = 8;

impl BackendAddr {
    /// Parses `host:port`, `[v6]:port`, `name:port` or `unix:/path`. A name is resolved here
    /// through the system resolver (as nginx does), so a name that does not resolve is an
    /// error in the playbook, as it is in nginx's config.
    pub fn parse(s: &str) -> Result<Self, String> {
        match Self::parse_unresolved(s)? {
            BackendAddr::Named(n) => {
                let ips = crate::sys::resolve::resolve(&n.host, RESOLVE_TIMEOUT)
                    .map_err(|e| format!("{} does not resolve: {e}", n.host))?;
                Ok(BackendAddr::Named(NamedAddr {
                    addrs: ips
                        .into_iter()
                        .take(MAX_ADDRS)
                        .map(|ip| SocketAddr::new(ip, n.port))
                        .collect(),
                    ..n
                }))
            }
            other => Ok(other),
        }
    }

    /// The syntax alone: a name comes back with no addresses.
    pub(crate) fn parse_unresolved(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err(format!("unix socket path must be absolute, got {path:?}"));
            }
            return Ok(BackendAddr::Unix(PathBuf::from(path)));
        }
        let s = s.strip_prefix("http://").unwrap_or(s);
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(BackendAddr::Tcp(addr));
        }
        let bad = || {
            format!(
                "expected host:port (e.g. 127.0.0.1:8080, localhost:8080), [::1]:8080 or unix:/path, got {s:?}"
            )
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if !is_host_name(host) {
            return Err(bad());
        }
        Ok(BackendAddr::Named(NamedAddr {
            host: host.to_ascii_lowercase(),
            port,
            addrs: Vec::new(),
        }))
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            BackendAddr::Tcp(a) => Some(a.port()),
            BackendAddr::Named(n) => Some(n.port),
            BackendAddr::Unix(_) => None,
        }
    }

    /// The TCP addresses the backend is reached at, in the order nginx tries them.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        match self {
            BackendAddr::Tcp(a) => vec![*a],
            BackendAddr::Named(n) => n.addrs.clone(),
            BackendAddr::Unix(_) => Vec::new(),
        }
    }

    /// `localhost resolves to ::1, 127.0.0.1`, for evidence; `None` for an address.
    pub fn resolution(&self) -> Option<String> {
        let BackendAddr::Named(n) = self else {
            return None;
        };
        let ips: Vec<String> = n.addrs.iter().map(|a| a.ip().to_string()).collect();
        Some(format!(
            "{} resolves to {} (system resolver: /etc/hosts, then DNS — as nginx resolved it when it loaded its config)",
            n.host,
            ips.join(", ")
        ))
    }
}

/// Letters, digits, `-`, `_` (container names) and `.`: what a name in nginx's `proxy_pass` or a playbook can be.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

impl fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendAddr::Tcp(a) => write!(f, "{a}"),
            BackendAddr::Named(n) => write!(f, "{}:{}", n.host, n.port),
            BackendAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// How nginx talks to a backend (`proxy_pass http://`, `fastcgi_pass`, ...). A direct probe
/// must speak the same, or a healthy PHP-FPM pool looks like a holder that never answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Http,
    Https,
    Fastcgi,
    Uwsgi,
    Scgi,
    Grpc,
    /// A stream fixer only connects to (nginx's `stream` proxying, or an unknown protocol).
    Tcp,
}

impl Protocol {
    pub const ALL: [Protocol; 7] = [
        Protocol::Http,
        Protocol::Https,
        Protocol::Fastcgi,
        Protocol::Uwsgi,
        Protocol::Scgi,
        Protocol::Grpc,
        Protocol::Tcp,
    ];

    /// The playbook's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::Fastcgi => "fastcgi",
            Protocol::Uwsgi => "uwsgi",
            Protocol::Scgi => "scgi",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
        }
    }

    /// The name an operator reads in evidence.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
            Protocol::Fastcgi => "FastCGI",
            Protocol::Uwsgi => "uwsgi",
            Protocol::Scgi => "SCGI",
            Protocol::Grpc => "gRPC",
            Protocol::Tcp => "TCP",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
