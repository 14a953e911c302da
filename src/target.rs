//! The validated description of what to check: a playbook merged with command-line overrides.
//! Later code never re-validates it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

#[derive(Debug, Clone)]
pub struct Target {
    /// Playbook name, or `command-line` when the flags stand in for a playbook.
    pub name: String,
    /// Where the playbook came from (path or `built-in`), for the report.
    pub source: String,
    pub domains: Vec<String>,
    pub expected_ips: Vec<IpAddr>,
    /// A DNS server to ask directly (what users see), besides this host's resolver.
    pub dns_server: Option<SocketAddr>,
    pub nginx: NginxSpec,
    pub backend: Option<BackendSpec>,
    pub verify: Vec<VerifySpec>,
    /// Timeout of every single network probe.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct NginxSpec {
    pub ports: Vec<u16>,
    /// The ports came from the playbook or `--nginx-port`; otherwise they are read from the
    /// config of the nginx that proxies to the backend.
    pub ports_given: bool,
    /// Where derived values came from ("port 8081 from /etc/nginx/sites-enabled/app:3 listen").
    pub derived: Vec<String>,
    pub binary: Option<PathBuf>,
    pub prefix: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub unit: Option<String>,
}

impl NginxSpec {
    /// "80, 443", for evidence and plans.
    pub fn ports_list(&self) -> String {
        port_list(&self.ports)
    }
}

pub fn port_list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl BackendAddr {
    /// Parses `host:port`, `[v6]:port`, `localhost:port` or `unix:/path`.
    pub fn parse(s: &str) -> Result<Self, String> {
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
        if let Some(port) = s.strip_prefix("localhost:") {
            let port: u16 = port.parse().map_err(|_| format!("bad port in {s:?}"))?;
            return Ok(BackendAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], port))));
        }
        Err(format!(
            "expected host:port with an IP address (e.g. 127.0.0.1:8080), [::1]:8080 or unix:/path, got {s:?}"
        ))
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            BackendAddr::Tcp(a) => Some(a.port()),
            BackendAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendAddr::Tcp(a) => write!(f, "{a}"),
            BackendAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub address: BackendAddr,
    /// Regex on the full command line that recognises the real backend.
    pub matcher: Option<Regex>,
    pub health_path: String,
    pub restart: Option<RestartSpec>,
}

impl BackendSpec {
    pub fn matches(&self, cmdline: &str) -> Option<bool> {
        self.matcher.as_ref().map(|re| re.is_match(cmdline))
    }
}

#[derive(Debug, Clone)]
pub enum RestartSpec {
    Systemd {
        unit: String,
    },
    Command {
        command: String,
        cwd: Option<PathBuf>,
        log: Option<PathBuf>,
        env: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct VerifySpec {
    pub url: String,
    pub via: Option<String>,
    pub insecure: bool,
    /// Healthy statuses; empty means any status below 500.
    pub expect: Vec<u16>,
    pub auth: Option<AuthSpec>,
}

impl VerifySpec {
    pub fn expects(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            status < 500
        } else {
            self.expect.contains(&status)
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthSpec {
    pub user: String,
    pub password: PasswordSource,
}

/// Where a basic-auth password lives. The password itself is read only when the request is
/// made and never stored in anything that is printed or serialised.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_addresses() {
        assert_eq!(
            BackendAddr::parse("127.0.0.1:8080").unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(BackendAddr::parse("[::1]:8501").unwrap().port(), Some(8501));
        assert_eq!(
            BackendAddr::parse("localhost:8080").unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            BackendAddr::parse("unix:/run/app.sock").unwrap(),
            BackendAddr::Unix("/run/app.sock".into())
        );
        assert!(BackendAddr::parse("example.com:80").is_err());
        assert!(BackendAddr::parse("unix:rel.sock").is_err());
    }
}
