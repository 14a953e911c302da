//! This host's own addresses, to tell whether a domain points here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;

/// Every address on every interface, loopback included, in interface order without duplicates.
pub fn local_ips() -> anyhow::Result<Vec<IpAddr>> {
    let addrs = nix::ifaddrs::getifaddrs().context("listing interface addresses (getifaddrs)")?;
    let mut out: Vec<IpAddr> = Vec::new();
    for ifa in addrs {
        let Some(storage) = ifa.address else { continue };
        let ip = if let Some(v4) = storage.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = storage.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// Whether `ip` is a public (global unicast) address, i.e. one the internet can reach without
/// NAT. Private, loopback, link-local, shared (CGNAT), documentation and multicast ranges are not.
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(&v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let benchmarking = a == 198 && (b == 18 || b == 19);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || shared
        || documentation
        || benchmarking
        || a == 0
        || a >= 240)
}

fn is_public_v6(ip: &Ipv6Addr) -> bool {
    let seg = ip.segments();
    let global_unicast = seg[0] & 0xe000 == 0x2000;
    let documentation = seg[0] == 0x2001 && seg[1] == 0x0db8;
    global_unicast && !documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_is_always_listed() {
        let ips = local_ips().unwrap();
        assert!(ips.contains(&ip("127.0.0.1")), "{ips:?}");
    }

    #[test]
    fn tells_public_from_private() {
        for public in ["8.8.8.8", "47.84.111.158", "2a00:1450::1", "::ffff:1.1.1.1"] {
            assert!(is_public(&ip(public)), "{public}");
        }
        let private = [
            "10.1.2.3",
            "172.17.0.2",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.10",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ];
        for p in private {
            assert!(!is_public(&ip(p)), "{p}");
        }
    }
}
