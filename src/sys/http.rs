//! HTTP probes with hard timeouts: through nginx with a chosen Host/SNI (like `curl --resolve`)
//! or straight to a backend, including one on a unix socket.

use std::time::Duration;

use serde::Serialize;

use crate::target::BackendAddr;

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Nothing accepted the connection (refused, unreachable).
    Connect,
    /// The TCP connection did not complete in time (e.g. accept queue full).
    ConnectTimeout,
    /// Connected, but no response arrived in time: the peer is stuck.
    ResponseTimeout,
    Tls,
    Dns,
    Protocol,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub elapsed_ms: u64,
}

/// One HTTP GET, redirects not followed.
pub fn get(_probe: &Probe) -> Result<Response, Failure> {
    todo!()
}

/// A raw `GET path` straight to a backend address (TCP or unix socket).
pub fn raw_get(_addr: &BackendAddr, _path: &str, _timeout: Duration) -> Result<Response, Failure> {
    todo!()
}
