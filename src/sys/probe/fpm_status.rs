//! php-fpm's status page (`pm.status_path`), asked in FastCGI as nginx would, with `?json`:
//! how many of the pool's processes are busy and how many connections wait in its listen
//! queue. A worker serves the page, so a full pool cannot answer it, unless
//! `pm.status_listen` gives the page a socket and a worker of its own.

use std::time::{Duration, Instant};

use super::{connect, fastcgi};
use crate::sys::addr::BackendAddr;

/// The fields of `?json` fixer judges a pool by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FpmStatus {
    pub pool: String,
    pub process_manager: String,
    pub active: u64,
    pub idle: u64,
    pub total: u64,
    pub listen_queue: u64,
    pub listen_queue_len: u64,
    pub max_children_reached: u64,
    pub slow_requests: u64,
}

/// GET `path?json` over FastCGI at `addr`; `Err` says why there is no reading.
pub fn status(addr: &BackendAddr, path: &str, timeout: Duration) -> Result<FpmStatus, String> {
    let deadline = Instant::now() + timeout;
    let mut conn = connect(addr, timeout).map_err(|(_, m)| m)?;
    let mut session = super::Session {
        conn: conn.as_mut(),
        deadline,
        timeout,
    };
    let stdout = fastcgi::get(&mut session, path, "json", addr).map_err(|(_, m)| m)?;
    parse(&stdout)
}

/// The JSON body after the CGI head.
pub(super) fn parse(stdout: &[u8]) -> Result<FpmStatus, String> {
    let text = String::from_utf8_lossy(stdout);
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map_or(text.as_ref(), |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(body.trim())
        .map_err(|e| format!("the status page is not php-fpm's JSON ({e})"))?;
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let s = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .chars()
            .take(64)
            .collect::<String>()
    };
    if v.get("active processes").is_none() {
        return Err("the status page has no \"active processes\"".into());
    }
    Ok(FpmStatus {
        pool: s("pool"),
        process_manager: s("process manager"),
        active: n("active processes"),
        idle: n("idle processes"),
        total: n("total processes"),
        listen_queue: n("listen queue"),
        listen_queue_len: n("listen queue len"),
        max_children_reached: n("max children reached"),
        slow_requests: n("slow requests"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// php-fpm 8.2's answer to `GET /st?json` (Debian 12's php8.2-fpm, a static pool of one,
    /// the status request itself being the one active process).
    const ANSWER: &[u8] = b"Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
        Cache-Control: no-cache, no-store, must-revalidate, max-age=0\r\n\
        Content-Type: application/json\r\n\r\n\
        {\"pool\":\"s\",\"process manager\":\"static\",\"start time\":1795672988,\"start since\":2,\
        \"accepted conn\":1,\"listen queue\":0,\"max listen queue\":0,\"listen queue len\":0,\
        \"idle processes\":0,\"active processes\":1,\"total processes\":1,\
        \"max active processes\":1,\"max children reached\":0,\"slow requests\":0}";

    #[test]
    fn reads_the_json_status() {
        let s = parse(ANSWER).unwrap();
        assert_eq!(
            (s.pool.as_str(), s.process_manager.as_str()),
            ("s", "static")
        );
        assert_eq!((s.active, s.idle, s.total), (1, 0, 1));
        assert_eq!((s.listen_queue, s.listen_queue_len), (0, 0));
        assert_eq!(s.max_children_reached, 0);
        assert!(parse(b"Content-type: text/plain\r\n\r\npong").is_err());
        assert!(parse(b"Content-type: application/json\r\n\r\n{}").is_err());
    }
}
