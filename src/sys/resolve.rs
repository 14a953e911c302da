//! Name resolution through the system resolver (getaddrinfo, so /etc/hosts counts),
//! bounded by a hard timeout because getaddrinfo itself has none.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Resolves `host` to its addresses, in the resolver's order without duplicates. IP literals
/// (also `[v6]`) come back as they are. A resolver that does not answer within `timeout` is
/// abandoned: its thread finishes on its own, fixer does not wait for it.
pub fn resolve(host: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if bare.is_empty() {
        return Err("empty host name".to_string());
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let name = bare.to_string();
    thread::Builder::new()
        .name("fixer-resolve".into())
        .spawn(move || {
            let answer = (name.as_str(), 0u16).to_socket_addrs();
            let _ = tx.send(answer.map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>()));
        })
        .map_err(|e| format!("cannot start a resolver thread: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(ips)) if ips.is_empty() => Err("no addresses".to_string()),
        Ok(Ok(ips)) => Ok(dedup(ips)),
        Ok(Err(e)) => Err(lookup_error(&e)),
        Err(_) => Err(format!(
            "the system resolver did not answer within {}",
            crate::format::secs(timeout)
        )),
    }
}

fn dedup(ips: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// getaddrinfo's message without std's "failed to lookup address information:" prefix.
fn lookup_error(e: &std::io::Error) -> String {
    let msg = e.to_string();
    match msg.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("failed to lookup") => rest.to_string(),
        _ => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn literals_come_back_as_they_are() {
        assert_eq!(
            resolve("192.0.2.7", T).unwrap(),
            vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", T).unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn localhost_resolves_through_etc_hosts() {
        let ips = resolve("localhost", T).unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        // Each address the system resolver gives comes back exactly once.
        let raw: Vec<IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0))
            .unwrap()
            .map(|a| a.ip())
            .collect();
        let distinct: std::collections::HashSet<&IpAddr> = raw.iter().collect();
        assert_eq!(ips.len(), distinct.len(), "{ips:?} from {raw:?}");
        assert!(
            ips.iter().all(|ip| distinct.contains(ip)),
            "{ips:?} from {raw:?}"
        );
    }

    #[test]
    fn invalid_names_fail_with_a_reason() {
        let err = resolve("no-such-host.invalid", T).unwrap_err();
        assert!(!err.is_empty());
        assert!(!err.starts_with("failed to lookup"), "{err}");
    }

    #[test]
    fn dedup_keeps_first_order() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        assert_eq!(dedup(vec![a, b, a, b]), vec![a, b]);
    }
}
