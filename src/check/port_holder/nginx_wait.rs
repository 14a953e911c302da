//! What nginx itself says about the backend: how long it waits for an answer here (the
//! `*_read_timeout` of the locations that pass to it, from `nginx -T`), and whether it gave up
//! on it — a 504 to one of fixer's probes, or `upstream timed out` in its error log since the
//! holder started. A holder slower than fixer's own timeout is only stuck when nginx, which
//! users go through, gives up on it too.

use std::time::Duration;

use crate::check::nginx::NginxView;
use crate::check::recurl::{Route, UrlResult};
use crate::nginx::conf::{self, Directive, Endpoint};
use crate::step::StepResult;
use crate::sys::process::ProcessInfo;
use crate::target::BackendAddr;

/// nginx's default for every `*_read_timeout`.
pub(super) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long nginx waits for the backend's answer, and where that was read.
#[derive(Debug, Clone)]
pub(super) struct ReadTimeout {
    pub wait: Duration,
    /// `proxy_read_timeout at FILE:LINE`, or that it is nginx's default.
    pub source: String,
}

/// The shortest read timeout over every location that passes to `backend`; `None` when the
/// effective config is not available or no location passes to it.
pub(super) fn read_timeout(nginx: &NginxView, backend: &BackendAddr) -> Option<ReadTimeout> {
    let dump = nginx.dump.as_ref().filter(|d| d.ok)?;
    let tree = dump.tree();
    let mut found = Vec::new();
    walk(tree, tree, backend, &[], &mut found);
    found.into_iter().min_by_key(|t| t.wait)
}

/// Walks blocks, carrying the `*_read_timeout` directives inherited from enclosing blocks.
fn walk<'a>(
    all: &[Directive],
    block: &'a [Directive],
    backend: &BackendAddr,
    inherited: &[&'a Directive],
    out: &mut Vec<ReadTimeout>,
) {
    let mut here: Vec<&Directive> = inherited.to_vec();
    for d in block.iter().filter(|d| d.name.ends_with("_read_timeout")) {
        here.retain(|h| h.name != d.name);
        here.push(d);
    }
    for d in block {
        if let Some(kind) = d.name.strip_suffix("_pass") {
            let reaches = conf::endpoints(all, d)
                .iter()
                .any(|(e, _)| same(e, backend));
            if reaches {
                let name = format!("{kind}_read_timeout");
                out.push(match here.iter().find(|h| h.name == name) {
                    Some(h) => ReadTimeout {
                        wait: h
                            .args
                            .first()
                            .and_then(|a| parse_time(a))
                            .unwrap_or(DEFAULT_READ_TIMEOUT),
                        source: format!("{name} at {}", h.at()),
                    },
                    None => ReadTimeout {
                        wait: DEFAULT_READ_TIMEOUT,
                        source: format!("nginx's default {name}"),
                    },
                });
            }
        }
        if let Some(children) = d.block.as_deref() {
            walk(all, children, backend, &here, out);
        }
    }
}

fn same(e: &Endpoint, backend: &BackendAddr) -> bool {
    match (e, backend) {
        (Endpoint::Unix(p), BackendAddr::Unix(b)) => std::path::Path::new(p) == b,
        (Endpoint::Tcp { host, port }, BackendAddr::Tcp(a)) if *port == a.port() => {
            match host.parse::<std::net::IpAddr>() {
                Ok(ip) => ip == a.ip() || a.ip().is_unspecified() && ip.is_loopback(),
                Err(_) => host == "localhost" && a.ip().is_loopback(),
            }
        }
        _ => false,
    }
}

/// nginx's time syntax: `10`, `10s`, `500ms`, `2m`, `1h`, `1m30s`.
pub(super) fn parse_time(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit] {
            "" | "s" => n * 1000,
            "ms" => n,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            "d" => n * 86_400_000,
            _ => return None,
        };
        total += Duration::from_millis(secs);
        rest = &rest[unit..];
    }
    Some(total)
}

