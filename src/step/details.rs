//! What each step found, as data: one struct per step. Code that needs a step's result reads
//! these fields, so a renamed field breaks the build rather than a user's script; only the
//! JSON renderer turns them into JSON. A field a step did not reach is left out of the JSON.

use schemars::JsonSchema;
use serde::Serialize;

use std::net::IpAddr;

use crate::finding::FindingCode;
use crate::sys::http::FailureKind;
use crate::sys::process::{FdTarget, Syscall};

mod tls_auth;
pub use tls_auth::{AuthAnswer, AuthDetails, AuthUrl, CertSummary, TlsDetails, TlsSite};

/// A step's details. Untagged: the step's `name` says which one it is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StepDetails {
    Dns(DnsDetails),
    Nginx(NginxDetails),
    Upstream(UpstreamDetails),
    ErrorLog(ErrorLogDetails),
    BackendPort(BackendPortDetails),
    PortHolder(PortHolderDetails),
    Recurl(RecurlDetails),
    Tls(TlsDetails),
    Auth(AuthDetails),
    /// A step that could not run, or was built without a check.
    None(NoDetails),
}

/// No details: `{}`.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NoDetails {}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DnsDetails {
    /// `expected_ips` or `local_ips`: what the answers were compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<DomainResult>>,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NginxDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NginxPort>>,
    /// `null` when no nginx master was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_pid: Option<Option<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_masters: Option<Vec<OtherMaster>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_test: Option<ConfigTest>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NginxPort {
    pub port: u16,
    pub listening: bool,
    pub addresses: Vec<String>,
    pub pids: Vec<i32>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OtherMaster {
    pub pid: i32,
    pub config: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ConfigTest {
    pub ok: bool,
    pub command: String,
    pub output: Vec<String>,
    /// Set when the command was not run again: its remembered output from an earlier run was
    /// used, every file it read being unchanged since (`fixer diagnose --fresh` runs it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remembered: Option<RememberedTest>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RememberedTest {
    /// When the command ran.
    pub taken_at: String,
    pub age_s: u64,
    /// The paths found unchanged: the files it read, their directories, the certificates,
    /// keys and modules the config names, the nginx binary.
    pub unchanged_paths: usize,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UpstreamDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<UpstreamTarget>>,
    /// The protocol nginx speaks to the backend; `null` when neither playbook nor config says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Option<&'static str>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UpstreamTarget {
    pub endpoint: String,
    /// Where in the config: `file:line`.
    pub at: String,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorLogDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Set when the byte bound stopped the walk back through a log before the window's start:
    /// the local time from which lines were counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_cut: Option<String>,
    /// Why the window was cut, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_cut_reason: Option<String>,
    /// nginx's own limits, read when it logged `(24: Too many open files)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx_limits: Option<NginxLimits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<ErrorLogCounts>,
    /// Upstream errors since fixer last verified the site healthy (or in the whole window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<ErrorGroup>>,
    /// Upstream errors before that time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Vec<ErrorGroup>>,
}

/// The nginx master's open-files limit (`/proc/PID/limits`) next to its `worker_connections`:
/// each connection to a client and to an upstream costs a descriptor.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NginxLimits {
    pub master_pid: i32,
    /// The soft `Max open files`, `None` when unlimited.
    pub open_files_soft: Option<u64>,
    pub open_files_hard: Option<u64>,
    /// `worker_connections` from the effective config (512 when not set).
    pub worker_connections: u64,
    pub worker_processes: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorLogCounts {
    pub since: usize,
    pub before: usize,
    pub fell_back: usize,
    pub own_probes: usize,
    pub other_upstreams: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorGroup {
    /// The cause's stable code, e.g. `log-connection-refused` (see docs/findings.md).
    pub code: crate::finding::FindingCode,
    /// The cause's internal name, e.g. `Refused`, `TimedOut` (kept for older scripts; match on
    /// `code`).
    pub cause: String,
    pub count: usize,
    /// Local time of the oldest line.
    pub oldest: String,
    /// Local time of the newest line.
    pub newest: String,
    pub upstreams: Vec<String>,
    pub example: String,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BackendPortDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<BackendListener>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<AddressListening>>,
    /// Processes of the backend waiting at a prompt before they opened the port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Vec<BlockedProcess>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_history: Option<UnitHistory>,
    /// The host's pressure, when the backend is down (`check::host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostDetails>,
}

/// Memory, load and the log's disk when the backend is down or stuck, and the host findings
/// they gave.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HostDetails {
    pub memory: Option<HostMemory>,
    pub disk: Option<HostDisk>,
    pub findings: Vec<crate::finding::Finding>,
}

pub type HostMemory = crate::sys::host::Memory;

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HostDisk {
    pub path: String,
    pub total: u64,
    pub available: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BackendListener {
    pub local: String,
    pub inode: u64,
    pub uid: u32,
    pub accept_queue: u32,
    pub serves_backend: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AddressListening {
    pub address: String,
    pub listening: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BlockedProcess {
    pub pid: i32,
    pub cmdline: String,
    pub state: String,
    pub wchan: Option<String>,
    pub syscall: Option<Syscall>,
    pub stdin: FdTarget,
    pub age_secs: f64,
}

/// How the backend's systemd unit last ended, from `systemctl show` and the journal.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UnitHistory {
    pub unit: String,
    pub show: String,
    pub journal: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PortHolderDetails {
    /// The protocol fixer's direct probe speaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    #[serde(flatten)]
    pub holder: Option<HolderDetails>,
    /// How many sockets listen on the backend address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<usize>,
    /// Another listener on the address accepted fixer's connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub others_accept: Option<bool>,
    /// The host's pressure, when the holder is stuck (`check::host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostDetails>,
}

/// The holder of the backend's listening socket, as judged.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HolderDetails {
    pub pid: i32,
    pub pids: Vec<i32>,
    pub cmdline: String,
    pub state: String,
    pub user: String,
    pub unit: Option<String>,
    pub container: Option<String>,
    pub answering: bool,
    /// Whether its command line matches the playbook's `match`; `null` without one.
    pub matches: Option<bool>,
    pub wchan: Option<String>,
    pub stdin: FdTarget,
    pub started_unix: f64,
    pub age_secs: f64,
    pub accept_queue: Option<u32>,
    pub processes: Vec<HolderProcess>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HolderProcess {
    pub pid: i32,
    pub ppid: i32,
    pub cmdline: String,
    pub state: String,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RecurlDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<UrlResult>>,
}

macro_rules! into_details {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for StepDetails {
            fn from(d: $t) -> Self {
                StepDetails::$v(d)
            }
        }
    )*};
}

into_details!(
    DnsDetails => Dns, NginxDetails => Nginx, UpstreamDetails => Upstream,
    ErrorLogDetails => ErrorLog, BackendPortDetails => BackendPort,
    PortHolderDetails => PortHolder, RecurlDetails => Recurl, NoDetails => None,
    TlsDetails => Tls, AuthDetails => Auth
);

impl StepDetails {
    /// The verify URLs' answers, when this is a recurl step that probed them.
    pub fn urls(&self) -> &[UrlResult] {
        match self {
            StepDetails::Recurl(RecurlDetails { urls: Some(u) }) => u,
            _ => &[],
        }
    }

    /// The error log's groups since the last verified-healthy time.
    pub fn error_groups(&self) -> &[ErrorGroup] {
        match self {
            StepDetails::ErrorLog(ErrorLogDetails {
                groups: Some(g), ..
            }) => g,
            _ => &[],
        }
    }

    /// Whether another listener on the backend address accepted fixer's connection.
    pub fn others_accept(&self) -> Option<bool> {
        match self {
            StepDetails::PortHolder(d) => d.others_accept,
            _ => None,
        }
    }
}

// The dns and recurl steps' per-item results, defined here so details need no check module.

/// What one domain resolved to and, when that is another machine, what answered there.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DomainResult {
    pub domain: String,
    /// What users get: the DNS server's answer when one is given, else this host's resolver's.
    pub ips: Vec<IpAddr>,
    /// This host's resolver (getaddrinfo, /etc/hosts included), when a DNS server was asked too.
    pub system_ips: Option<Vec<IpAddr>>,
    /// The addresses compared with: `expected_ips`, or this host's own addresses.
    pub expected: Vec<IpAddr>,
    pub on_this_host: bool,
    pub error: Option<String>,
    pub answered: Option<Answered>,
    /// `answered` came from a machine that is not this host.
    pub other_server: bool,
    /// This host's nginx asked the same URL, beside another server's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub here: Option<Answered>,
    /// A foreign address was not asked because of `--offline`.
    pub not_probed: bool,
    #[serde(skip)]
    pub(crate) elapsed_ms: u64,
}

/// One `GET http://DOMAIN/` sent to the foreign address the domain resolves to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Answered {
    pub url: String,
    pub ip: IpAddr,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub server: Option<String>,
    pub error: Option<String>,
}

/// Whether a URL goes straight to the backend or through nginx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Backend,
    Nginx,
}

/// What one verify URL answered. Holds no secret: the password is read, sent and dropped.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UrlResult {
    /// The URL as configured, with any `user:password@` part masked.
    pub url: String,
    pub via: Option<String>,
    pub route: Route,
    pub expect: Vec<u16>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub server: Option<String>,
    pub location: Option<String>,
    pub elapsed_ms: u64,
    /// `connect`, `connect-timeout`, `response-timeout`, `tls`, `dns`, `protocol`,
    /// `credentials` when the basic-auth password could not be read, or `probe-failed` when
    /// fixer itself could not run the probe.
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub healthy: bool,
    /// The finding this URL alone would produce; `None` when healthy or not probed.
    pub finding: Option<FindingCode>,
    #[serde(skip)]
    pub(crate) failure_kind: Option<FailureKind>,
}
