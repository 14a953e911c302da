//! The fallback source of TCP sockets: /proc/net/tcp and tcp6, streamed line by line and
//! filtered as read, never held whole.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{TcpSocket, TcpState};

/// Parses the text of /proc/net/tcp (`v6 = false`) or /proc/net/tcp6 (`v6 = true`).
/// Lines that do not parse are skipped: a half-written line must not hide the others.
pub fn parse_tcp(text: &str, v6: bool) -> Vec<TcpSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| parse_tcp_line(line, v6))
        .collect()
}

fn parse_tcp_line(line: &str, v6: bool) -> Option<TcpSocket> {
    let mut it = line.split_whitespace();
    let mut f = [""; 10];
    for slot in &mut f {
        *slot = it.next()?;
    }
    let (tx, rx) = f[4].split_once(':')?;
    Some(TcpSocket {
        local: parse_addr(f[1], v6)?,
        remote: parse_addr(f[2], v6)?,
        state: TcpState::from_code(u8::from_str_radix(f[3], 16).ok()?),
        tx_queue: u32::from_str_radix(tx, 16).ok()?,
        rx_queue: u32::from_str_radix(rx, 16).ok()?,
        uid: f[7].parse().ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080. The kernel prints each 32-bit word of the address in host
/// byte order, so the bytes come back with `to_ne_bytes`; the port is a plain number.
fn parse_addr(field: &str, v6: bool) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = field.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(words_to_bytes::<16>(ip_hex)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(words_to_bytes::<4>(ip_hex)?))
    };
    Some(SocketAddr::new(ip, port))
}

fn words_to_bytes<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != N * 2 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, chunk) in out.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Some(out)
}

/// The sockets of /proc/net/tcp and tcp6 that `keep` accepts, read line by line: on a host
/// with 60 000 connections the files are megabytes, and only the few lines asked about are
/// kept. tcp6 is absent when IPv6 is disabled.
pub fn tcp_sockets_where(keep: impl Fn(&TcpSocket) -> bool) -> anyhow::Result<Vec<TcpSocket>> {
    let mut out = Vec::new();
    stream_tcp("/proc/net/tcp", false, &keep, &mut out)?;
    match stream_tcp("/proc/net/tcp6", true, &keep, &mut out) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => other?,
    }
    Ok(out)
}

fn stream_tcp(
    path: &str,
    v6: bool,
    keep: &impl Fn(&TcpSocket) -> bool,
    out: &mut Vec<TcpSocket>,
) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| std::io::Error::new(e.kind(), format!("reading {path}: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        if std::mem::take(&mut first) {
            continue;
        }
        if let Some(s) = parse_tcp_line(&line, v6).filter(|s| keep(s)) {
            out.push(s);
        }
    }
}
