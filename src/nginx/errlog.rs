//! nginx's error log, reduced to what explains a 502/504: upstream errors grouped by cause, each
//! cause with a stable finding code. Pure functions over text, tested on captured lines; the
//! bounded walk back through a file is in `window`.
//!
//! The format, as nginx writes it: `2026/11/26 03:12:04 [error] 812#812: *7 connect() failed
//! (111: Connection refused) while connecting to upstream, client: …, server: …, request: "…",
//! upstream: "http://127.0.0.1:8080/", host: "…", referrer: "…"`, in local time; `*7` (the
//! connection) is missing on lines about no connection; nginx cuts a line at 2048 bytes, so the
//! trailing fields may be missing or cut.

use std::net::SocketAddr;

use chrono::NaiveDateTime;

use crate::finding::FindingCode;

mod cause;
pub mod window;

pub use cause::Cause;

/// The levels that report a failure; `warn` and below (`upstream server temporarily disabled`,
/// a client that went away) are not upstream errors.
const FAILURE_LEVELS: &[&str] = &["error", "crit", "alert", "emerg"];

/// One upstream error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: NaiveDateTime,
    pub cause: Cause,
    /// The `upstream: "..."` field, when present and whole.
    pub upstream: Option<String>,
    /// The `server: NAME` field: the server block's first `server_name`.
    pub server: Option<String>,
    /// The `referrer: "..."` field: the request's Referer header, which marks fixer's probes.
    pub referrer: Option<String>,
    /// The line after its timestamp (`[error] 812#812: *7 connect() failed …`).
    pub message: String,
}

/// The line's local time, when it starts with one.
pub fn line_time(line: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(line.get(..19)?, "%Y/%m/%d %H:%M:%S").ok()
}

pub fn parse_line(line: &str) -> Option<Entry> {
    let time = line_time(line)?;
    let message = line.get(20..)?;
    let (level, rest) = message.strip_prefix('[')?.split_once("] ")?;
    if !FAILURE_LEVELS.contains(&level) {
        return None;
    }
    // `812#812: ` (pid#tid), then `*7 ` when the line is about a connection.
    let text = rest.split_once(": ").map_or(rest, |(_, t)| t);
    let text = match text.strip_prefix('*') {
        Some(t) => t
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start(),
        None => text,
    };
    let cause = Cause::classify(head(text))?;
    Some(Entry {
        time,
        cause,
        upstream: field(message, "upstream"),
        server: field(message, "server"),
        referrer: field(message, "referrer"),
        message: message.to_string(),
    })
}

/// The part of a message that names the cause: up to nginx's context (`, client: …`), so a
/// request line quoting an error text cannot pass for one.
pub fn head(text: &str) -> &str {
    text.split(", client: ").next().unwrap_or(text)
}

/// Every upstream error line of `text` at or after `since`, oldest first.
#[cfg(test)]
pub fn parse(text: &str, since: NaiveDateTime) -> Vec<Entry> {
    text.lines()
        .filter_map(parse_line)
        .filter(|e| e.time >= since)
        .collect()
}

/// One `, key: value` field of nginx's error line context (`client`, `server`, `request`,
/// `upstream`, `host`, `referrer`, in that order); quoted values lose their quotes, and a
/// quoted value the 2048-byte cut left without its closing quote is no value. `referrer` is
/// nginx's last field, so it is taken from the end of the line: text in a request line that
/// looks like one does not override the real one.
fn field(message: &str, key: &str) -> Option<String> {
    let needle = format!(", {key}: ");
    let at = if key == "referrer" {
        message.rfind(&needle)?
    } else {
        message.find(&needle)?
    };
    let rest = &message[at + needle.len()..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?.0,
        None => rest.split(", ").next()?,
    };
    Some(value.to_string())
}

/// What an `upstream: "..."` field names: the peer nginx tried, a unix socket, or — when no peer
/// was tried (`no live upstreams`) — the upstream group by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Addr(SocketAddr),
    Unix(String),
    /// An `upstream` block's name, or `host:port` of a `proxy_pass` naming a host.
    Name {
        host: String,
        port: Option<u16>,
    },
}

impl Peer {
    /// `http://127.0.0.1:8080/api`, `http://[::1]:8080/`, `fastcgi://unix:/run/php.sock:`,
    /// `http://unix:/run/app.sock:/api`, `http://lab_backend/api`.
    pub fn parse(upstream: &str) -> Option<Peer> {
        let rest = upstream.split_once("://").map_or(upstream, |(_, r)| r);
        if let Some(path) = rest.strip_prefix("unix:") {
            return Some(Peer::Unix(path.split(':').next()?.to_string()));
        }
        let authority = rest.split('/').next()?;
        if let Ok(addr) = authority.parse::<SocketAddr>() {
            return Some(Peer::Addr(addr));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
            _ => (authority, None),
        };
        (!host.is_empty()).then(|| Peer::Name {
            host: host.to_string(),
            port,
        })
    }
}

/// Upstream errors of one cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub cause: Cause,
    pub count: usize,
    pub oldest: NaiveDateTime,
    pub newest: NaiveDateTime,
    pub upstreams: Vec<String>,
    /// The newest line of this kind, to quote.
    pub example: String,
}

impl Group {
    pub fn code(&self) -> FindingCode {
        self.cause.code()
    }
}

/// Upstream errors grouped by cause, newest first; ties by count.
pub fn group<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for e in entries {
        match groups.iter_mut().find(|g| g.cause == e.cause) {
            Some(g) => {
                g.count += 1;
                g.oldest = g.oldest.min(e.time);
                if e.time >= g.newest {
                    g.newest = e.time;
                    g.example = e.message.clone();
                }
                if let Some(u) = e.upstream.as_ref().filter(|u| !g.upstreams.contains(u)) {
                    g.upstreams.push(u.clone());
                }
            }
            None => groups.push(Group {
                cause: e.cause,
                count: 1,
                oldest: e.time,
                newest: e.time,
                upstreams: e.upstream.iter().cloned().collect(),
                example: e.message.clone(),
            }),
        }
    }
    groups.sort_by(|a, b| b.newest.cmp(&a.newest).then(b.count.cmp(&a.count)));
    groups
}

/// The group that explains the failure: the newest of a known cause (ties by count), and an
/// unrecognised line only when nothing else was logged.
pub fn explaining(groups: &[Group]) -> Option<&Group> {
    groups
        .iter()
        .find(|g| g.cause != Cause::Other)
        .or(groups.first())
}

#[cfg(test)]
mod tests;
