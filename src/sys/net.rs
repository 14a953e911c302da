//! Sockets as the kernel lists them: listening TCP sockets from sock_diag netlink (see
//! [`diag`]), with /proc/net/{tcp,tcp6} as the fallback, and listening unix sockets from
//! unix_diag the same way, with /proc/net/unix (streamed line by line) as the fallback.
//!
//! Both describe the network namespace of the reader, which is what an operator on the
//! host wants: nginx and its backend share it unless one of them runs in a container.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use anyhow::Context;

mod diag;
mod proc_tcp;

pub use proc_tcp::{parse_tcp, tcp_sockets_where};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Other(u8),
}

impl TcpState {
    /// Numbering from the kernel's `include/net/tcp_states.h`.
    fn from_code(code: u8) -> TcpState {
        match code {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 => TcpState::SynRecv,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Close,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            other => TcpState::Other(other),
        }
    }
}

/// One line of /proc/net/tcp or tcp6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// For a LISTEN socket: connections waiting in the accept queue (nobody called accept()).
    pub rx_queue: u32,
    /// Bytes sent and not yet acknowledged. Always 0 for a LISTEN socket: /proc/net/tcp does
    /// not show the backlog limit (only sock_diag, which `ss` uses, does).
    pub tx_queue: u32,
    pub uid: u32,
    pub inode: u64,
}

impl TcpSocket {
    pub fn is_listening(&self) -> bool {
        self.state == TcpState::Listen
    }
}

/// One unix socket: a line of /proc/net/unix, or a unix_diag record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    pub path: Option<String>,
    pub inode: u64,
    pub listening: bool,
    /// For a listener, connections waiting that nobody accepted (unix_diag only: /proc/net/unix
    /// does not show it).
    pub accept_queue: Option<u32>,
    /// For a listener, the most connections its queue takes before connect() fails with
    /// EAGAIN (unix_diag only).
    pub backlog: Option<u32>,
}

/// Where the listening sockets of a run came from, for the evidence: the kernel's sock_diag
/// netlink, or /proc/net/tcp* when the kernel refused it (and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerSource {
    SockDiag,
    ProcNet { why: String },
}

impl std::fmt::Display for ListenerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenerSource::SockDiag => f.write_str("netlink sock_diag"),
            ListenerSource::ProcNet { why } => {
                write!(f, "/proc/net/tcp* (sock_diag refused: {why})")
            }
        }
    }
}

impl ListenerSource {
    /// Where a listener of this family was listed, as the evidence names it.
    pub fn listed_in(&self, v6: bool) -> &'static str {
        match (self, v6) {
            (ListenerSource::SockDiag, _) => "sock_diag",
            (ListenerSource::ProcNet { .. }, false) => "/proc/net/tcp",
            (ListenerSource::ProcNet { .. }, true) => "/proc/net/tcp6",
        }
    }
}

static LAST_SOURCE: Mutex<Option<ListenerSource>> = Mutex::new(None);

/// The source of the last [`tcp_listeners`] answer in this process.
pub fn listener_source() -> Option<ListenerSource> {
    LAST_SOURCE.lock().ok().and_then(|g| g.clone())
}

/// Every TCP socket in the LISTEN state, IPv4 and IPv6: the one way fixer asks which sockets
/// listen. From the kernel's listening hash by sock_diag, whose cost does not grow with the
/// connections on the host; when the kernel refuses it, from /proc/net/tcp*, streamed and
/// filtered as read. The source is recorded ([`listener_source`]), never guessed.
pub fn tcp_listeners() -> anyhow::Result<Vec<TcpSocket>> {
    listeners_or_fallback(diag::tcp_listeners())
}

