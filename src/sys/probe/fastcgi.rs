//! Just enough FastCGI (version 1, as nginx's `fastcgi_pass` and php-fpm speak it) to ask a
//! backend whether it is alive: a management record, FCGI_GET_VALUES, that a FastCGI server
//! answers without running any script, or a responder request for php-fpm's `ping.path`.
//! Encoders and decoders are pure; [`ping`] and [`get_values`] do the bounded I/O.

use super::{cgi_head, exchange, Fail, Session};
use crate::sys::addr::BackendAddr;
use crate::sys::http::{FailureKind, Response};

/// A ping answer is a few headers and `pong`; a FCGI_GET_VALUES_RESULT a few dozen bytes.
const MAX_ANSWER: usize = 64 * 1024;

const VERSION: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const GET_VALUES: u8 = 9;
const GET_VALUES_RESULT: u8 = 10;
const UNKNOWN_TYPE: u8 = 11;
const RESPONDER: u16 = 1;
/// Management records use request id 0; the one application request uses 1.
const REQUEST_ID: u16 = 1;
const VALUE_NAMES: [&str; 3] = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"];

/// One record with its content (padding dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub kind: u8,
    pub id: u16,
    pub content: Vec<u8>,
}

/// Asks for php-fpm's ping page at `path` and reads the CGI head of its answer.
pub(super) fn ping(s: &mut Session<'_>, path: &str, addr: &BackendAddr) -> Result<Response, Fail> {
    let stdout = get(s, path, "", addr)?;
    cgi_head(&stdout).map_err(|m| {
        (
            FailureKind::NotSpoken,
            format!("answered in FastCGI, but {m}"),
        )
    })
}

/// A responder request for `path?query` (a page php-fpm serves itself, such as `ping.path` or
/// `pm.status_path`): the whole stdout, CGI head and body, up to the size cap.
pub(super) fn get(
    s: &mut Session<'_>,
    path: &str,
    query: &str,
    addr: &BackendAddr,
) -> Result<Vec<u8>, Fail> {
    let server = match addr {
        BackendAddr::Tcp(a) => a.ip().to_string(),
        BackendAddr::Named(n) => n.host.clone(),
        BackendAddr::Unix(_) => "localhost".into(),
    };
    let mut params = ping_params(path, &server);
    params.retain(|(n, _)| *n != "QUERY_STRING");
    params.push(("QUERY_STRING", query.to_string()));
    let request = responder_request(&params);
    let got = exchange(s, &request, MAX_ANSWER, |b| {
        parse(b).is_ok_and(|(rs, _)| rs.iter().any(|r| r.kind == END_REQUEST))
    })?;
    let (records, _) = parse(&got).map_err(other_protocol)?;
    let stdout: Vec<u8> = records
        .iter()
        .filter(|r| r.kind == STDOUT && r.id == REQUEST_ID)
        .flat_map(|r| r.content.iter().copied())
        .collect();
    if stdout.is_empty() {
        return Err((
            FailureKind::NotSpoken,
            "answered in FastCGI, but with no output to judge".into(),
        ));
    }
    Ok(stdout)
}

/// Bytes that are not FastCGI: the holder answers, in another protocol than nginx's config
/// says. Not judged: nginx fails on it, yet killing the holder would not help.
fn other_protocol(m: String) -> Fail {
    (
        FailureKind::NotSpoken,
        format!("answered, but not in FastCGI: {m}"),
    )
}

