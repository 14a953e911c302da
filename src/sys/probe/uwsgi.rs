//! Just enough of the uwsgi protocol (nginx's `uwsgi_pass`) to send one GET: a 4-byte header
//! (modifier1 0 = WSGI request, little-endian body size, modifier2 0) and the CGI variables as
//! length-prefixed strings. The server answers with a plain HTTP response head.

use super::{exchange, Fail, Session};
use crate::sys::addr::BackendAddr;
use crate::sys::http::raw::parse_head;
use crate::sys::http::{FailureKind, Response};

/// The response head fits; the body is not read.
const MAX_HEAD: usize = 16 * 1024;

pub(super) fn get(s: &mut Session<'_>, path: &str, addr: &BackendAddr) -> Result<Response, Fail> {
    let (host, port) = match addr {
        BackendAddr::Tcp(a) => (a.ip().to_string(), a.port().to_string()),
        BackendAddr::Named(n) => (n.host.clone(), n.port.to_string()),
        BackendAddr::Unix(_) => ("localhost".to_string(), "80".to_string()),
    };
    let vars = [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", path),
        ("PATH_INFO", path),
        ("QUERY_STRING", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_NAME", &host),
        ("SERVER_PORT", &port),
        ("HTTP_HOST", &host),
        ("SCRIPT_NAME", ""),
    ];
    let packet = packet(&vars).map_err(|m| (FailureKind::Protocol, m))?;
    let got = exchange(s, &packet, MAX_HEAD, |b| {
        b.windows(4).any(|w| w == b"\r\n\r\n")
    })?;
    // Not an HTTP head: the holder answers, in another protocol than nginx's config says.
    parse_head(&got).map_err(|m| {
        (
            FailureKind::NotSpoken,
            format!("answered, but not uwsgi: {m}"),
        )
    })
}

/// The request packet; the whole variable block must fit the 16-bit size.
pub(super) fn packet(vars: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    for (k, v) in vars {
        for s in [k, v] {
            let len =
                u16::try_from(s.len()).map_err(|_| format!("uwsgi variable too long: {k}"))?;
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(s.as_bytes());
        }
    }
    let size = u16::try_from(body.len()).map_err(|_| "uwsgi request too large".to_string())?;
    let mut out = vec![0u8];
    out.extend_from_slice(&size.to_le_bytes());
    out.push(0);
    out.extend(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_a_request_packet() {
        let p = packet(&[("REQUEST_METHOD", "GET"), ("PATH_INFO", "/")]).unwrap();
        let body_len = 2 + 14 + 2 + 3 + 2 + 9 + 2 + 1;
        assert_eq!(&p[..4], &[0, body_len as u8, 0, 0]);
        assert_eq!(&p[4..6], &[14, 0]);
        assert_eq!(&p[6..20], b"REQUEST_METHOD");
        assert_eq!(&p[20..22], &[3, 0]);
        assert_eq!(p.len(), 4 + body_len);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let long = "x".repeat(70_000);
        assert!(packet(&[("PATH_INFO", long.as_str())]).is_err());
    }
}