/// The TCP sockets on local port `port`, listening or connected, from sock_diag with the
/// port filter applied in the kernel; from /proc/net/tcp* (streamed, filtered as read) where
/// the kernel refuses sock_diag. This is what watching a connection until it is accepted
/// reads, every few milliseconds, so it must not cost a walk of every socket's text.
pub fn tcp_on_port(port: u16) -> anyhow::Result<Vec<TcpSocket>> {
    match diag::tcp_on_port(port, false) {
        Ok(found) => Ok(found),
        Err(_) => tcp_sockets_where(|s| s.local.port() == port && s.state != TcpState::TimeWait),
    }
}

/// The listening TCP sockets on local port `port`, with their accept queues now.
pub fn tcp_listeners_on_port(port: u16) -> anyhow::Result<Vec<TcpSocket>> {
    match diag::tcp_on_port(port, true) {
        Ok(found) => Ok(found),
        Err(_) => tcp_sockets_where(|s| s.local.port() == port && s.is_listening()),
    }
}

/// Finds the server's end of connections fixer opened, look after look, while it waits for a
/// holder to accept them: by sock_diag, one hash lookup per connection; where the kernel
/// refuses sock_diag, from /proc/net/tcp* filtered to the port.
pub struct ServerEnds {
    diag: Option<diag::Socket>,
}

impl ServerEnds {
    pub fn open() -> Self {
        Self {
            diag: diag::open().ok(),
        }
    }

    /// The server's end of the connection from each of `clients` to `server`, in order; `None`
    /// where the kernel lists no such connection.
    pub fn look(
        &mut self,
        server: SocketAddr,
        clients: &[SocketAddr],
    ) -> anyhow::Result<Vec<Option<TcpSocket>>> {
        if let Some(socket) = &self.diag {
            let found: std::io::Result<Vec<_>> = clients
                .iter()
                .map(|c| diag::tcp_server_end(socket, server, *c))
                .collect();
            match found {
                Ok(found) => return Ok(found),
                // Refused once, refused for good: the rest of the looks read /proc.
                Err(_) => self.diag = None,
            }
        }
        let same = |a: SocketAddr, b: SocketAddr| {
            canonical(a.ip()) == canonical(b.ip()) && a.port() == b.port()
        };
        let on_port = tcp_sockets_where(|s| s.local.port() == server.port() && !s.is_listening())?;
        Ok(clients
            .iter()
            .map(|c| {
                on_port
                    .iter()
                    .find(|s| same(s.local, server) && same(s.remote, *c))
                    .cloned()
            })
            .collect())
    }
}

fn listeners_or_fallback(
    from_kernel: std::io::Result<Vec<TcpSocket>>,
) -> anyhow::Result<Vec<TcpSocket>> {
    let (found, source) = match from_kernel {
        Ok(found) => (found, ListenerSource::SockDiag),
        Err(e) => {
            let why = e.to_string();
            (
                tcp_sockets_where(TcpSocket::is_listening)?,
                ListenerSource::ProcNet { why },
            )
        }
    };
    if let Ok(mut last) = LAST_SOURCE.lock() {
        *last = Some(source);
    }
    Ok(found)
}

/// Whether a socket bound to `local` (listening, or about to) takes connections to `dest`.
/// The one rule every step uses:
/// - the ports must be equal;
/// - `0.0.0.0` takes every IPv4 address, `[::]` every IPv6 address, and IPv4 too when it is
///   dual-stack (`dual_stack`: net.ipv6.bindv6only=0 and no IPV6_V6ONLY on the socket);
/// - an IPv4-mapped address (`[::ffff:127.0.0.1]`) is that IPv4 address, on either side;
/// - otherwise the addresses must be equal.
///
/// Names such as `localhost` are not addresses: a name is served when any of the addresses
/// it resolves to is (see [`serves_any`]), because nginx tries each address in turn.
pub fn serves(local: SocketAddr, dest: SocketAddr, dual_stack: bool) -> bool {
    if local.port() != dest.port() {
        return false;
    }
    let dest = canonical(dest.ip());
    match canonical(local.ip()) {
        IpAddr::V4(l) => dest.is_ipv4() && (l.is_unspecified() || IpAddr::V4(l) == dest),
        IpAddr::V6(l) if l.is_unspecified() => dest.is_ipv6() || dual_stack,
        l => l == dest,
    }
}

