//! Loopback helpers for the lab: free ports, a minimal HTTP status probe used only to know
//! when a lab process is ready, and polling with a deadline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{bail, Result};

/// `n` distinct loopback ports that were free a moment ago: all are bound at once (so the
/// kernel hands out different ones), read, and released.
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// Status code of `GET path` on 127.0.0.1:port, with `timeout` for connect, write and read.
pub fn http_status(port: u16, path: &str, timeout: Duration) -> io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        let n = stream.read(&mut head[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    parse_status(&head[..len])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/")?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Calls `ready` every 20 ms until it returns true, fails, or `timeout` passes.
pub fn poll(timeout: Duration, what: &str, mut ready: impl FnMut() -> Result<bool>) -> Result<()> {
    let mut pace = crate::pace::Pace::every(Duration::from_millis(20), timeout);
    loop {
        if ready()? {
            return Ok(());
        }
        if !pace.wait() {
            bail!(
                "timed out after {:.1} s waiting for {what}",
                timeout.as_secs_f64()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 502 Bad Gateway\r\n"), Some(502));
        assert_eq!(parse_status(b"HTTP/1.0 200 OK\r\nServer: x"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH"), None);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(4).unwrap();
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
    }

    #[test]
    fn poll_gives_up_at_the_deadline() {
        let err = poll(Duration::from_millis(50), "nothing", || Ok(false)).unwrap_err();
        assert!(err.to_string().contains("waiting for nothing"));
    }
}
