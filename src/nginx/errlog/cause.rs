//! Why nginx could not get an answer from the upstream, as its error log says it, and the stable
//! code each cause is reported under.

use crate::finding::FindingCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Refused,
    TimedOut,
    Reset,
    ClosedEarly,
    PermissionDenied,
    SocketMissing,
    NoLiveUpstreams,
    TooBigHeader,
    InvalidHeader,
    SslHandshake,
    ResolveFailed,
    WorkerConnections,
    QueueFull,
    AddressFamily,
    TooManyOpenFiles,
    NoLocalPorts,
    NoRoute,
    InvalidChunked,
    /// An error about an upstream that none of the above names: shown verbatim, never dropped.
    Other,
}

/// What the client did, not the upstream: a 499 or a reset by the user's browser.
const CLIENT_SIDE: &[&str] = &[
    "client prematurely closed",
    "client closed",
    "client timed out",
    "to client",
    "client request",
    "while reading client",
];

/// Text in a line's head → cause; the first match wins, so errno texts that also appear in a
/// more specific message come after it.
const RULES: &[(&[&str], Cause)] = &[
    (
        &["worker_connections are not enough"],
        Cause::WorkerConnections,
    ),
    (&["(24: Too many open files)"], Cause::TooManyOpenFiles),
    (&["upstream timed out"], Cause::TimedOut),
    (&["(111: Connection refused)"], Cause::Refused),
    // A reset or close during the handshake is the handshake failing.
    (
        &[
            "SSL_do_handshake() failed",
            "upstream SSL certificate",
            "while SSL handshaking to upstream",
        ],
        Cause::SslHandshake,
    ),
    (&["(104: Connection reset by peer)"], Cause::Reset),
    (&["upstream prematurely closed"], Cause::ClosedEarly),
    (&["no live upstreams"], Cause::NoLiveUpstreams),
    (&["upstream sent too big header"], Cause::TooBigHeader),
    (&["upstream sent invalid chunked"], Cause::InvalidChunked),
    (
        &[
            "upstream sent no valid",
            "upstream sent invalid header",
            "upstream sent invalid status",
        ],
        Cause::InvalidHeader,
    ),
    (
        &[
            "could not be resolved",
            "no resolver defined",
            "host not found in upstream",
        ],
        Cause::ResolveFailed,
    ),
    (
        &["(11: Resource temporarily unavailable)"],
        Cause::QueueFull,
    ),
    (&["(97: Address family not supported"], Cause::AddressFamily),
    (
        &["(99: Cannot assign requested address)"],
        Cause::NoLocalPorts,
    ),
    (&["(113: No route to host)"], Cause::NoRoute),
    (&["(13: Permission denied)"], Cause::PermissionDenied),
    (&["(2: No such file or directory)"], Cause::SocketMissing),
];