/// Whether a socket bound to `local` takes connections to any of `dests`.
pub fn serves_any(local: SocketAddr, dests: &[SocketAddr], dual_stack: bool) -> bool {
    dests.iter().any(|d| serves(local, *d, dual_stack))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; any other address as it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether a `[::]` socket also takes IPv4 connections on this host. /proc/net/tcp6 does not
/// show a socket's own IPV6_V6ONLY, so the system default (net.ipv6.bindv6only) stands in for
/// it; most servers (Python, gunicorn, Node, Go) keep that default.
pub fn dual_stack_default() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").map_or(true, |s| s.trim() != "1")
}

/// Whether some LISTEN socket in `tcp` takes connections to any of `dests` (`dual`: see
/// [`dual_stack_default`], read once by the caller).
pub fn listening_on(tcp: &[TcpSocket], dests: &[SocketAddr], dual: bool) -> bool {
    serving(tcp, dests, dual).next().is_some()
}

/// The LISTEN sockets in `tcp` that take connections to any of `dests`.
pub fn serving<'a>(
    tcp: &'a [TcpSocket],
    dests: &'a [SocketAddr],
    dual: bool,
) -> impl Iterator<Item = &'a TcpSocket> {
    tcp.iter()
        .filter(move |s| s.is_listening() && serves_any(s.local, dests, dual))
}

/// The LISTEN sockets in `tcp` on `port`, whatever address they are bound to.
pub fn listening_on_port(tcp: &[TcpSocket], port: u16) -> impl Iterator<Item = &TcpSocket> {
    tcp.iter()
        .filter(move |s| s.is_listening() && s.local.port() == port)
}

/// `__SO_ACCEPTCON` in the Flags column: set once listen() was called.
const SO_ACCEPTCON: u32 = 0x0001_0000;
/// `SS_UNCONNECTED` in the St column.
const SS_UNCONNECTED: u8 = 0x01;

/// Parses /proc/net/unix. Abstract names come out with their leading NUL shown as '@', as the
/// kernel prints them; unnamed sockets have no path.
pub fn parse_unix(text: &str) -> Vec<UnixSocket> {
    text.lines().skip(1).filter_map(parse_unix_line).collect()
}

fn parse_unix_line(line: &str) -> Option<UnixSocket> {
    let (f, rest) = split_fields(line, 7);
    if f.len() < 7 {
        return None;
    }
    let flags = u32::from_str_radix(f[3], 16).ok()?;
    let state = u8::from_str_radix(f[5], 16).ok()?;
    Some(UnixSocket {
        path: rest.map(str::to_string),
        inode: f[6].parse().ok()?,
        listening: state == SS_UNCONNECTED && flags & SO_ACCEPTCON != 0,
        accept_queue: None,
        backlog: None,
    })
}

/// The first `n` whitespace-separated fields, and the rest of the line (a path may contain
/// spaces, so it cannot be split like the other columns).
fn split_fields(line: &str, n: usize) -> (Vec<&str>, Option<&str>) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while fields.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    let rest = rest.trim_end();
    (fields, (!rest.is_empty()).then_some(rest))
}

/// Every unix socket /proc/net/unix lists, listening or not.
pub fn unix_sockets() -> anyhow::Result<Vec<UnixSocket>> {
    proc_unix(|_| true)
}

/// Where the last [`unix_listeners`] answer came from (the same words as for TCP).
static LAST_UNIX_SOURCE: Mutex<Option<ListenerSource>> = Mutex::new(None);

pub fn unix_listener_source() -> Option<ListenerSource> {
    LAST_UNIX_SOURCE.lock().ok().and_then(|g| g.clone())
}

