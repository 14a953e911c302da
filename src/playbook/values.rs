//! The rules for single values, shared by playbooks and command-line flags: what a URL, a
//! path, a domain, a port, a timeout or a match regex may be. Each returns the message an
//! operator reads; the caller adds where the value came from.

use std::net::IpAddr;
use std::time::Duration;

use regex::{Regex, RegexBuilder};

use crate::limits;
use crate::sanitize::quoted;
use crate::target::BackendAddr;

/// The match regex is applied to the whole command line of every process; its size is capped
/// so that matching stays within a probe's time.
pub fn compile_match(s: &str) -> Result<Regex, String> {
    if s.len() > limits::MATCH_PATTERN_MAX_BYTES {
        return Err(format!(
            "the regex is {} bytes long; at most {} are allowed (match a distinctive part of \
             the command line, e.g. \"gunicorn.*app:app\")",
            s.len(),
            limits::MATCH_PATTERN_MAX_BYTES
        ));
    }
    RegexBuilder::new(s)
        .size_limit(limits::MATCH_COMPILED_MAX_BYTES)
        .dfa_size_limit(limits::MATCH_COMPILED_MAX_BYTES)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "the regex compiles to more than {limit} bytes; simplify it (fewer repetitions \
                 like {{1000}}, fewer alternatives)"
            ),
            e => format!("invalid regex: {e}"),
        })
}

/// A probe timeout: long enough to be a real attempt, short enough to stay a probe.
pub fn check_timeout(secs: f64) -> Result<Duration, String> {
    check_seconds(secs, "timeout", limits::TIMEOUT_MIN, limits::TIMEOUT_MAX)
}

/// A wait or grace period: none at all, up to [`limits::WAIT_MAX`].
pub fn check_wait(secs: f64, what: &str) -> Result<Duration, String> {
    check_seconds(secs, what, Duration::ZERO, limits::WAIT_MAX)
}

/// The one rule for a number of seconds, whoever gives it (playbook or flag).
fn check_seconds(secs: f64, what: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let range = min.as_secs_f64()..=max.as_secs_f64();
    if range.contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "{secs} is not a usable {what}; give between {} and {} seconds",
            range.start(),
            range.end()
        ))
    }
}

pub fn too_many_urls(n: usize, what: &str) -> String {
    format!(
        "{n} {what}; at most {} are allowed (each is probed on every check)",
        limits::VERIFY_URLS_MAX
    )
}

pub fn check_ports(ports: &[u16]) -> Result<Vec<u16>, String> {
    if ports.is_empty() {
        return Err(
            "is empty; list at least one port (leave the key out for the default [80, 443])".into(),
        );
    }
    if ports.contains(&0) {
        return Err("0 is not a port nginx can listen on; give ports between 1 and 65535".into());
    }
    Ok(ports.to_vec())
}

/// Port 0 parses as an address but nothing ever listens there.
pub fn check_backend(addr: BackendAddr) -> Result<BackendAddr, String> {
    match &addr {
        BackendAddr::Tcp(a) if a.port() == 0 => Err(format!(
            "port 0 in {a} is not a port a backend listens on; give the real port"
        )),
        _ => Ok(addr),
    }
}

/// A request path sent as is: a space or line break would make a request the probe cannot
/// send, and a probe never sent is no evidence about the backend.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{:?} must start with '/'", quoted(path)));
    }
    unsendable(path)
}

fn unsendable(text: &str) -> Result<(), String> {
    match text
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "{:?} contains {} at byte {at}; percent-encode it (a space is %20)",
            quoted(text),
            char_name(c)
        )),
    }
}

fn char_name(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\r' => "a carriage return (CR)".into(),
        '\n' => "a line feed (LF)".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("the white space U+{:04X}", c as u32),
    }
}

/// A domain goes into DNS queries, Host headers and SNI; one with a space or a slash would
/// fail to resolve and look like a DNS problem of the site.
pub fn check_domain(domain: &str) -> Result<(), String> {
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    match domain.chars().find(|&c| !ok(c)) {
        _ if domain.is_empty() => Err("an empty domain".into()),
        None => Ok(()),
        Some(c) if c.is_whitespace() || c.is_control() => unsendable(domain),
        Some(c) => Err(format!(
            "{:?} is not a domain name ({c:?} is not allowed; give the name alone, no scheme, \
             port or path)",
            quoted(domain)
        )),
    }
}

pub fn check_url(url: &str) -> Result<(), String> {
    let shown = quoted(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{shown:?} must start with http:// or https://"))?;
    unsendable(url)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => return Err(format!("{shown:?} has an unclosed [ in its host")),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{shown:?} has no host"));
    }
    match port.map(|p| (p, p.parse::<u32>())) {
        None => Ok(()),
        Some((_, Ok(1..=65535))) => Ok(()),
        Some((p, _)) => Err(format!(
            "{shown:?} has port {:?}; a port is a number from 1 to 65535",
            quoted(p)
        )),
    }
}

pub fn check_via(via: &str) -> Result<(), String> {
    if via.parse::<IpAddr>().is_ok() || via.parse::<std::net::SocketAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!("{via:?} must be an IP address or IP:port"))
    }
}
