//! Which route a verify URL takes: straight to the backend, or through nginx.

use std::net::SocketAddr;

use super::Route;
use crate::sys::http::{self, UrlParts};
use crate::target::{BackendAddr, Target, VerifySpec};

/// `backend` when the URL connects to the target's backend (any address of it, by the one
/// rule of `sys::net::serves`), else `nginx`.
pub fn route(target: &Target, spec: &VerifySpec) -> Route {
    let backend = match target.backend.as_ref().map(|b| &b.address) {
        Some(a @ (BackendAddr::Tcp(_) | BackendAddr::Named(_))) => a.tcp_addrs(),
        _ => return Route::Nginx,
    };
    let Ok(url) = UrlParts::parse(&spec.url) else {
        return Route::Nginx;
    };
    // Only a URL on a backend port can reach the backend: spare the others a name lookup.
    let port = spec
        .via
        .as_deref()
        .and_then(|v| http::parse_via(v, url.port).ok())
        .map_or(url.port, |a| a.port());
    if !backend.iter().any(|b| b.port() == port) {
        return Route::Nginx;
    }
    let connect = url
        .connect_addrs(spec.via.as_deref(), target.timeout)
        .unwrap_or_default();
    if reaches(&connect, &backend) {
        Route::Backend
    } else {
        Route::Nginx
    }
}

/// Whether a probe to any of `connect` lands on a socket bound at one of `backend` (a backend
/// bound to 0.0.0.0 or [::] is reached through loopback on the same port).
fn reaches(connect: &[SocketAddr], backend: &[SocketAddr]) -> bool {
    let dual = crate::sys::net::dual_stack_default();
    connect.iter().any(|c| {
        backend
            .iter()
            .any(|b| crate::sys::net::serves(*b, *c, dual))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_backend_address_matches_loopback() {
        let any: Vec<SocketAddr> = vec!["0.0.0.0:8080".parse().unwrap()];
        assert!(reaches(&["127.0.0.1:8080".parse().unwrap()], &any));
        assert!(!reaches(&["127.0.0.1:8081".parse().unwrap()], &any));
        let localhost: Vec<SocketAddr> = vec![
            "[::1]:8080".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        ];
        assert!(reaches(&["127.0.0.1:8080".parse().unwrap()], &localhost));
        assert!(!reaches(&["10.0.0.1:8080".parse().unwrap()], &localhost));
    }
}