/// Every listening unix socket: from unix_diag, which lists only listeners and their accept
/// queues, or, where the kernel refuses it, from /proc/net/unix read line by line and kept
/// only for listeners (a host with 100 000 connected unix sockets is never held in memory).
pub fn unix_listeners() -> anyhow::Result<Vec<UnixSocket>> {
    let (result, source) = match diag::unix_listeners() {
        Ok(list) => (Ok(list), ListenerSource::SockDiag),
        Err(e) => (
            proc_unix(|s| s.listening),
            ListenerSource::ProcNet { why: e.to_string() },
        ),
    };
    if let Ok(mut g) = LAST_UNIX_SOURCE.lock() {
        *g = Some(source);
    }
    result
}

/// /proc/net/unix streamed, keeping the lines `keep` wants; each line is bounded.
fn proc_unix(keep: impl Fn(&UnixSocket) -> bool) -> anyhow::Result<Vec<UnixSocket>> {
    use std::io::BufRead;
    let file = std::fs::File::open("/proc/net/unix").context("reading /proc/net/unix")?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut out = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let n = std::io::Read::take(&mut reader, MAX_UNIX_LINE)
            .read_until(b'\n', &mut line)
            .context("reading /proc/net/unix")?;
        if n == 0 {
            break;
        }
        if std::mem::take(&mut first) {
            continue;
        }
        if let Some(s) = parse_unix_line(&String::from_utf8_lossy(&line)).filter(|s| keep(s)) {
            out.push(s);
        }
    }
    Ok(out)
}

