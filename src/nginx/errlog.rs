//! nginx's error log, reduced to what explains a 502/504: upstream errors grouped by cause.
//! Pure functions over text, tested on captured lines.

use std::net::SocketAddr;

use chrono::NaiveDateTime;

/// Why nginx could not get an answer from the upstream, as its error log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Refused,
    TimedOut,
    Reset,
    ClosedEarly,
    PermissionDenied,
    SocketMissing,
    NoLiveUpstreams,
    TooBigHeader,
}

impl Cause {
    /// What the cause means for the backend, in the operator's terms.
    pub fn meaning(self) -> &'static str {
        match self {
            Cause::Refused => "nothing listened on the backend address (backend down) → 502",
            Cause::TimedOut => {
                "the backend accepted but did not answer in time (stuck or slow) → 504"
            }
            Cause::Reset => "the backend reset the connection (crashing or restarting) → 502",
            Cause::ClosedEarly => "the backend closed the connection without a response → 502",
            Cause::PermissionDenied => {
                "nginx may not connect (SELinux, or unix socket permissions) → 502"
            }
            Cause::SocketMissing => "the backend's unix socket does not exist → 502",
            Cause::NoLiveUpstreams => "every upstream server is marked failed (fail_timeout) → 502",
            Cause::TooBigHeader => "the backend's response headers exceed proxy_buffer_size → 502",
        }
    }

    fn classify(message: &str) -> Option<Cause> {
        let m = message;
        let cause = if m.contains("(111: Connection refused)") {
            Cause::Refused
        } else if m.contains("upstream timed out") {
            Cause::TimedOut
        } else if m.contains("(104: Connection reset by peer)") {
            Cause::Reset
        } else if m.contains("upstream prematurely closed") {
            Cause::ClosedEarly
        } else if m.contains("(13: Permission denied)") && m.contains("upstream") {
            Cause::PermissionDenied
        } else if m.contains("(2: No such file or directory) while connecting to upstream") {
            Cause::SocketMissing
        } else if m.contains("no live upstreams") {
            Cause::NoLiveUpstreams
        } else if m.contains("upstream sent too big header") {
            Cause::TooBigHeader
        } else {
            return None;
        };
        Some(cause)
    }
}

/// One upstream error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: NaiveDateTime,
    pub cause: Cause,
    /// The `upstream: "..."` field, when present.
    pub upstream: Option<String>,
    /// The `server: NAME` field: the server block's first `server_name`.
    pub server: Option<String>,
    /// The `referrer: "..."` field: the request's Referer header, which marks fixer's probes.
    pub referrer: Option<String>,
    pub message: String,
}

pub fn parse_line(line: &str) -> Option<Entry> {
    let time = NaiveDateTime::parse_from_str(line.get(..19)?, "%Y/%m/%d %H:%M:%S").ok()?;
    let message = line.get(20..)?.to_string();
    let cause = Cause::classify(&message)?;
    Some(Entry {
        time,
        cause,
        upstream: field(&message, "upstream"),
        server: field(&message, "server"),
        referrer: field(&message, "referrer"),
        message,
    })
}

/// Every upstream error line of `text` at or after `since`, oldest first.
pub fn parse(text: &str, since: NaiveDateTime) -> Vec<Entry> {
    text.lines()
        .filter_map(parse_line)
        .filter(|e| e.time >= since)
        .collect()
}