/// Sends FCGI_GET_VALUES and reads FCGI_GET_VALUES_RESULT; the reason lists the values.
pub(super) fn get_values(s: &mut Session<'_>) -> Result<Response, Fail> {
    let got = exchange(s, &get_values_request(), MAX_ANSWER, |b| {
        parse(b).is_ok_and(|(rs, _)| {
            rs.iter()
                .any(|r| matches!(r.kind, GET_VALUES_RESULT | UNKNOWN_TYPE))
        })
    })?;
    let (records, _) = parse(&got).map_err(other_protocol)?;
    let answer = records
        .iter()
        .find(|r| matches!(r.kind, GET_VALUES_RESULT | UNKNOWN_TYPE))
        .ok_or_else(|| {
            (
                FailureKind::NotSpoken,
                "answered in FastCGI, but without FCGI_GET_VALUES_RESULT".to_string(),
            )
        })?;
    let reason = if answer.kind == UNKNOWN_TYPE {
        "FCGI_UNKNOWN_TYPE (a FastCGI server that does not implement FCGI_GET_VALUES)".to_string()
    } else {
        let values: Vec<String> = pairs(&answer.content)
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!("FCGI_GET_VALUES_RESULT {}", values.join(", "))
    };
    Ok(Response {
        status: 200,
        reason: reason.trim_end().chars().take(200).collect(),
        server: None,
        location: None,
        elapsed_ms: 0,
    })
}

fn ping_params(path: &str, server: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GATEWAY_INTERFACE", "CGI/1.1".into()),
        (
            "SERVER_SOFTWARE",
            format!("fixer/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("SERVER_PROTOCOL", "HTTP/1.1".into()),
        ("SERVER_NAME", server.to_string()),
        ("REQUEST_METHOD", "GET".into()),
        ("REQUEST_URI", path.to_string()),
        ("DOCUMENT_URI", path.to_string()),
        ("SCRIPT_NAME", path.to_string()),
        ("SCRIPT_FILENAME", path.to_string()),
        ("QUERY_STRING", String::new()),
        ("CONTENT_LENGTH", "0".into()),
    ]
}

/// A record: 8-byte header, content, padding to a multiple of 8.
pub(super) fn record(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let len = content.len().min(u16::MAX as usize);
    let padding = (8 - len % 8) % 8;
    let mut out = Vec::with_capacity(8 + len + padding);
    out.extend_from_slice(&[VERSION, kind]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[padding as u8, 0]);
    out.extend_from_slice(&content[..len]);
    out.resize(out.len() + padding, 0);
    out
}

/// Name-value pairs: lengths below 128 in one byte, longer ones in four with the top bit set.
pub(super) fn encode_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    let length = |out: &mut Vec<u8>, n: usize| {
        if n < 128 {
            out.push(n as u8);
        } else {
            out.extend_from_slice(&((n as u32) | 0x8000_0000).to_be_bytes());
        }
    };
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        length(&mut out, name.len());
        length(&mut out, value.len());
        out.extend_from_slice(name);
        out.extend_from_slice(value);
    }
    out
}

pub(super) fn get_values_request() -> Vec<u8> {
    let names: Vec<(&str, &str)> = VALUE_NAMES.iter().map(|n| (*n, "")).collect();
    record(GET_VALUES, 0, &encode_pairs(&names))
}

/// BEGIN_REQUEST (responder, connection closed afterwards), the params, and empty PARAMS and
/// STDIN records that end both streams.
pub(super) fn responder_request<V: AsRef<[u8]>>(params: &[(&str, V)]) -> Vec<u8> {
    let mut begin = RESPONDER.to_be_bytes().to_vec();
    begin.extend_from_slice(&[0; 6]);
    let mut out = record(BEGIN_REQUEST, REQUEST_ID, &begin);
    out.extend(record(PARAMS, REQUEST_ID, &encode_pairs(params)));
    out.extend(record(PARAMS, REQUEST_ID, &[]));
    out.extend(record(STDIN, REQUEST_ID, &[]));
    out
}

/// The complete records at the start of `buf`, and how many bytes they took; an incomplete
/// tail is left for the next read. Anything that is not FastCGI version 1 is an error.
pub(super) fn parse(buf: &[u8]) -> Result<(Vec<Record>, usize), String> {
    let mut records = Vec::new();
    let mut at = 0;
    while buf.len() >= at + 8 {
        let h = &buf[at..at + 8];
        if h[0] != VERSION {
            return Err(format!(
                "{:?}",
                String::from_utf8_lossy(&buf[at..buf.len().min(at + 40)])
            ));
        }
        let len = u16::from_be_bytes([h[4], h[5]]) as usize;
        let end = at + 8 + len + h[6] as usize;
        if buf.len() < end {
            break;
        }
        records.push(Record {
            kind: h[1],
            id: u16::from_be_bytes([h[2], h[3]]),
            content: buf[at + 8..at + 8 + len].to_vec(),
        });
        at = end;
    }
    Ok((records, at))
}

