//! `tls`: what nginx serves on each HTTPS verify URL — the certificate chain for the URL's
//! name (SNI), whether it names the host, how long it is valid, who issued it, the protocol and
//! ALPN — and whether the HTTPS answer carries the usual security headers.

use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::details::{Route, TlsDetails, TlsSite};
use crate::step::{Began, Recorder, StepName, StepResult};
use crate::sys::http::{self, Answers, FailureKind, Probe};
use crate::sys::tls;
use crate::target::{Target, VerifySpec};

mod cert;
mod judge;
mod ports;

use cert::Cert;

type Rec = Recorder<TlsDetails>;

/// A certificate that expires within this many days is a warning.
pub const EXPIRING_DAYS: i64 = 14;

/// The headers looked for on an HTTPS answer. `X-Frame-Options` may be replaced by CSP's
/// `frame-ancestors`.
const HEADERS: &[&str] = &[
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
];

pub fn run(target: &Target, nginx: &NginxView) -> StepResult {
    let began = Began::now();
    let answers = Answers::new();
    let mut sites = given(target, &answers);
    sites.extend(from_config(target, nginx, &answers));
    judged(began, sites)
}

/// The HTTPS verify URLs through nginx, read before nginx's config: they need none of it.
pub fn given(target: &Target, answers: &Answers) -> Vec<TlsSite> {
    let now = chrono::Utc::now().timestamp();
    given_specs(target)
        .into_iter()
        .map(|s| inspect(target, s, now, answers))
        .collect()
}

/// The HTTPS ports in nginx's config for the site that no verify URL covers.
pub fn from_config(target: &Target, nginx: &NginxView, answers: &Answers) -> Vec<TlsSite> {
    let now = chrono::Utc::now().timestamp();
    ports::uncovered(target, nginx, &given_specs(target))
        .iter()
        .map(|s| inspect(target, s, now, answers))
        .collect()
}

fn given_specs(target: &Target) -> Vec<&VerifySpec> {
    target
        .verify
        .iter()
        .filter(|s| s.url.starts_with("https://"))
        .filter(|s| crate::check::recurl::route(target, s) == Route::Nginx)
        .collect()
}

/// The step, from the sites [`given`] and [`from_config`] read.
pub fn judged(began: Began, sites: Vec<TlsSite>) -> StepResult {
    let mut rec = Rec::began(StepName::Tls, began);
    if sites.is_empty() {
        return rec.skip("no HTTPS verify URL through nginx, and no `listen ... ssl` on its ports");
    }
    for site in &sites {
        for line in judge::evidence(site) {
            rec.see(line);
        }
    }
    rec.details.sites = Some(sites.clone());
    judge::verdict(rec, &sites)
}

/// One handshake and one GET for a URL, judged as data.
fn inspect(target: &Target, spec: &VerifySpec, now: i64, answers: &Answers) -> TlsSite {
    let name = http::UrlParts::parse(&spec.url).map_or_else(|_| String::new(), |u| u.host);
    let mut site = TlsSite {
        url: spec.url.clone(),
        name: name.clone(),
        address: None,
        protocol: None,
        alpn: None,
        chain: Vec::new(),
        name_matches: None,
        self_signed: None,
        days_left: None,
        insecure: spec.insecure,
        headers_missing: None,
        status: None,
        error: None,
        handshake_failed: false,
    };
    let served = match tls::inspect(&spec.url, spec.via.as_deref(), target.timeout) {
        Ok(s) => s,
        Err(f) => {
            site.handshake_failed = f.kind == FailureKind::Tls;
            site.error = Some(f.message);
            return site;
        }
    };
    site.address = Some(served.addr.to_string());
    site.protocol = served.protocol;
    site.alpn = served.alpn;
    let certs: Vec<Result<Cert, String>> = served.chain.iter().map(|d| Cert::parse(d)).collect();
    site.chain = certs.iter().flatten().map(Cert::summary).collect();
    match certs.first() {
        Some(Ok(leaf)) => {
            site.name_matches = Some(leaf.covers(&name));
            site.self_signed = Some(leaf.self_signed);
            site.days_left = Some(leaf.days_left(now));
        }
        Some(Err(e)) => site.error = Some(e.clone()),
        None => site.error = Some("the server sent no certificate".into()),
    }
    read_headers(target, spec, &mut site, answers);
    site
}

/// The security headers, read from a real GET with the same name and address. Only a 2xx or
/// 3xx answer is judged: nginx's `add_header` leaves error answers without them by default.
fn read_headers(target: &Target, spec: &VerifySpec, site: &mut TlsSite, answers: &Answers) {
    let probe = Probe {
        url: spec.url.clone(),
        via: spec.via.clone(),
        insecure: true,
        basic_auth: None,
        timeout: target.timeout,
    };
    match answers.get_with_headers(&probe, HEADERS) {
        Ok((resp, headers)) => {
            site.status = Some(resp.status);
            if (200..400).contains(&resp.status) {
                site.headers_missing = Some(missing(&headers));
            }
        }
        Err(f) if f.kind == FailureKind::Local => {}
        Err(f) => {
            site.error
                .get_or_insert(format!("GET: {}", clean(&f.message)));
        }
    }
}

/// The security headers an answer lacks, by their usual names.
fn missing(headers: &[(String, String)]) -> Vec<String> {
    let has = |n: &str| headers.iter().any(|(k, v)| k == n && !v.trim().is_empty());
    let frame_ancestors = headers.iter().any(|(k, v)| {
        k == "content-security-policy" && v.to_ascii_lowercase().contains("frame-ancestors")
    });
    let mut out = Vec::new();
    if !has("strict-transport-security") {
        out.push("Strict-Transport-Security".to_string());
    }
    if !has("x-content-type-options") {
        out.push("X-Content-Type-Options".to_string());
    }
    if !has("x-frame-options") && !frame_ancestors {
        out.push("X-Frame-Options (or CSP frame-ancestors)".to_string());
    }
    out
}

/// A finding from one site, for the judge.
fn finding(code: FindingCode, cause: String, action: &str) -> Finding {
    Finding::new(code, cause).with_action(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_frame_ancestors_stands_in_for_x_frame_options() {
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
        let all = missing(&[]);
        assert_eq!(all.len(), 3);
        let csp = missing(&[
            h("strict-transport-security", "max-age=63072000"),
            h("x-content-type-options", "nosniff"),
            h(
                "content-security-policy",
                "default-src 'self'; frame-ancestors 'none'",
            ),
        ]);
        assert!(csp.is_empty(), "{csp:?}");
        let no_frame = missing(&[h("content-security-policy", "default-src 'self'")]);
        assert_eq!(no_frame.len(), 3);
    }
}
