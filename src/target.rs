//! The validated description of what to check: a playbook merged with command-line overrides.
//! Later code never re-validates it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

pub use crate::sys::addr::{BackendAddr, NamedAddr, Protocol, MAX_ADDRS, RESOLVE_TIMEOUT};

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
    /// No probe to an address outside this host (`--offline`).
    pub offline: bool,
    /// The playbook's `[watch]` table: what `fixer watch --fix` may do unattended.
    pub watch: WatchPolicy,
}

impl Target {
    /// A target that checks nothing yet: no domains, nginx found by its ports' defaults, no
    /// backend, no verify URLs. Callers fill in what they know.
    pub fn new(name: &str, source: &str, timeout: Duration) -> Target {
        Target {
            name: name.into(),
            source: source.into(),
            domains: vec![],
            expected_ips: vec![],
            dns_server: None,
            offline: false,
            nginx: NginxSpec::default(),
            backend: None,
            verify: vec![],
            timeout,
            watch: Default::default(),
        }
    }

    /// The key under which fixer remembers this site in its state directory: the playbook's
    /// name and the backend it checks.
    pub fn site_key(&self) -> String {
        let backend = self
            .backend
            .as_ref()
            .map_or_else(|| "-".to_string(), |b| b.address.to_string());
        format!("{}@{backend}", self.name)
    }

    /// This target with the backend's protocol taken from nginx's config, unless the playbook
    /// named one.
    pub fn with_config_protocol(&self, from_config: Option<Protocol>) -> Target {
        let mut t = self.clone();
        if let Some(b) = t.backend.as_mut() {
            b.protocol = b.protocol.or(from_config);
        }
        t
    }
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

#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub address: BackendAddr,
    /// Regex on the full command line that recognises the real backend.
    pub matcher: Option<Regex>,
    pub health_path: String,
    pub restart: Option<RestartSpec>,
    /// What the backend speaks; `None` until the playbook or nginx's config says (then HTTP).
    pub protocol: Option<Protocol>,
}

impl BackendSpec {
    /// A backend known only by its address: health path `/`, no way to recognise or start it,
    /// protocol from nginx's config.
    pub fn new(address: BackendAddr) -> BackendSpec {
        BackendSpec {
            address,
            matcher: None,
            health_path: "/".into(),
            restart: None,
            protocol: None,
        }
    }

    /// The protocol the direct probe speaks: the playbook's, else nginx's, else HTTP.
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }

    pub fn matches(&self, cmdline: &str) -> Option<bool> {
        self.matcher.as_ref().map(|re| re.is_match(cmdline))
    }
}

#[derive(Debug, Clone)]
pub enum RestartSpec {
    Systemd { unit: String },
    Command(StartCommand),
}

/// A backend started by a shell command line (no unit): what runs, where, with which
/// environment, and where its output goes.
#[derive(Debug, Clone, Default)]
pub struct StartCommand {
    pub command: String,
    pub cwd: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
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
            BackendAddr::parse("unix:/run/app.sock").unwrap(),
            BackendAddr::Unix("/run/app.sock".into())
        );
        assert!(BackendAddr::parse("unix:rel.sock").is_err());
        assert!(BackendAddr::parse("127.0.0.1").is_err());
        assert!(BackendAddr::parse("a b:80").is_err());
        assert!(BackendAddr::parse("host:http").is_err());
    }

    #[test]
    fn a_name_keeps_its_name_and_gets_every_address() {
        let a = BackendAddr::parse("LocalHost:8080").unwrap();
        assert_eq!(a.to_string(), "localhost:8080");
        assert_eq!(a.port(), Some(8080));
        let addrs = a.tcp_addrs();
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|s| s.ip().is_loopback() && s.port() == 8080));
        assert!(a
            .resolution()
            .unwrap()
            .starts_with("localhost resolves to "));
        assert_eq!(
            BackendAddr::parse("127.0.0.1:1").unwrap().resolution(),
            None
        );
    }

    #[test]
    fn names_are_checked_before_resolving() {
        let named = |s| matches!(BackendAddr::parse_unresolved(s), Ok(BackendAddr::Named(_)));
        assert!(named("app.internal:8080"));
        assert!(named("backend-1:80"));
        assert!(named("compose_app:80"));
        assert!(!named("bad/name:80"));
        assert!(!named("a..b:80"));
        let err = BackendAddr::parse("no-such-host.invalid:80").unwrap_err();
        assert!(
            err.starts_with("no-such-host.invalid does not resolve"),
            "{err}"
        );
    }

    #[test]
    fn protocol_names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
        }
        assert_eq!(Protocol::parse("fcgi"), None);
        assert_eq!(Protocol::default(), Protocol::Http);
    }
}

pub const DEFAULT_MAX_FIXES: u32 = 3;
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A reminder every 30 unhealthy rounds: half an hour at the default one-minute interval.
pub const DEFAULT_REMIND_EVERY: u32 = 30;

/// The validated `[watch]` table: what `fixer watch --fix` may do unattended, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPolicy {
    /// Action codes (`restart-backend`, …) `--fix` may run unattended.
    pub auto_fix: Vec<String>,
    pub max_fixes: u32,
    pub window: Duration,
    pub remind_every: u32,
}

impl Default for WatchPolicy {
    fn default() -> Self {
        WatchPolicy {
            auto_fix: Vec::new(),
            max_fixes: DEFAULT_MAX_FIXES,
            window: DEFAULT_WINDOW,
            remind_every: DEFAULT_REMIND_EVERY,
        }
    }
}