/// Decodes name-value pairs; a truncated pair ends the list.
pub(super) fn pairs(mut b: &[u8]) -> Vec<(String, String)> {
    fn length(b: &mut &[u8]) -> Option<usize> {
        let first = *b.first()?;
        if first < 128 {
            *b = &b[1..];
            return Some(first as usize);
        }
        let four: [u8; 4] = b.get(..4)?.try_into().ok()?;
        *b = &b[4..];
        Some((u32::from_be_bytes(four) & 0x7fff_ffff) as usize)
    }
    let mut out = Vec::new();
    while let (Some(n), Some(v)) = (length(&mut b), length(&mut b)) {
        let (Some(name), Some(value)) = (b.get(..n), b.get(n..n + v)) else {
            break;
        };
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
        b = &b[n + v..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_get_values_as_the_spec_lays_it_out() {
        let r = get_values_request();
        assert_eq!(&r[..4], &[1, GET_VALUES, 0, 0]);
        let len = u16::from_be_bytes([r[4], r[5]]) as usize;
        assert_eq!(
            len,
            3 * 2 + "FCGI_MAX_CONNSFCGI_MAX_REQSFCGI_MPXS_CONNS".len()
        );
        assert_eq!((8 + len + r[6] as usize), r.len());
        assert_eq!(r.len() % 8, 0);
        let (records, used) = parse(&r).unwrap();
        assert_eq!(used, r.len());
        let names: Vec<String> = pairs(&records[0].content)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, VALUE_NAMES);
    }

    #[test]
    fn encodes_long_lengths_in_four_bytes() {
        let long = "x".repeat(300);
        let enc = encode_pairs(&[("N", long.as_str())]);
        assert_eq!(&enc[..5], &[1, 0x80, 0, 1, 44]);
        assert_eq!(pairs(&enc), vec![("N".to_string(), long)]);
    }

    #[test]
    fn a_responder_request_ends_both_streams() {
        let req = responder_request(&[("SCRIPT_NAME", "/ping")]);
        let (records, used) = parse(&req).unwrap();
        assert_eq!(used, req.len());
        let kinds: Vec<u8> = records.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [BEGIN_REQUEST, PARAMS, PARAMS, STDIN]);
        assert_eq!(records[0].content, [0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(records.iter().all(|r| r.id == REQUEST_ID));
        assert_eq!(
            pairs(&records[1].content),
            [("SCRIPT_NAME".into(), "/ping".into())]
        );
    }

    /// The bytes php-fpm 8.2 sent for FCGI_GET_VALUES: it knows only FCGI_MPXS_CONNS.
    #[test]
    fn decodes_a_get_values_result_and_keeps_an_incomplete_tail() {
        let mut answer = b"\x01\x0a\x00\x00\x00\x12\x06\x00\x0f\x01FCGI_MPXS_CONNS0".to_vec();
        answer.extend_from_slice(&[0; 6]);
        let whole = answer.len();
        answer.extend_from_slice(&[1, STDOUT, 0]);
        let (records, used) = parse(&answer).unwrap();
        assert_eq!((records.len(), used), (1, whole));
        assert_eq!(records[0].kind, GET_VALUES_RESULT);
        assert_eq!(
            pairs(&records[0].content),
            [("FCGI_MPXS_CONNS".to_string(), "0".to_string())]
        );
    }

    #[test]
    fn rejects_what_is_not_fastcgi() {
        let err = parse(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap_err();
        assert!(err.contains("HTTP/1.1 400"), "{err}");
        assert!(parse(&[1, 6, 0]).unwrap().0.is_empty());
    }
}
