//! nginx's error log, reduced to what explains a 502/504: upstream errors grouped by cause.
//! Pure functions over text, tested on captured lines.

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
    pub message: String,
}

pub fn parse_line(line: &str) -> Option<Entry> {
    let time = NaiveDateTime::parse_from_str(line.get(..19)?, "%Y/%m/%d %H:%M:%S").ok()?;
    let message = line.get(20..)?.to_string();
    let cause = Cause::classify(&message)?;
    let upstream = message
        .split(", upstream: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    Some(Entry {
        time,
        cause,
        upstream,
        message,
    })
}

/// Upstream errors grouped by cause, newest first within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub cause: Cause,
    pub count: usize,
    pub newest: NaiveDateTime,
    pub upstreams: Vec<String>,
    /// The newest line of this kind, to quote.
    pub example: String,
}

pub fn group(text: &str, since: NaiveDateTime) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for e in text
        .lines()
        .filter_map(parse_line)
        .filter(|e| e.time >= since)
    {
        match groups.iter_mut().find(|g| g.cause == e.cause) {
            Some(g) => {
                g.count += 1;
                if e.time >= g.newest {
                    g.newest = e.time;
                    g.example = e.message.clone();
                }
                if let Some(u) = e.upstream.filter(|u| !g.upstreams.contains(u)) {
                    g.upstreams.push(u);
                }
            }
            None => groups.push(Group {
                cause: e.cause,
                count: 1,
                newest: e.time,
                upstreams: e.upstream.into_iter().collect(),
                example: e.message,
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

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").unwrap()
    }

    #[test]
    fn groups_real_lab_lines() {
        let g = group(LAB, at("2026/11/25 00:00:00"));
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].cause, Cause::TimedOut);
        assert_eq!(g[1].cause, Cause::Refused);
        assert_eq!(g[1].count, 3);
        assert_eq!(g[1].upstreams, vec!["http://127.0.0.1:34069/api/health"]);
    }

    #[test]
    fn the_window_drops_old_lines() {
        assert!(group(LAB, at("2026/11/25 15:46:00")).is_empty());
        assert_eq!(group(LAB, at("2026/11/25 15:45:56")).len(), 1);
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
}
