//! Stable finding codes. Users' scripts match on these strings, so a code is never renamed;
//! every code is documented in `docs/findings.md` (a test keeps the two in step).

use serde::Serialize;

macro_rules! codes {
    ($($variant:ident => $code:literal,)*) => {
        /// A kind of problem a check can find. The kebab-case string is the public contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FindingCode { $($variant,)* }

        impl FindingCode {
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(FindingCode::$variant => $code,)* }
            }
        }
    };
}

codes! {
    DnsUnresolved => "dns-unresolved",
    DnsPointsElsewhere => "dns-points-elsewhere",
    DnsUnconfirmed => "dns-unconfirmed",
    NginxNotRunning => "nginx-not-running",
    NginxPortNotListening => "nginx-port-not-listening",
    NginxPortForeignOwner => "nginx-port-foreign-owner",
    NginxConfigInvalid => "nginx-config-invalid",
    UpstreamMismatch => "upstream-mismatch",
    UpstreamNotFound => "upstream-not-found",
    UpstreamErrorsLogged => "upstream-errors-logged",
    BackendNotListening => "backend-not-listening",
    BackendWrongInterface => "backend-wrong-interface",
    BackendPortBound => "backend-port-bound",
    HostMemoryLow => "host-memory-low",
    HostDiskFull => "host-disk-full",
    HardenNoUnit => "harden-no-unit",
    HardenNoRestart => "harden-no-restart",
    HardenNoRestartSec => "harden-no-restart-sec",
    HardenStartLimit => "harden-start-limit",
    HardenNotEnabled => "harden-not-enabled",
    HardenStdinTty => "harden-stdin-tty",
    HardenProxyTimeouts => "harden-proxy-timeouts",
    HardenNoLogRotation => "harden-no-log-rotation",
    HolderStuck => "holder-stuck",
    HolderStopped => "holder-stopped",
    HolderBlockedOnStdin => "holder-blocked-on-stdin",
    HolderZombie => "holder-zombie",
    HolderForeign => "holder-foreign",
    HolderUninspectable => "holder-uninspectable",
    HolderSlow => "holder-slow",
    HolderUnconfirmed => "holder-unconfirmed",
    ProbesDisagree => "probes-disagree",
    HttpGatewayError => "http-gateway-error",
    HttpBackendError => "http-backend-error",
    HttpUnexpectedStatus => "http-unexpected-status",
    HttpTimeout => "http-timeout",
    HttpConnectFailed => "http-connect-failed",
    HttpRedirect => "http-redirect",
    BackendKilled => "backend-killed",
    BackendExited => "backend-exited",
    BackendStartLimit => "backend-start-limit",
    BackendOomKilled => "backend-oom-killed",
    BackendPartlyListening => "backend-partly-listening",
    BackendBlockedBeforeListen => "backend-blocked-before-listen",
    LogConnectionRefused => "log-connection-refused",
    LogUpstreamTimeout => "log-upstream-timeout",
    LogConnectionReset => "log-connection-reset",
    LogPrematureClose => "log-premature-close",
    LogNoLiveUpstreams => "log-no-live-upstreams",
    LogPermissionDenied => "log-permission-denied",
    LogNoSuchFile => "log-no-such-file",
    LogTooBigHeader => "log-too-big-header",
    LogInvalidHeader => "log-invalid-header",
    LogSslHandshake => "log-ssl-handshake",
    LogResolveFailed => "log-resolve-failed",
    LogWorkerConnections => "log-worker-connections",
    LogQueueFull => "log-queue-full",
    LogAddressFamily => "log-address-family",
    LogTooManyOpenFiles => "log-too-many-open-files",
    LogNoLocalPorts => "log-no-local-ports",
    LogNoRoute => "log-no-route",
    LogInvalidChunked => "log-invalid-chunked",
    LogOther => "log-other",
    TlsExpired => "tls-expired",
    TlsExpiring => "tls-expiring",
    TlsNameMismatch => "tls-name-mismatch",
    TlsSelfSigned => "tls-self-signed",
    TlsHandshakeFailed => "tls-handshake-failed",
    HeadersMissing => "headers-missing",
    AuthRejected => "auth-rejected",
    AuthNotRequired => "auth-not-required",
    DnsAnsweredByOtherServer => "dns-answered-by-other-server",
    NoServerBlock => "no-server-block",
    BackendSocketPermission => "backend-socket-permission",
    FpmPoolFull => "fpm-pool-full",
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schema lists every code, so a monitor can tell a known code from a new one.
impl schemars::JsonSchema for FindingCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FindingCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({"type": "string", "enum": codes})
    }
}

impl Serialize for FindingCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a check found wrong: the cause in one sentence and, when one exists, what would fix it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub code: FindingCode,
    pub cause: String,
    pub action: Option<String>,
}

impl Finding {
    pub fn new(code: FindingCode, cause: impl Into<String>) -> Self {
        Finding {
            code,
            cause: cause.into(),
            action: None,
        }
    }

    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = HashSet::new();
        for code in FindingCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate finding code {s}");
            assert!(
                s.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{s} is not kebab-case"
            );
        }
    }

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../docs/findings.md");
        for code in FindingCode::ALL {
            assert!(
                doc.contains(&format!("`{}`", code.as_str())),
                "{code} missing from docs/findings.md"
            );
        }
    }
}