/// A /proc/net/unix line: seven short columns and a path of at most 108 bytes, shown with
/// escapes; anything longer is cut.
const MAX_UNIX_LINE: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = include_str!("../../tests/fixtures/proc/net_tcp.txt");
    const TCP6: &str = include_str!("../../tests/fixtures/proc/net_tcp6.txt");
    const UNIX: &str = include_str!("../../tests/fixtures/proc/net_unix.txt");

    fn sock(list: &[TcpSocket], inode: u64) -> &TcpSocket {
        list.iter()
            .find(|s| s.inode == inode)
            .expect("inode in fixture")
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_one_rule_for_wildcards() {
        let v4 = sa("127.0.0.1:8080");
        let v6 = sa("[::1]:8080");
        assert!(serves(sa("0.0.0.0:8080"), v4, true));
        assert!(serves(sa("0.0.0.0:8080"), sa("10.1.2.3:8080"), false));
        assert!(
            !serves(sa("0.0.0.0:8080"), v6, true),
            "0.0.0.0 never takes IPv6"
        );
        assert!(serves(sa("[::]:8080"), v6, false));
        assert!(
            serves(sa("[::]:8080"), v4, true),
            "dual-stack [::] takes IPv4"
        );
        assert!(!serves(sa("[::]:8080"), v4, false), "v6only [::] does not");
        assert!(!serves(sa("0.0.0.0:8081"), v4, true), "ports must match");
    }

    #[test]
    fn the_one_rule_for_specific_and_mapped_addresses() {
        let v4 = sa("127.0.0.1:8080");
        assert!(serves(v4, v4, false));
        assert!(!serves(sa("127.0.0.2:8080"), v4, true));
        assert!(!serves(sa("[::1]:8080"), v4, true), "::1 is not 127.0.0.1");
        assert!(!serves(v4, sa("[::1]:8080"), true));
        let mapped = sa("[::ffff:127.0.0.1]:8080");
        assert!(
            serves(mapped, v4, true),
            "a mapped bind takes its IPv4 address"
        );
        assert!(serves(v4, mapped, false), "a mapped destination is IPv4");
        assert!(serves(sa("0.0.0.0:8080"), mapped, false));
        assert!(serves(sa("[::]:8080"), mapped, true));
        assert!(!serves(sa("[::]:8080"), mapped, false));
        assert!(!serves(sa("[::ffff:127.0.0.2]:8080"), v4, true));
    }

    #[test]
    fn a_name_is_served_when_any_of_its_addresses_is() {
        let localhost = [sa("[::1]:8080"), sa("127.0.0.1:8080")];
        assert!(serves_any(sa("[::1]:8080"), &localhost, false));
        assert!(serves_any(sa("127.0.0.1:8080"), &localhost, false));
        assert!(!serves_any(sa("127.0.0.1:8081"), &localhost, true));
        assert!(!serves_any(sa("10.0.0.5:8080"), &localhost, true));
        assert!(!serves_any(sa("[::1]:8080"), &[], true));
    }

    #[test]
    fn tcp_v4_listener_on_loopback() {
        let list = parse_tcp(TCP, false);
        assert_eq!(list.len(), 3);
        let s = sock(&list, 16268);
        assert_eq!(s.local, "127.0.0.1:36411".parse().unwrap());
        assert_eq!(s.remote, "0.0.0.0:0".parse().unwrap());
        assert!(s.is_listening());
        assert_eq!((s.rx_queue, s.tx_queue, s.uid), (0, 0, 0));
        assert_eq!(sock(&list, 1150).local, "0.0.0.0:2024".parse().unwrap());
    }

    #[test]
    fn tcp6_loopback_listener_with_pending_connection() {
        let list = parse_tcp(TCP6, true);
        assert_eq!(list.len(), 4);
        let s = sock(&list, 17304);
        assert_eq!(s.local, "[::1]:50243".parse().unwrap());
        assert_eq!(s.state, TcpState::Listen);
        assert_eq!(s.rx_queue, 1, "one connection waits in the accept queue");
        let client = sock(&list, 17308);
        assert_eq!(client.state, TcpState::Established);
        assert_eq!(client.remote, "[::1]:50243".parse().unwrap());
    }

    #[test]
    fn tcp6_v4_mapped_address() {
        let list = parse_tcp(TCP6, true);
        let s = sock(&list, 17307);
        assert_eq!(s.local, "[::ffff:127.0.0.1]:41141".parse().unwrap());
    }

    #[test]
    fn tcp_skips_garbage_lines() {
        let text = "header\n  0: zz:00 00000000:0000 0A 0:0 0 0 0 0 1\n";
        assert!(parse_tcp(text, false).is_empty());
        assert!(parse_tcp("", true).is_empty());
    }

    #[test]
    fn unix_paths_abstract_and_unnamed() {
        let list = parse_unix(UNIX);
        assert_eq!(list.len(), 4);
        let named = list.iter().find(|s| s.inode == 17305).unwrap();
        assert_eq!(named.path.as_deref(), Some("/tmp/fixer-sample.sock"));
        assert!(named.listening);
        let abs = list.iter().find(|s| s.inode == 17306).unwrap();
        assert_eq!(abs.path.as_deref(), Some("@fixer-abstract"));
        assert!(abs.listening);
        let unnamed = list.iter().find(|s| s.inode == 546).unwrap();
        assert_eq!(unnamed.path, None);
        assert!(!unnamed.listening);
    }

    #[test]
    fn unix_path_with_spaces() {
        let text = "Num RefCount Protocol Flags Type St Inode Path\n\
                    0000000060f79c1d: 00000002 00000000 00010000 0001 01 42 /run/my app.sock\n";
        let list = parse_unix(text);
        assert_eq!(list[0].path.as_deref(), Some("/run/my app.sock"));
    }

    #[test]
    fn sock_diag_and_proc_agree_on_a_listener_and_its_accept_queue() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _waiting = std::net::TcpStream::connect(local).unwrap();
        let from_proc = tcp_sockets_where(|s| s.local == local && s.is_listening()).unwrap();
        assert_eq!(from_proc.len(), 1);
        assert_eq!(from_proc[0].rx_queue, 1, "one connection nobody accepted");
        match diag::tcp_listeners() {
            Ok(found) => assert!(found.contains(&from_proc[0]), "{found:?}"),
            // A kernel without sock_diag: the fallback below is what fixer uses.
            Err(e) => assert!(e.raw_os_error().is_some(), "{e}"),
        }
        let all = tcp_listeners().unwrap();
        assert!(all.contains(&from_proc[0]));
        assert!(all.iter().all(TcpSocket::is_listening));
        assert!(listener_source().is_some());
    }

    #[test]
    fn one_port_from_sock_diag_is_what_proc_lists_for_that_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _to_other = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        // accept() takes the oldest connection in the queue.
        let accepted = std::net::TcpStream::connect(local).unwrap();
        let waiting = std::net::TcpStream::connect(local).unwrap();
        let (served, _) = listener.accept().unwrap();
        let key = |s: &TcpSocket| (s.local, s.remote, s.state == TcpState::Listen, s.inode);
        let mut from_proc: Vec<_> = tcp_sockets_where(|s| s.local.port() == local.port())
            .unwrap()
            .iter()
            .map(key)
            .collect();
        from_proc.sort();
        // The listener and two server ends: one not yet accepted (inode 0), one accepted.
        assert_eq!(from_proc.len(), 3, "{from_proc:?}");
        let end = |c: &std::net::TcpStream| {
            from_proc
                .iter()
                .find(|s| s.1 == c.local_addr().unwrap())
                .map(|s| s.3)
        };
        assert_eq!(end(&waiting), Some(0));
        assert!(end(&accepted).is_some_and(|inode| inode != 0));
        match diag::tcp_on_port(local.port(), false) {
            Ok(found) => {
                let mut found: Vec<_> = found.iter().map(key).collect();
                found.sort();
                assert_eq!(found, from_proc);
            }
            Err(e) => assert!(e.raw_os_error().is_some(), "{e}"),
        }
        drop(served);
    }

    #[test]
    fn server_ends_are_found_by_their_addresses_waiting_or_accepted() {
        // A dual-stack listener reached over IPv4: its connections are IPv6 sockets with
        // IPv4-mapped addresses, found by the IPv4 pair. Without IPv6, a plain IPv4 listener.
        let listener = std::net::TcpListener::bind("[::]:0")
            .or_else(|_| std::net::TcpListener::bind("0.0.0.0:0"))
            .unwrap();
        let server = SocketAddr::from(([127, 0, 0, 1], listener.local_addr().unwrap().port()));
        let accepted = std::net::TcpStream::connect(server).unwrap();
        let waiting = std::net::TcpStream::connect(server).unwrap();
        let (served, _) = listener.accept().unwrap();
        let gone = SocketAddr::from(([127, 0, 0, 1], 9));
        let clients = [
            accepted.local_addr().unwrap(),
            waiting.local_addr().unwrap(),
            gone,
        ];
        let mut ends = ServerEnds::open();
        let found = ends.look(server, &clients).unwrap();
        assert!(found[0].as_ref().is_some_and(|s| s.inode != 0), "{found:?}");
        assert_eq!(found[1].as_ref().map(|s| s.inode), Some(0), "{found:?}");
        assert!(found[2].is_none(), "{found:?}");
        // The /proc reading gives the same answer.
        let mut from_proc = ServerEnds { diag: None };
        let inodes = |f: Vec<Option<TcpSocket>>| {
            f.iter()
                .map(|s| s.as_ref().map(|s| s.inode))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            inodes(from_proc.look(server, &clients).unwrap()),
            inodes(found)
        );
        drop(served);
    }

    #[test]
    fn a_refused_sock_diag_falls_back_to_proc_and_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        // A stand-in for a kernel that refuses sock_diag (as gVisor does).
        let refused = Err(std::io::Error::from_raw_os_error(93));
        let found = listeners_or_fallback(refused).unwrap();
        assert!(found.iter().any(|s| s.local == local));
        assert!(found.iter().all(TcpSocket::is_listening));
    }

    #[test]
    fn reads_this_machine() {
        assert!(tcp_listeners().is_ok());
        assert!(unix_sockets().is_ok());
    }
}
