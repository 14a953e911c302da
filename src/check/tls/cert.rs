//! Reading a served certificate: its names, validity and issuer, and whether it covers a host.

use std::net::IpAddr;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::step::details::CertSummary;

/// The parts of one certificate the tls step judges.
#[derive(Debug, Clone)]
pub struct Cert {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
}

impl Cert {
    pub fn parse(der: &[u8]) -> Result<Cert, String> {
        let (_, c) = X509Certificate::from_der(der)
            .map_err(|e| format!("the served certificate does not parse: {e}"))?;
        let mut dns_names = Vec::new();
        let mut ips = Vec::new();
        if let Ok(Some(san)) = c.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                    GeneralName::IPAddress(b) => ips.extend(ip_of(b)),
                    _ => {}
                }
            }
        }
        let common_name = c
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        Ok(Cert {
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            common_name,
            dns_names,
            ips,
            not_before: c.validity().not_before.timestamp(),
            not_after: c.validity().not_after.timestamp(),
            self_signed: c.subject().as_raw() == c.issuer().as_raw(),
        })
    }

    /// Whether the certificate names `host` (a DNS name or an IP literal). Subject
    /// alternative names decide when there are any; the common name only when there are none,
    /// as clients do.
    pub fn covers(&self, host: &str) -> bool {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ips.contains(&ip);
        }
        if self.dns_names.is_empty() && self.ips.is_empty() {
            return self
                .common_name
                .as_deref()
                .is_some_and(|cn| matches(cn, host));
        }
        self.dns_names.iter().any(|n| matches(n, host))
    }

    /// Whole days from `now` to expiry, rounded down; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    pub fn summary(&self) -> CertSummary {
        let mut names = self.dns_names.clone();
        names.extend(self.ips.iter().map(IpAddr::to_string));
        CertSummary {
            subject: self.subject.clone(),
            issuer: self.issuer.clone(),
            names,
            not_before: rfc3339(self.not_before),
            not_after: rfc3339(self.not_after),
        }
    }
}

/// `2026-01-01T00:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// RFC 6125 matching: case-insensitive, and a `*` only as the whole leftmost label, standing
/// for exactly one label.
fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest && rest.contains('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stand_for_one_label() {
        assert!(matches("*.example.com", "www.example.com"));
        assert!(matches("*.Example.com", "WWW.example.com."));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.com", "example.com"));
        assert!(matches("example.com", "example.com"));
        assert!(!matches("example.com", "www.example.com"));
    }

    #[test]
    fn names_decide_over_the_common_name() {
        let mut c = Cert {
            subject: "CN=old.example".into(),
            issuer: "CN=old.example".into(),
            common_name: Some("old.example".into()),
            dns_names: vec![],
            ips: vec![],
            not_before: 0,
            not_after: 86_400 * 10,
            self_signed: true,
        };
        assert!(c.covers("old.example"));
        c.dns_names.push("new.example".into());
        assert!(!c.covers("old.example"));
        assert!(c.covers("new.example"));
        c.ips.push("127.0.0.1".parse().unwrap());
        assert!(c.covers("127.0.0.1"));
        assert!(!c.covers("::1"));
        assert_eq!(c.days_left(0), 10);
        assert_eq!(c.days_left(86_400 * 10 + 1), -1);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Cert::parse(b"").is_err());
        assert!(Cert::parse(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]).is_err());
    }
}