/// One `, key: value` field of nginx's error line context (`client`, `server`, `request`,
/// `upstream`, `host`, `referrer`, in that order); quoted values lose their quotes. `referrer`
/// is nginx's last field, so it is taken from the end of the line: text in a request line that
/// looks like one does not override the real one.
fn field(message: &str, key: &str) -> Option<String> {
    let needle = format!(", {key}: ");
    let at = if key == "referrer" {
        message.rfind(&needle)?
    } else {
        message.find(&needle)?
    };
    let start = at + needle.len();
    let rest = &message[start..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
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
    /// `http://lab_backend/api`.
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

/// Upstream errors grouped by cause, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub cause: Cause,
    pub count: usize,
    pub newest: NaiveDateTime,
    pub upstreams: Vec<String>,
    /// The newest line of this kind, to quote.
    pub example: String,
}

pub fn group<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for e in entries {
        match groups.iter_mut().find(|g| g.cause == e.cause) {
            Some(g) => {
                g.count += 1;
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
                newest: e.time,
                upstreams: e.upstream.iter().cloned().collect(),
                example: e.message.clone(),
            }),
        }
    }
    groups.sort_by(|a, b| b.newest.cmp(&a.newest).then(b.count.cmp(&a.count)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../tests/fixtures/nginx/error-lab.log");
    const OTHER: &str = include_str!("../../tests/fixtures/nginx/error-other-synthetic.log");
    const ATTRIBUTION: &str = include_str!("../../tests/fixtures/nginx/error-attribution.log");

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").unwrap()
    }

    #[test]
    fn groups_real_lab_lines() {
        let g = group(&parse(LAB, at("2026/11/25 00:00:00")));
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].cause, Cause::TimedOut);
        assert_eq!(g[1].cause, Cause::Refused);
        assert_eq!(g[1].count, 3);
        assert_eq!(g[1].upstreams, vec!["http://127.0.0.1:34069/api/health"]);
    }

    #[test]
    fn the_window_drops_old_lines() {
        assert!(parse(LAB, at("2026/11/25 15:46:00")).is_empty());
        assert_eq!(group(&parse(LAB, at("2026/11/25 15:45:56"))).len(), 1);
    }

    #[test]
    fn knows_every_upstream_cause_and_ignores_the_rest() {
        let causes: Vec<Cause> = OTHER
            .lines()
            .filter_map(parse_line)
            .map(|e| e.cause)
            .collect();
        assert_eq!(
            causes,
            [
                Cause::SocketMissing,
                Cause::PermissionDenied,
                Cause::TooBigHeader,
                Cause::NoLiveUpstreams,
                Cause::Reset,
                Cause::ClosedEarly
            ]
        );
    }

    #[test]
    fn reads_the_context_fields_of_real_lines() {
        let e = parse(ATTRIBUTION, at("2026/11/26 00:00:00"));
        assert_eq!(e.len(), 6, "the [warn] line is no upstream error");
        assert_eq!(e[0].referrer.as_deref(), Some("fixer:probe"));
        assert_eq!(e[1].referrer, None);
        assert_eq!(e[1].server.as_deref(), Some("site.test"));
        assert_eq!(
            e[1].upstream.as_deref(),
            Some("http://127.0.0.1:53673/grp?x=1")
        );
        assert_eq!(e[5].cause, Cause::NoLiveUpstreams);
    }

    #[test]
    fn names_the_peer_of_every_upstream_form() {
        let peers: Vec<Option<Peer>> = parse(ATTRIBUTION, at("2026/11/26 00:00:00"))
            .iter()
            .map(|e| e.upstream.as_deref().and_then(Peer::parse))
            .collect();
        let addr = |s: &str| Some(Peer::Addr(s.parse().unwrap()));
        let sock = Some(Peer::Unix("/tmp/cap/none.sock".into()));
        assert_eq!(peers[0], addr("127.0.0.1:53673"));
        assert_eq!(peers[2], addr("[::1]:53673"));
        assert_eq!(peers[3], sock);
        assert_eq!(peers[4], sock, "fastcgi_pass unix:");
        assert_eq!(
            peers[5],
            Some(Peer::Name {
                host: "app_one".into(),
                port: None
            })
        );
        assert_eq!(
            Peer::parse("http://localhost:8080/x"),
            Some(Peer::Name {
                host: "localhost".into(),
                port: Some(8080)
            })
        );
    }
}
