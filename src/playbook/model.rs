//! The playbook file as written on disk (TOML). Unknown keys are errors so that a typo
//! (`domian = ...`) is caught instead of silently ignored. See docs/playbooks.md.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub site: RawSite,
    #[serde(default)]
    pub nginx: RawNginx,
    pub backend: Option<RawBackend>,
    #[serde(default)]
    pub verify: Vec<RawVerify>,
    /// Probe timeout in seconds.
    pub timeout: Option<f64>,
    /// What `fixer watch --fix` may do unattended (see `playbook::watch`).
    pub watch: Option<super::watch::RawWatch>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub expected_ips: Vec<Spanned<String>>,
    /// Ask this DNS server (IP or IP:port) too: what users see, unlike /etc/hosts.
    pub dns_server: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNginx {
    pub ports: Option<Vec<u16>>,
    /// The nginx binary; default: `nginx` on PATH, then /usr/sbin/nginx.
    pub binary: Option<String>,
    /// `-p` prefix, when nginx runs from a non-default prefix.
    pub prefix: Option<String>,
    /// `-c` config file.
    pub config: Option<String>,
    /// systemd unit that runs nginx; default `nginx` when systemd is PID 1.
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// `host:port` or `unix:/path/to.sock`.
    pub address: Spanned<String>,
    /// Regex on the full command line (never the process name).
    #[serde(rename = "match")]
    pub match_: Option<Spanned<String>>,
    /// Path the port-holder probe requests; default `/`.
    pub health_path: Option<String>,
    pub restart: Option<RawRestart>,
    /// http, https, fastcgi, uwsgi, scgi, grpc or tcp; default: what nginx's config uses.
    pub protocol: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRestart {
    // Exactly one of `systemd` and `command`; checked in validation.
    pub systemd: Option<String>,
    pub command: Option<String>,
    pub cwd: Option<String>,
    pub log: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    pub url: Spanned<String>,
    /// Connect here (IP or IP:port) but send the URL's Host and SNI, like `curl --resolve`.
    pub via: Option<Spanned<String>>,
    #[serde(default)]
    pub insecure: bool,
    /// Statuses that count as healthy; empty means any status below 500.
    #[serde(default)]
    pub expect: Vec<u16>,
    pub auth: Option<RawAuth>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub user: String,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// Path of a file whose first line is the password.
    pub password_file: Option<String>,
}
