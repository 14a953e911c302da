//! `recurl`: the HTTP requests that prove health, straight to the backend and through nginx.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::finding::{Finding, FindingCode};
use crate::limits;
use crate::sanitize::clean;
use crate::step::{Began, StepName, StepResult};

type Rec = crate::step::Recorder<crate::step::details::RecurlDetails>;
use crate::sys::http::{Answers, Failure, FailureKind, Probe, Response};
use crate::sys::probe;
use crate::sys::regular_file;
use crate::target::{PasswordSource, Protocol, Target, VerifySpec};

mod route;

pub use route::route;

pub use crate::step::details::{Route, UrlResult};

/// Whether every verify URL that goes through nginx answered as expected; `None` when the
/// playbook has none. When they all pass the site works, whatever a direct probe says, and
/// no kill or restart is planned.
pub fn nginx_probes_pass(recurl: Option<&StepResult>) -> Option<bool> {
    let urls: Vec<_> = recurl
        .map_or(&[][..], |s| s.details.urls())
        .iter()
        .filter(|u| u.route == Route::Nginx)
        .collect();
    (!urls.is_empty()).then(|| urls.iter().all(|u| u.healthy))
}

pub fn run(target: &Target) -> StepResult {
    finish(target, Began::now(), [], &Answers::new())
}

/// The verify URLs through nginx, asked before nginx's config is read: only a URL straight to
/// the backend needs the config (for the protocol the backend speaks).
pub fn through_nginx(target: &Target, answers: &Answers) -> Vec<Option<UrlResult>> {
    probe_where(target, answers, Vec::new(), |r| r == Route::Nginx)
}

/// The verify URLs straight to the backend, asked in the protocol `target` carries (the
/// config's, once read).
pub fn straight(target: &Target, answers: &Answers) -> Vec<Option<UrlResult>> {
    probe_where(target, answers, Vec::new(), |r| r == Route::Backend)
}

/// The step, from the answers already `asked` (each in playbook order, as [`through_nginx`]
/// and [`straight`] return them) and the URLs none of them asked.
pub fn finish(
    target: &Target,
    began: Began,
    asked: impl IntoIterator<Item = Vec<Option<UrlResult>>>,
    answers: &Answers,
) -> StepResult {
    let mut rec = Rec::began(StepName::Recurl, began);
    if target.verify.is_empty() {
        return rec.skip("no verify URLs configured");
    }
    let mut merged: Vec<Option<UrlResult>> = vec![None; target.verify.len()];
    for part in asked {
        for (slot, r) in merged.iter_mut().zip(part) {
            if slot.is_none() {
                *slot = r;
            }
        }
    }
    let results = complete(target, answers, merged);
    for r in &results {
        rec.see(evidence_line(r));
    }
    rec.details.urls = Some(results.clone());
    let failed: Vec<&UrlResult> = results.iter().filter(|r| !r.healthy).collect();
    let total = results.len();
    if failed.is_empty() {
        let all = match total {
            1 => "the one URL".to_string(),
            n => format!("all {n} URLs"),
        };
        return rec.ok(format!("{all} answered as expected"));
    }
    let Some(worst) = failed
        .iter()
        .filter(|r| r.finding.is_some())
        .min_by_key(|r| rank(r))
    else {
        let err = anyhow::anyhow!(failed[0].error.clone().unwrap_or_default());
        return rec.could_not_run(&err);
    };
    rec.fail(finding(worst, failed.len(), total))
}

/// Probes every verify URL, in playbook order.
pub fn probe_all(target: &Target) -> Vec<UrlResult> {
    complete(target, &Answers::new(), Vec::new())
}

/// `asked`, with the URLs it lacks probed now.
fn complete(target: &Target, answers: &Answers, asked: Vec<Option<UrlResult>>) -> Vec<UrlResult> {
    probe_where(target, answers, asked, |_| true)
        .into_iter()
        .zip(&target.verify)
        .map(|(r, spec)| {
            r.unwrap_or_else(|| not_probed(target, spec, "probe-failed", "the probe thread failed"))
        })
        .collect()
}

