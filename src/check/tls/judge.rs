//! The tls step's evidence lines and verdict, from the sites as read.

use super::{finding, Rec, EXPIRING_DAYS};
use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::details::TlsSite;
use crate::step::StepResult;

/// Lines for one site: the handshake, the leaf certificate, the rest of the chain, headers.
pub(super) fn evidence(site: &TlsSite) -> Vec<String> {
    let url = clean(&site.url);
    let at = site
        .address
        .as_deref()
        .map(|a| format!(" at {a}"))
        .unwrap_or_default();
    let mut out = Vec::new();
    if site.address.is_none() {
        let error = clean(site.error.as_deref().unwrap_or("no handshake"));
        out.push(format!("{url}: no TLS handshake: {error}"));
        return out;
    }
    out.push(format!(
        "{url}{at}: {}, ALPN {} (SNI {})",
        site.protocol.as_deref().unwrap_or("unknown protocol"),
        site.alpn.as_deref().map_or("none".to_string(), clean),
        clean(&site.name)
    ));
    if let Some(leaf) = site.chain.first() {
        let names = if leaf.names.is_empty() {
            "no subject alternative names".to_string()
        } else {
            format!("names {}", clean(&leaf.names.join(", ")))
        };
        let issuer = if site.self_signed == Some(true) && site.insecure {
            "self-signed (accepted: insecure = true)".to_string()
        } else if site.self_signed == Some(true) {
            "self-signed".to_string()
        } else {
            format!("issued by {}", clean(&leaf.issuer))
        };
        let left = match site.days_left {
            Some(d) if d < 0 => format!("EXPIRED {} days ago", -d),
            Some(d) => format!("{d} days left"),
            None => "validity unknown".into(),
        };
        out.push(format!(
            "certificate {}: {names}; {issuer}; valid {} to {} ({left})",
            clean(&leaf.subject),
            leaf.not_before,
            leaf.not_after
        ));
    }
    if site.chain.len() > 1 {
        let rest: Vec<String> = site.chain[1..].iter().map(|c| clean(&c.subject)).collect();
        out.push(format!("chain also sends: {}", rest.join(" → ")));
    }
    match (&site.headers_missing, site.status) {
        (Some(m), Some(s)) if m.is_empty() => {
            out.push(format!("answer {s}: security headers present"))
        }
        (Some(m), Some(s)) => out.push(format!("answer {s}: missing {}", m.join(", "))),
        (None, Some(s)) => out.push(format!("answer {s}: security headers not judged on it")),
        _ => {}
    }
    if let Some(e) = &site.error {
        out.push(format!("{url}: {}", clean(e)));
    }
    out
}

/// The worst thing found on any site decides: a failure first, then a warning.
pub(super) fn verdict(rec: Rec, sites: &[TlsSite]) -> StepResult {
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for site in sites {
        judge(site, &mut fails, &mut warns);
    }
    if let Some(f) = fails.into_iter().min_by_key(|(rank, _)| *rank) {
        return rec.fail(f.1);
    }
    if let Some(w) = warns.into_iter().min_by_key(|(rank, _)| *rank) {
        return rec.warn(w.1.cause.clone(), Some(w.1));
    }
    let inspected = sites.iter().filter(|s| s.address.is_some()).count();
    if inspected == 0 {
        return rec.skip("no HTTPS URL completed a handshake (the nginx and recurl steps say why)");
    }
    rec.ok(format!(
        "{} valid for {}",
        crate::text::count(inspected, "certificate", "certificates"),
        names(sites)
    ))
}

fn names(sites: &[TlsSite]) -> String {
    let mut names: Vec<String> = sites.iter().map(|s| clean(&s.name)).collect();
    names.dedup();
    names.join(", ")
}

fn judge(site: &TlsSite, fails: &mut Vec<(u8, Finding)>, warns: &mut Vec<(u8, Finding)>) {
    let url = clean(&site.url);
    let name = clean(&site.name);
    if site.handshake_failed {
        let cause = format!(
            "{url}: {}",
            clean(site.error.as_deref().unwrap_or("the TLS handshake failed"))
        );
        fails.push((2, finding(FindingCode::TlsHandshakeFailed, cause,
            "check nginx's ssl_certificate, ssl_certificate_key and ssl_protocols for this server, and that the port is a `listen ... ssl` one")));
    }
    let leaf = site.chain.first();
    if let (Some(leaf), Some(days)) = (leaf, site.days_left) {
        if days < 0 {
            let cause = format!(
                "the certificate nginx serves for {name} expired on {} ({} days ago): clients refuse the connection",
                leaf.not_after, -days
            );
            fails.push((0, finding(FindingCode::TlsExpired, cause,
                "renew the certificate (e.g. `certbot renew`), then reload nginx so it serves the new one")));
        } else if days < EXPIRING_DAYS {
            let cause = format!(
                "the certificate nginx serves for {name} expires on {} ({days} days left)",
                leaf.not_after
            );
            warns.push((2, finding(FindingCode::TlsExpiring, cause,
                "renew the certificate before it expires, and check that automatic renewal runs")));
        }
    }
    if let (Some(leaf), Some(false)) = (leaf, site.name_matches) {
        let listed = if leaf.names.is_empty() {
            leaf.subject.clone()
        } else {
            leaf.names.join(", ")
        };
        let cause = format!(
            "the certificate nginx serves for {name} does not name it (it names {})",
            clean(&listed)
        );
        let action = "serve a certificate that covers this name (ssl_certificate of the server block with this server_name), or add the name to the certificate";
        let f = finding(FindingCode::TlsNameMismatch, cause, action);
        if site.insecure {
            warns.push((1, f));
        } else {
            fails.push((1, f));
        }
    }
    if site.self_signed == Some(true) && !site.insecure {
        let cause = format!("the certificate nginx serves for {name} is self-signed: browsers and clients do not trust it");
        warns.push((0, finding(FindingCode::TlsSelfSigned, cause,
            "serve a certificate from a trusted CA (e.g. Let's Encrypt), or set insecure = true on this verify URL if self-signed is intended")));
    }
    if let Some(missing) = site.headers_missing.as_ref().filter(|m| !m.is_empty()) {
        let cause = format!("{url} answers without {}", missing.join(", "));
        warns.push((3, finding(FindingCode::HeadersMissing, cause,
            "add them in nginx's server block, e.g. `add_header Strict-Transport-Security \"max-age=31536000\" always;`")));
    }
}
