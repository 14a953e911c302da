//! Refused tries of another address nginx uses for the backend (one address of a name such
//! as `localhost`) while the backend listens on one of the others: nginx moved on and users were
//! answered, so these lines are explained, not called an outage.

use crate::finding::{Finding, FindingCode};
use crate::nginx::errlog::{self, Entry};
use crate::sys::net::{self, TcpSocket};
use crate::target::Target;

use super::Sorted;

/// A refused try of an address nginx uses for this backend (one address of a name such as
/// `localhost`) where nothing listens now, while the backend listens on another: nginx moved on
/// to that one (see `backend-partly-listening`) and users were answered.
pub(super) fn fell_back(e: &Entry, now: &Now<'_>) -> bool {
    match e.upstream.as_deref().and_then(errlog::Peer::parse) {
        Some(errlog::Peer::Addr(a)) if e.cause == errlog::Cause::Refused => {
            now.backend_listens && !net::listening_on(now.tcp, &[a], now.dual)
        }
        _ => false,
    }
}

/// What listens right now, read once per run.
pub(super) struct Now<'a> {
    tcp: &'a [TcpSocket],
    dual: bool,
    backend_listens: bool,
}

impl<'a> Now<'a> {
    pub(super) fn new(target: &Target, tcp: &'a [TcpSocket]) -> Now<'a> {
        let dual = net::dual_stack_default();
        let addrs = target
            .backend
            .as_ref()
            .map(|b| b.address.tcp_addrs())
            .unwrap_or_default();
        Now {
            tcp,
            dual,
            backend_listens: net::listening_on(tcp, &addrs, dual),
        }
    }
}

pub(super) fn fallback_finding(
    sorted: &Sorted,
    when: &str,
    target: &Target,
    tcp: &[TcpSocket],
) -> Finding {
    let mut refused: Vec<String> = Vec::new();
    for e in &sorted.fell_back {
        if let Some(errlog::Peer::Addr(a)) = e.upstream.as_deref().and_then(errlog::Peer::parse) {
            if !refused.contains(&a.to_string()) {
                refused.push(a.to_string());
            }
        }
    }
    let listening: Vec<String> = target
        .backend
        .as_ref()
        .map(|b| b.address.tcp_addrs())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| net::listening_on(tcp, &[*a], net::dual_stack_default()))
        .map(|a| a.to_string())
        .collect();
    let (refused, listening) = (refused.join(", "), listening.join(", "));
    Finding::new(
        FindingCode::UpstreamErrorsLogged,
        format!("nginx logged {} refused connection(s) to {refused} {when}: nothing listens there, but the backend listens on {listening}, another address of the same name in nginx's config, so nginx moved on and users were answered — not an outage", sorted.fell_back.len()),
    )
    .with_action(format!("make the backend listen on {refused} too, or point nginx at {listening} only (a name such as localhost stands for every address it resolves to)"))
}
