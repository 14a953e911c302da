//! The faults a lab can inject, each one a cause of a 502/504 seen on real servers.

use serde::{Deserialize, Serialize};

use crate::target::Protocol;

/// A fault the lab can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    None,
    BackendDown,
    StuckHolder,
    StoppedBackend,
    StdinHolder,
    WrongPort,
    NginxDown,
    NginxConfigBroken,
    DnsElsewhere,
    ForeignHolder,
    FastcgiBackend,
    UwsgiBackend,
    HttpsBackend,
    PromptBeforeListen,
    SlowBackend,
    #[serde(rename = "backend-500")]
    Backend500,
    CrashMidRequest,
    TlsUpstream,
    TooBigHeader,
    NginxSaturated,
    TlsExpired,
    AuthMismatch,
    NoServerBlock,
    LocalhostV6,
    UnixSocketMissing,
    FpmSocketPermission,
    FpmPoolFull,
}

impl Fault {
    pub const ALL: &'static [Fault] = &[
        Fault::None,
        Fault::BackendDown,
        Fault::StuckHolder,
        Fault::StoppedBackend,
        Fault::StdinHolder,
        Fault::WrongPort,
        Fault::NginxDown,
        Fault::NginxConfigBroken,
        Fault::DnsElsewhere,
        Fault::ForeignHolder,
        Fault::FastcgiBackend,
        Fault::UwsgiBackend,
        Fault::HttpsBackend,
        Fault::PromptBeforeListen,
        Fault::SlowBackend,
        Fault::Backend500,
        Fault::CrashMidRequest,
        Fault::TlsUpstream,
        Fault::TooBigHeader,
        Fault::NginxSaturated,
        Fault::TlsExpired,
        Fault::AuthMismatch,
        Fault::NoServerBlock,
        Fault::LocalhostV6,
        Fault::UnixSocketMissing,
        Fault::FpmSocketPermission,
        Fault::FpmPoolFull,
    ];

    /// The kebab-case name used on the command line and in `lab.json`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::BackendDown => "backend-down",
            Fault::StuckHolder => "stuck-holder",
            Fault::StoppedBackend => "stopped-backend",
            Fault::StdinHolder => "stdin-holder",
            Fault::WrongPort => "wrong-port",
            Fault::NginxDown => "nginx-down",
            Fault::NginxConfigBroken => "nginx-config-broken",
            Fault::DnsElsewhere => "dns-elsewhere",
            Fault::ForeignHolder => "foreign-holder",
            Fault::FastcgiBackend => "fastcgi-backend",
            Fault::UwsgiBackend => "uwsgi-backend",
            Fault::HttpsBackend => "https-backend",
            Fault::PromptBeforeListen => "prompt-before-listen",
            Fault::SlowBackend => "slow-backend",
            Fault::Backend500 => "backend-500",
            Fault::CrashMidRequest => "crash-mid-request",
            Fault::TlsUpstream => "tls-upstream",
            Fault::TooBigHeader => "too-big-header",
            Fault::NginxSaturated => "nginx-saturated",
            Fault::TlsExpired => "tls-expired",
            Fault::AuthMismatch => "auth-mismatch",
            Fault::NoServerBlock => "no-server-block",
            Fault::LocalhostV6 => "localhost-v6",
            Fault::UnixSocketMissing => "unix-socket-missing",
            Fault::FpmSocketPermission => "fpm-socket-permission",
            Fault::FpmPoolFull => "fpm-pool-full",
        }
    }

    /// One line: what is broken and what a user sees.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::None => "everything healthy: nginx proxies to a working backend",
            Fault::BackendDown => "the backend is not running: nginx answers 502 (connection refused)",
            Fault::StuckHolder => {
                "the backend listens but never accepts: nginx answers 504 after its read timeout"
            }
            Fault::StoppedBackend => "the backend was stopped with SIGSTOP (state T): nginx answers 504",
            Fault::StdinHolder => {
                "the backend holds its port but blocks reading stdin at an \"Email:\" prompt: nginx answers 504"
            }
            Fault::WrongPort => "nginx proxies to a port where nothing listens; the backend runs on another: 502",
            Fault::NginxDown => "nginx is not running: nothing answers on its ports",
            Fault::NginxConfigBroken => "nginx is not running and its config has a syntax error (`nginx -t` fails)",
            Fault::DnsElsewhere => {
                "all healthy here, but the playbook expects the domain to point at another server (192.0.2.10)"
            }
            Fault::ForeignHolder => {
                "another program holds the backend's port and never answers: nginx answers 504"
            }
            Fault::FastcgiBackend => {
                "all healthy: nginx passes requests to a real PHP-FPM pool (fastcgi_pass), which never speaks HTTP"
            }
            Fault::UwsgiBackend => {
                "all healthy: nginx passes requests to a real uWSGI server (uwsgi_pass), which never speaks HTTP"
            }
            Fault::HttpsBackend => {
                "all healthy: nginx proxies over TLS (proxy_pass https://) to a backend with a self-signed certificate"
            }
            Fault::PromptBeforeListen => {
                "`python3 -m streamlit run app.py` waits at its first-run \"Email:\" prompt before opening its port: nothing listens, nginx answers 502"
            }
            Fault::SlowBackend => {
                "the backend answers, but after 3 s while nginx waits 1 s: nginx answers 504 (upstream timed out); slow, not stuck"
            }
            Fault::Backend500 => "the backend itself answers 500 Internal Server Error; nginx passes it on",
            Fault::CrashMidRequest => {
                "the backend reads each request and closes the connection without answering: nginx answers 502 (upstream prematurely closed connection)"
            }
            Fault::TlsUpstream => {
                "nginx proxies with proxy_pass http:// to a backend that speaks only TLS: nginx answers 502 (upstream sent no valid HTTP/1.0 header)"
            }
            Fault::TooBigHeader => {
                "the backend answers with a 16 KiB Set-Cookie header, more than proxy_buffer_size: nginx answers 502 (upstream sent too big header)"
            }
            Fault::NginxSaturated => {
                "nginx runs with worker_connections 4 and a crowd of clients holds them: nginx drops new requests (worker_connections are not enough); the backend is healthy"
            }
            Fault::TlsExpired => {
                "nginx serves an HTTPS certificate that expired in February 2025: clients refuse the connection"
            }
            Fault::AuthMismatch => {
                "nginx's htpasswd holds another password for admin than the operator's password file: 401 with credentials"
            }
            Fault::NoServerBlock => {
                "no server block names localhost: nginx answers it from a default server that returns 404"
            }
            Fault::LocalhostV6 => {
                "the backend binds localhost's IPv6 address [::1] only, while nginx proxies to 127.0.0.1: 502"
            }
            Fault::UnixSocketMissing => {
                "nginx passes to PHP-FPM's unix socket (fastcgi_pass unix:...), but php-fpm is not running and the socket file does not exist: 502"
            }
            Fault::FpmSocketPermission => {
                "PHP-FPM listens on a unix socket nginx's worker user may not write (listen.mode 0660, owner root): (13: Permission denied), 502"
            }
            Fault::FpmPoolFull => {
                "PHP-FPM's pool has pm.max_children = 1 and its one worker runs a slow script: requests wait in the listen queue, nginx answers 504"
            }
        }
    }

    /// What nginx speaks to this lab's backend.
    pub fn protocol(self) -> Protocol {
        match self {
            Fault::FastcgiBackend => Protocol::Fastcgi,
            f if f.fpm_on_unix() => Protocol::Fastcgi,
            Fault::UwsgiBackend => Protocol::Uwsgi,
            Fault::HttpsBackend => Protocol::Https,
            _ => Protocol::Http,
        }
    }

    /// The lab's php-fpm pool listens on a unix socket (`DIR/run/php-fpm.sock`), as Debian's does.
    pub fn fpm_on_unix(self) -> bool {
        matches!(
            self,
            Fault::UnixSocketMissing | Fault::FpmSocketPermission | Fault::FpmPoolFull
        )
    }

    pub fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == s.trim())
    }

    /// The known names, comma-separated, for error messages.
    pub fn known_names() -> String {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        names.join(", ")
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for &f in Fault::ALL {
            assert_eq!(Fault::parse(f.name()), Some(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert!(!f.describe().is_empty());
        }
        assert_eq!(Fault::parse("nope"), None);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
    }
}