impl Cause {
    pub const ALL: &'static [Cause] = &[
        Cause::Refused,
        Cause::TimedOut,
        Cause::Reset,
        Cause::ClosedEarly,
        Cause::PermissionDenied,
        Cause::SocketMissing,
        Cause::NoLiveUpstreams,
        Cause::TooBigHeader,
        Cause::InvalidHeader,
        Cause::SslHandshake,
        Cause::ResolveFailed,
        Cause::WorkerConnections,
        Cause::QueueFull,
        Cause::AddressFamily,
        Cause::TooManyOpenFiles,
        Cause::NoLocalPorts,
        Cause::NoRoute,
        Cause::InvalidChunked,
        Cause::Other,
    ];

    pub fn from_code(code: FindingCode) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The cause named by a line's head (its message before `, client:`), or `None` for a
    /// line that is not about an upstream (a missing static file, a client that went away).
    pub fn classify(head: &str) -> Option<Cause> {
        if CLIENT_SIDE.iter().any(|c| head.contains(c)) {
            return None;
        }
        let cause = RULES
            .iter()
            .find(|(texts, _)| texts.iter().any(|t| head.contains(t)))
            .map(|(_, c)| *c);
        match cause {
            // nginx-wide: about no upstream in particular.
            Some(c @ (Cause::WorkerConnections | Cause::TooManyOpenFiles)) => Some(c),
            Some(c) if head.contains("upstream") => Some(c),
            Some(Cause::ResolveFailed) => Some(Cause::ResolveFailed),
            _ if head.contains("upstream") => Some(Cause::Other),
            _ => None,
        }
    }

    /// A limit of nginx itself: it says nothing about any backend, and holds for every site.
    pub fn nginx_wide(self) -> bool {
        matches!(self, Cause::WorkerConnections | Cause::TooManyOpenFiles)
    }

    pub fn code(self) -> FindingCode {
        use FindingCode::*;
        match self {
            Cause::Refused => LogConnectionRefused,
            Cause::TimedOut => LogUpstreamTimeout,
            Cause::Reset => LogConnectionReset,
            Cause::ClosedEarly => LogPrematureClose,
            Cause::PermissionDenied => LogPermissionDenied,
            Cause::SocketMissing => LogNoSuchFile,
            Cause::NoLiveUpstreams => LogNoLiveUpstreams,
            Cause::TooBigHeader => LogTooBigHeader,
            Cause::InvalidHeader => LogInvalidHeader,
            Cause::SslHandshake => LogSslHandshake,
            Cause::ResolveFailed => LogResolveFailed,
            Cause::WorkerConnections => LogWorkerConnections,
            Cause::QueueFull => LogQueueFull,
            Cause::AddressFamily => LogAddressFamily,
            Cause::TooManyOpenFiles => LogTooManyOpenFiles,
            Cause::NoLocalPorts => LogNoLocalPorts,
            Cause::NoRoute => LogNoRoute,
            Cause::InvalidChunked => LogInvalidChunked,
            Cause::Other => LogOther,
        }
    }

    /// nginx's own words for the cause, to quote in a sentence.
    pub fn words(self) -> &'static str {
        match self {
            Cause::Refused => "connection refused",
            Cause::TimedOut => "upstream timed out",
            Cause::Reset => "connection reset by peer",
            Cause::ClosedEarly => "upstream prematurely closed connection",
            Cause::PermissionDenied => "permission denied",
            Cause::SocketMissing => "no such file or directory",
            Cause::NoLiveUpstreams => "no live upstreams",
            Cause::TooBigHeader => "upstream sent too big header",
            Cause::InvalidHeader => "upstream sent no valid HTTP header",
            Cause::SslHandshake => "SSL handshake to upstream failed",
            Cause::ResolveFailed => "could not be resolved",
            Cause::WorkerConnections => "worker_connections are not enough",
            Cause::QueueFull => "resource temporarily unavailable",
            Cause::AddressFamily => "address family not supported",
            Cause::TooManyOpenFiles => "too many open files",
            Cause::NoLocalPorts => "cannot assign requested address",
            Cause::NoRoute => "no route to host",
            Cause::InvalidChunked => "upstream sent invalid chunked response",
            Cause::Other => "upstream error",
        }
    }

    /// What the cause means for the backend, in the operator's terms.
    pub fn meaning(self) -> &'static str {
        match self {
            Cause::Refused => "nothing listened on the backend address (backend down) → 502",
            Cause::TimedOut => "the backend accepted but did not answer within nginx's timeout (slow or stuck) → 504",
            Cause::Reset => "the backend reset the connection (crashing or restarting) → 502",
            Cause::ClosedEarly => "the backend closed the connection without a response (crashed mid-request) → 502",
            Cause::PermissionDenied => "nginx may not connect (SELinux, or unix socket permissions) → 502",
            Cause::SocketMissing => "the backend's unix socket does not exist → 502",
            Cause::NoLiveUpstreams => "every upstream server is marked failed (fail_timeout) → 502",
            Cause::TooBigHeader => "the backend's response headers exceed proxy_buffer_size → 502",
            Cause::InvalidHeader => "the backend does not answer in HTTP (a TLS or uwsgi port behind http://?) → 502",
            Cause::SslHandshake => "the TLS handshake or certificate check with the backend failed → 502",
            Cause::ResolveFailed => "nginx could not resolve the upstream's name → 502",
            Cause::WorkerConnections => "nginx itself is saturated: worker_connections are used up (not the backend)",
            Cause::QueueFull => "the backend's unix socket queue is full (every worker busy) → 502",
            Cause::AddressFamily => "the upstream's address family is not supported here (IPv6 off?) → 502",
            Cause::TooManyOpenFiles => "nginx ran out of file descriptors (its open-files limit vs worker_connections)",
            Cause::NoLocalPorts => "nginx ran out of local ports to connect from (ephemeral ports exhausted) → 502",
            Cause::NoRoute => "the upstream's address is unreachable (an old container IP resolved at start-up?) → 502",
            Cause::InvalidChunked => "the backend sent a broken chunked body → 502",
            Cause::Other => "an upstream error fixer has no name for (quoted as nginx wrote it)",
        }
    }

    /// The failure in one clause, for a root-cause sentence.
    pub fn sentence(self) -> &'static str {
        match self {
            Cause::Refused => "nginx cannot connect to the backend: nothing listens on its address",
            Cause::TimedOut => "the backend accepts nginx's connections but answers slower than nginx waits (its proxy_read_timeout), so nginx answers 504; slow is not stuck, so fixer restarts nothing",
            Cause::Reset => "the backend resets nginx's connections (crashing or restarting mid-request), so nginx answers 502",
            Cause::ClosedEarly => "the backend closes nginx's connections without answering (it crashes mid-request), so nginx answers 502",
            Cause::PermissionDenied => "nginx is not allowed to connect to the backend (unix socket owner or mode, or SELinux), so nginx answers 502",
            Cause::SocketMissing => "the backend's unix socket does not exist, so nginx answers 502",
            Cause::NoLiveUpstreams => "nginx has marked every server of the upstream failed (fail_timeout), so it answers 502 without trying",
            Cause::TooBigHeader => "the backend's response headers are larger than nginx's proxy_buffer_size, so nginx answers 502; the backend itself answers",
            Cause::InvalidHeader => "the backend does not answer nginx in HTTP (a TLS or uwsgi port behind proxy_pass http://?), so nginx answers 502",
            Cause::SslHandshake => "nginx's TLS handshake or certificate check with the backend fails, so nginx answers 502",
            Cause::ResolveFailed => "nginx cannot resolve the upstream's name, so nginx answers 502",
            Cause::WorkerConnections => "nginx itself is saturated: its worker_connections are used up, so it drops requests — the backend is not at fault",
            Cause::QueueFull => "the backend's unix socket queue is full (every worker busy), so nginx answers 502",
            Cause::AddressFamily => "nginx tries an address family this host does not support (IPv6 off?), so nginx answers 502",
            Cause::TooManyOpenFiles => "nginx ran out of file descriptors: its open-files limit is too low for its worker_connections",
            Cause::NoLocalPorts => "nginx ran out of local ports to connect to the backend from (ephemeral ports exhausted), so nginx answers 502",
            Cause::NoRoute => "nginx's upstream address is unreachable (a container that got a new address while nginx kept the old one?), so nginx answers 502",
            Cause::InvalidChunked => "the backend sends a broken chunked body, so nginx answers 502",
            Cause::Other => "nginx logged an upstream error fixer has no name for",
        }
    }
}