/// Reasons to believe nginx itself gives up on this backend, each a sentence of evidence.
pub(super) fn gave_up(
    error_log: Option<&StepResult>,
    recurl: Option<&StepResult>,
    backend: &BackendAddr,
    holders: &[ProcessInfo],
    read_timeout: Option<Duration>,
) -> Vec<String> {
    let mut out = Vec::new();
    // A 504 that came sooner than nginx waits for this backend came from another location.
    let waited_enough = |u: &UrlResult| {
        let ms = u.elapsed_ms as f64;
        read_timeout.is_none_or(|t| ms >= t.as_millis() as f64 * 0.9)
    };
    for u in urls(recurl) {
        if u.route == Route::Nginx && u.status == Some(504) && waited_enough(u) {
            out.push(format!(
                "nginx answered 504 Gateway Timeout to GET {}: it gave up waiting for the backend",
                crate::sanitize::clean(&u.url)
            ));
        }
    }
    let started = holders
        .iter()
        .map(|p| p.started_unix)
        .fold(f64::INFINITY, f64::min);
    let address = backend.to_string();
    let groups = error_log.map_or(&[][..], |s| s.details.error_groups());
    // The error_log step keeps only this backend's lines (every address it resolves to), so
    // each group is about this backend.
    for g in groups {
        let newest = local_unix(&g.newest);
        if g.code == crate::finding::FindingCode::LogUpstreamTimeout
            && newest.is_some_and(|t| t >= started)
        {
            out.push(format!(
                "nginx's error log: {}× \"upstream timed out\" for {address}, newest {}, after the holder started",
                g.count, g.newest
            ));
        }
    }
    out
}

/// The recurl step's per-URL results (route, status, healthy), as it recorded them.
pub(crate) fn urls(recurl: Option<&StepResult>) -> &[UrlResult] {
    recurl.map_or(&[], |s| s.details.urls())
}

/// A local wall-clock time as nginx logs it (`2026-11-26 03:12:04`) → Unix seconds.
fn local_unix(text: &str) -> Option<f64> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    let local = naive.and_local_timezone(chrono::Local).earliest()?;
    Some(local.timestamp() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_times() {
        assert_eq!(parse_time("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_time("ten"), None);
        assert_eq!(parse_time(""), None);
    }

    fn timeout_for(config: &str, backend: &str) -> Option<ReadTimeout> {
        let view = NginxView {
            dump: Some(crate::nginx::Dump::new(
                true,
                "nginx -T".into(),
                Vec::new(),
                format!("# configuration file /etc/nginx/nginx.conf:\n{config}"),
            )),
            ..Default::default()
        };
        read_timeout(&view, &BackendAddr::Tcp(backend.parse().unwrap()))
    }

    #[test]
    fn finds_the_read_timeout_of_the_location_that_passes_to_the_backend() {
        let conf = "http {\n proxy_read_timeout 30s;\n upstream app { server 127.0.0.1:8000; }\n \
                    server {\n  listen 80;\n  location /api { proxy_read_timeout 10s; proxy_pass http://app; }\n  \
                    location / { proxy_pass http://127.0.0.1:9000; }\n }\n}\n";
        let t = timeout_for(conf, "127.0.0.1:8000").unwrap();
        assert_eq!(t.wait, Duration::from_secs(10));
        assert!(t.source.starts_with("proxy_read_timeout at "), "{t:?}");
        let t = timeout_for(conf, "127.0.0.1:9000").unwrap();
        assert_eq!(t.wait, Duration::from_secs(30));
        assert!(timeout_for(conf, "127.0.0.1:1").is_none());
        let plain = "http { server { location / { proxy_pass http://localhost:7000; } } }\n";
        let t = timeout_for(plain, "127.0.0.1:7000").unwrap();
        assert_eq!(t.wait, DEFAULT_READ_TIMEOUT);
        assert_eq!(t.source, "nginx's default proxy_read_timeout");
    }
}
