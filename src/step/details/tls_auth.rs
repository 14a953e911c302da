//! The tls and auth steps' details. They hold what was served and answered, never a secret.

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TlsDetails {
    /// One entry per HTTPS verify URL through nginx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<TlsSite>>,
}

/// What one HTTPS URL's server presented, and how it was judged.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TlsSite {
    pub url: String,
    /// The name sent as SNI and checked against the certificate.
    pub name: String,
    /// The address the handshake went to.
    pub address: Option<String>,
    /// `TLSv1.3`, `TLSv1.2`.
    pub protocol: Option<String>,
    /// The ALPN protocol the server chose (`h2`, `http/1.1`); `null` when it chose none.
    pub alpn: Option<String>,
    /// The chain as served, leaf first.
    pub chain: Vec<CertSummary>,
    /// The leaf's names cover `name`.
    pub name_matches: Option<bool>,
    /// The leaf is its own issuer.
    pub self_signed: Option<bool>,
    /// Whole days until the leaf expires; negative once it has.
    pub days_left: Option<i64>,
    /// The playbook accepts an unverified certificate here (`insecure = true`).
    pub insecure: bool,
    /// Security headers the HTTPS answer lacks; `null` when the answer was not judged.
    pub headers_missing: Option<Vec<String>>,
    /// The status the headers were read from.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The server took the connection but the TLS handshake failed.
    #[serde(skip)]
    pub(crate) handshake_failed: bool,
}

/// One certificate of a served chain.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub names: Vec<String>,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AuthDetails {
    /// One entry per verify URL with `auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<AuthUrl>>,
}

/// A URL behind basic auth asked twice: without credentials and with the operator's. Holds
/// the user name, never the password.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuthUrl {
    pub url: String,
    pub user: String,
    pub without: AuthAnswer,
    pub with: AuthAnswer,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct AuthAnswer {
    pub status: Option<u16>,
    /// The `WWW-Authenticate` header of the answer.
    pub www_authenticate: Option<String>,
    pub error: Option<String>,
}