/// Probes the verify URLs whose route `wanted` picks and `asked` lacks, concurrently through at most
/// `PROBE_THREADS` workers, so stuck URLs cost one timeout per batch, not one each; results
/// come back in playbook order.
fn probe_where(
    target: &Target,
    answers: &Answers,
    mut asked: Vec<Option<UrlResult>>,
    wanted: impl Fn(Route) -> bool,
) -> Vec<Option<UrlResult>> {
    let specs = &target.verify;
    asked.resize(specs.len(), None);
    // A URL's route may take a name lookup: it is found once here.
    let todo: Vec<(usize, Route)> = (0..specs.len())
        .filter(|&i| asked[i].is_none())
        .map(|i| (i, route(target, &specs[i])))
        .filter(|&(_, r)| wanted(r))
        .collect();
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<UrlResult>>> = asked.into_iter().map(Mutex::new).collect();
    let work = || {
        while let Some(&(i, route)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
            let r = probe_routed(target, &specs[i], route, answers);
            *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        }
    };
    std::thread::scope(|s| {
        // This thread asks too: a single URL needs no thread of its own.
        let wanted = todo.len().min(limits::PROBE_THREADS).saturating_sub(1);
        (0..wanted).for_each(|_| {
            let _ = std::thread::Builder::new().spawn_scoped(s, work);
        });
        work();
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// One GET of a verify URL, classified against its expected statuses and route.
pub fn probe_url(target: &Target, spec: &VerifySpec) -> UrlResult {
    probe_routed(target, spec, route(target, spec), &Answers::new())
}

fn probe_routed(target: &Target, spec: &VerifySpec, route: Route, answers: &Answers) -> UrlResult {
    let basic_auth = match &spec.auth {
        None => None,
        Some(auth) => match read_password(&auth.password) {
            Ok(password) => Some((auth.user.clone(), password)),
            Err(msg) => {
                return UrlResult {
                    error_kind: Some("credentials".into()),
                    error: Some(msg),
                    ..base(spec, route)
                }
            }
        },
    };
    let probe = Probe {
        url: spec.url.clone(),
        via: spec.via.clone(),
        insecure: spec.insecure,
        basic_auth,
        timeout: target.timeout,
    };
    let outcome = match backend_request(target, spec, route) {
        Some(direct) => answers.once(direct.key(), || probe::probe(&direct)),
        None => answers.get(&probe),
    };
    drop(probe);
    classify(base(spec, route), spec, outcome)
}

/// A plain-HTTP URL straight to a backend that speaks something else (FastCGI, HTTPS, ...) is
/// asked in the backend's own protocol, as nginx would ask it. One to an HTTP backend that names
/// its address as the playbook does (`http://127.0.0.1:8080/health`) is the port_holder step's
/// own request when the paths agree (the same `GET` with the same `Host`, HTTP/1.0 as nginx
/// speaks by default), so the backend is asked once.
fn backend_request(target: &Target, spec: &VerifySpec, route: Route) -> Option<probe::Request> {
    let backend = target.backend.as_ref()?;
    let protocol = backend.protocol();
    let plain = spec.url.starts_with("http://");
    if route != Route::Backend || !plain || spec.auth.is_some() {
        return None;
    }
    let rest = &spec.url["http://".len()..];
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let named_as_backend = rest.strip_suffix(path) == Some(&backend.address.to_string());
    let same_request = named_as_backend && spec.via.is_none() && !path.contains('#');
    if protocol == Protocol::Http && !same_request {
        return None;
    }
    let request = probe::Request::new(&backend.address, protocol, path, None, target.timeout);
    Some(request)
}

fn base(spec: &VerifySpec, route: Route) -> UrlResult {
    UrlResult {
        url: mask_userinfo(&spec.url),
        via: spec.via.clone(),
        route,
        expect: spec.expect.clone(),
        status: None,
        reason: None,
        server: None,
        location: None,
        elapsed_ms: 0,
        error_kind: None,
        error: None,
        healthy: false,
        finding: None,
        failure_kind: None,
    }
}

/// A URL's answer as a value, for tests of code that reads recurl's results.
#[cfg(test)]
pub(crate) fn answered(url: &str, route: Route, healthy: bool) -> UrlResult {
    let spec = VerifySpec {
        url: url.to_string(),
        via: None,
        insecure: false,
        expect: vec![],
        auth: None,
    };
    UrlResult {
        healthy,
        ..base(&spec, route)
    }
}

fn not_probed(target: &Target, spec: &VerifySpec, kind: &str, msg: &str) -> UrlResult {
    UrlResult {
        error_kind: Some(kind.into()),
        error: Some(msg.to_string()),
        ..base(spec, route(target, spec))
    }
}

/// Reads a basic-auth password; errors name where it was looked for, never its content.
pub(crate) fn read_password(source: &PasswordSource) -> Result<String, String> {
    match source {
        PasswordSource::Env(var) => std::env::var(var).map_err(|e| match e {
            std::env::VarError::NotPresent => {
                format!("basic-auth password: environment variable {var} is not set")
            }
            std::env::VarError::NotUnicode(_) => {
                format!("basic-auth password: environment variable {var} is not valid UTF-8")
            }
        }),
        PasswordSource::File(path) => {
            let cap = limits::PASSWORD_FILE_MAX_BYTES;
            match regular_file::read("basic-auth password file", path, cap) {
                Ok((bytes, _)) => Ok(String::from_utf8_lossy(&bytes)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

fn classify(mut r: UrlResult, spec: &VerifySpec, outcome: Result<Response, Failure>) -> UrlResult {
    match outcome {
        Ok(resp) => {
            let status = resp.status;
            r.healthy = spec.expects(status);
            r.finding = (!r.healthy).then(|| status_finding(status, r.route));
            r.status = Some(status);
            r.reason = Some(resp.reason);
            r.server = resp.server;
            r.location = resp.location;
            r.elapsed_ms = resp.elapsed_ms;
        }
        // Connected to a backend whose protocol fixer does not speak: the connect is the check.
        Err(f) if f.kind == FailureKind::NotSpoken => {
            r.healthy = true;
            r.error_kind = Some(f.kind.as_str().to_string());
            r.failure_kind = Some(f.kind);
            r.error = Some(f.message);
            r.elapsed_ms = f.elapsed_ms;
        }
        Err(f) => {
            // A request fixer could not make is no finding about the site: not probed.
            r.finding = match f.kind {
                FailureKind::Local => None,
                FailureKind::ResponseTimeout => Some(FindingCode::HttpTimeout),
                _ => Some(FindingCode::HttpConnectFailed),
            };
            r.error_kind = Some(f.kind.as_str().to_string());
            r.failure_kind = Some(f.kind);
            r.error = Some(f.message);
            r.elapsed_ms = f.elapsed_ms;
        }
    }
    r
}

fn status_finding(status: u16, route: Route) -> FindingCode {
    match (status, route) {
        (502..=504, Route::Nginx) => FindingCode::HttpGatewayError,
        (500..=599, Route::Backend) => FindingCode::HttpBackendError,
        (300..=399, _) => FindingCode::HttpRedirect,
        _ => FindingCode::HttpUnexpectedStatus,
    }
}

/// Lower is more telling: a failing backend URL explains the nginx ones.
fn rank(r: &UrlResult) -> (u8, u8) {
    let code = match r.finding {
        Some(FindingCode::HttpGatewayError) => 0,
        Some(FindingCode::HttpTimeout) => 1,
        Some(FindingCode::HttpConnectFailed) => 2,
        Some(FindingCode::HttpBackendError) => 3,
        Some(FindingCode::HttpRedirect) => 4,
        _ => 5,
    };
    (u8::from(r.route != Route::Backend), code)
}

fn finding(r: &UrlResult, failed: usize, total: usize) -> Finding {
    let code = r.finding.unwrap_or(FindingCode::HttpUnexpectedStatus);
    let what = match r.route {
        Route::Backend => format!("the backend URL {}", clean(&r.url)),
        Route::Nginx => clean(&r.url),
    };
    let (cause, action) = explain(code, r, &what);
    let failed = match total {
        1 => "the one URL failed".to_string(),
        _ => format!(
            "{failed} of {} failed",
            crate::text::count(total, "URL", "URLs")
        ),
    };
    Finding::new(code, format!("{cause} ({failed})")).with_action(action)
}

fn explain(code: FindingCode, r: &UrlResult, what: &str) -> (String, &'static str) {
    let status = status_text(r);
    let error = clean(r.error.as_deref().unwrap_or("no response"));
    match code {
        FindingCode::HttpGatewayError => (
            format!("nginx answered {status} for {what}: {}", gateway_meaning(r.status)),
            "fix the backend behind nginx (the backend_port and port_holder steps say what is wrong with it); nginx recovers once the backend answers",
        ),
        FindingCode::HttpBackendError => (
            format!("{what} answered {status}: the backend itself is failing"),
            "read the backend's own log for the error behind this status",
        ),
        FindingCode::HttpRedirect => (
            format!(
                "{what} redirects with {status} to {}, expected {}",
                clean(r.location.as_deref().unwrap_or("(no Location)")),
                expected_text(&r.expect)
            ),
            "probe the URL it redirects to (often https:// or a trailing slash), or add the status to expect",
        ),
        FindingCode::HttpUnexpectedStatus => (
            format!("{what} answered {status}, expected {}", expected_text(&r.expect)),
            "check the URL, its credentials and its expected statuses (a 401 is healthy behind basic auth if listed in expect)",
        ),
        FindingCode::HttpTimeout => (
            format!("{what}: {error} — slower than fixer's --timeout, or stuck"),
            "the port_holder step tells slow from stuck; only a holder shown not to serve is restarted",
        ),
        _ => (
            format!("{what}: {error}"),
            match r.route {
                Route::Backend => "start or restart the backend so it listens on its address",
                Route::Nginx => "start nginx, or check that it listens on this address and port",
            },
        ),
    }
}

fn gateway_meaning(status: Option<u16>) -> &'static str {
    match status {
        Some(502) => "nginx could not connect to the backend, or the backend reset the connection",
        Some(504) => "the backend accepted the connection but did not answer within nginx's proxy_read_timeout",
        _ => "nginx has no backend available (all upstream servers marked down, or a limit reached)",
    }
}

fn status_text(r: &UrlResult) -> String {
    match (r.status, &r.reason) {
        (Some(s), Some(reason)) if !reason.is_empty() => format!("{s} {}", clean(reason)),
        (Some(s), _) => s.to_string(),
        (None, _) => "nothing".to_string(),
    }
}

fn expected_text(expect: &[u16]) -> String {
    if expect.is_empty() {
        return "any status below 500".to_string();
    }
    expect
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET https://localhost:8443/api/health via 127.0.0.1 → 200 OK in 4 ms (Server: nginx/1.22.1), expected 200`
pub fn evidence_line(r: &UrlResult) -> String {
    let via = r
        .via
        .as_ref()
        .map(|v| format!(" via {}", clean(v)))
        .unwrap_or_default();
    let head = format!("GET {}{via} →", clean(&r.url));
    if r.status.is_none() {
        let error = clean(r.error.as_deref().unwrap_or("no response"));
        return match r.failure_kind {
            Some(FailureKind::ResponseTimeout | FailureKind::ConnectTimeout) => {
                format!("{head} {error}")
            }
            Some(_) => format!("{head} {error} after {} ms", r.elapsed_ms),
            None => format!("{head} not sent: {error}"),
        };
    }
    let mut headers = Vec::new();
    if let Some(s) = &r.server {
        headers.push(format!("Server: {}", clean(s)));
    }
    if let Some(l) = &r.location {
        headers.push(format!("Location: {}", clean(l)));
    }
    let headers = if headers.is_empty() {
        String::new()
    } else {
        format!(" ({})", headers.join(", "))
    };
    format!(
        "{head} {} in {} ms{headers}, expected {}",
        status_text(r),
        r.elapsed_ms,
        expected_text(&r.expect)
    )
}

/// Masks the password of a `user:password@host` URL so it can be shown.
pub(crate) fn mask_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_in_urls() {
        assert_eq!(
            mask_userinfo("http://a:s3cret@h:1/p?q=@"),
            "http://a:***@h:1/p?q=@"
        );
        assert_eq!(mask_userinfo("https://h/x"), "https://h/x");
    }

    #[test]
    fn maps_statuses_to_findings_by_route() {
        assert_eq!(
            status_finding(502, Route::Nginx),
            FindingCode::HttpGatewayError
        );
        assert_eq!(
            status_finding(504, Route::Nginx),
            FindingCode::HttpGatewayError
        );
        assert_eq!(
            status_finding(502, Route::Backend),
            FindingCode::HttpBackendError
        );
        assert_eq!(
            status_finding(500, Route::Nginx),
            FindingCode::HttpUnexpectedStatus
        );
        assert_eq!(status_finding(301, Route::Nginx), FindingCode::HttpRedirect);
        assert_eq!(
            status_finding(404, Route::Backend),
            FindingCode::HttpUnexpectedStatus
        );
    }
}
