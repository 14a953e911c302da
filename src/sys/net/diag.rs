//! Listening TCP sockets straight from the kernel (NETLINK_SOCK_DIAG, inet_diag), as `ss` gets
//! them. Asking for the LISTEN state only makes the kernel walk its listening hash, so the cost
//! stays the same on a front end with 60 000 connections, where /proc/net/tcp lists every one.
//! Unix sockets come the same way (unix_diag), LISTEN only, with their accept queue, which
//! /proc/net/unix does not show.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, TCP_LISTEN};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags,
};
use netlink_packet_sock_diag::unix::{self, nlas::UnixDiagName, UnixRequest, UnixResponse};
use netlink_packet_sock_diag::SockDiagMessage;
pub(super) use netlink_sys::Socket;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, SocketAddr as NlAddr};

use super::{TcpSocket, TcpState, UnixSocket};

/// How long one reply may take: the kernel answers a dump at once, so waiting longer only
/// delays the fallback to /proc/net/tcp.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// One datagram of a dump; the kernel fills up to a page per message batch, 32 KiB is what
/// `ss` reads with.
const RECV_BUF: usize = 32 * 1024;
/// A bound on the messages of one dump, so a misbehaving kernel cannot keep fixer looping.
const MAX_REPLIES: usize = 1_000_000;

/// Every TCP socket in the LISTEN state, IPv4 then IPv6. `Err` when the kernel refuses
/// sock_diag (no module, a sandbox such as gVisor, a seccomp filter): the caller falls back.
pub(super) fn tcp_listeners() -> io::Result<Vec<TcpSocket>> {
    let socket = open()?;
    let mut out = Vec::new();
    for family in [AF_INET, AF_INET6] {
        dump(&socket, &inet_request(family, StateFlags::LISTEN), |m| {
            if let SockDiagMessage::InetResponse(r) = m {
                out.extend(Some(to_socket(&r)).filter(|s| s.state == TcpState::Listen));
            }
        })?;
    }
    Ok(out)
}

/// Every TCP socket whose local port is `port`, listening or connected (TIME_WAIT left out: it
/// has no process), IPv4 then IPv6. The kernel filters by port itself (a bytecode filter, as
/// `ss 'sport = :P'` sends), so on a front end with 60 000 connections only the few on this
/// port cross into fixer.
pub(super) fn tcp_on_port(port: u16, listening_only: bool) -> io::Result<Vec<TcpSocket>> {
    let socket = open()?;
    let mut out = Vec::new();
    // LISTEN alone spares the kernel its walk of every connection's hash bucket.
    let states = if listening_only {
        StateFlags::LISTEN
    } else {
        StateFlags::all() - StateFlags::TIME_WAIT
    };
    for family in [AF_INET, AF_INET6] {
        let request = with_bytecode(inet_request(family, states.clone()), &sport_is(port));
        dump(&socket, &request, |m| {
            if let SockDiagMessage::InetResponse(r) = m {
                out.push(to_socket(&r));
            }
        })?;
    }
    // The kernel applied the filter; a kernel that ignored it must not widen the answer.
    out.retain(|s| s.local.port() == port && (!listening_only || s.state == TcpState::Listen));
    Ok(out)
}

/// The server's end of the TCP connection from `client` to `server`, looked up by its four
/// addresses (one hash lookup in the kernel, not a walk of every socket): `Ok(None)` when the
/// kernel has no such connection. An accepted connection of a dual-stack listener is an IPv6
/// socket with IPv4-mapped addresses; the kernel finds it by the IPv4 pair as well.
pub(super) fn tcp_server_end(
    socket: &Socket,
    server: SocketAddr,
    client: SocketAddr,
) -> io::Result<Option<TcpSocket>> {
    let family = if server.is_ipv4() { AF_INET } else { AF_INET6 };
    let request = serialize_with(
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: server.port(),
                destination_port: client.port(),
                source_address: server.ip(),
                destination_address: client.ip(),
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: match by the addresses alone.
                cookie: [0xff; 8],
            },
        }),
        NLM_F_REQUEST,
    );
    socket.send(&request, 0)?;
    let mut buf = vec![0u8; RECV_BUF];
    let len = socket.recv(&mut &mut buf[..], 0)?;
    let msg = <NetlinkMessage<SockDiagMessage>>::deserialize(&buf[..len])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    match msg.payload {
        // Without a connection of that pair the kernel's lookup may fall back to the
        // listener, which is not the server's end of anything.
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => Ok(Some(to_socket(&r))
            .filter(|s| s.state != TcpState::Listen && s.remote.port() == client.port())),
        NetlinkPayload::Error(e) => match e.code.map(|c| -c.get()) {
            Some(code) if code == rustix::io::Errno::NOENT.raw_os_error() => Ok(None),
            Some(code) => Err(io::Error::from_raw_os_error(code)),
            None => Err(io::Error::other("sock_diag: empty error")),
        },
        _ => Err(io::Error::other("sock_diag: unexpected reply")),
    }
}

/// inet_diag bytecode for "local port == `port`": `sport >= port`, then `sport <= port`. Each
/// test is an op (code, jump if true, jump if false) followed by an op whose `no` holds the
/// port; a false test jumps past the end, which rejects the socket.
fn sport_is(port: u16) -> [u8; 16] {
    const S_GE: u8 = 2;
    const S_LE: u8 = 3;
    let op = |code: u8, yes: u8, no: u16| {
        let n = no.to_ne_bytes();
        [code, yes, n[0], n[1]]
    };
    let mut bc = [0u8; 16];
    bc[0..4].copy_from_slice(&op(S_GE, 8, 16 + 4));
    bc[4..8].copy_from_slice(&op(0, 0, port));
    bc[8..12].copy_from_slice(&op(S_LE, 8, 8 + 4));
    bc[12..16].copy_from_slice(&op(0, 0, port));
    bc
}

/// Appends the INET_DIAG_REQ_BYTECODE attribute, which the crate's request type does not
/// carry, and fixes the message length.
fn with_bytecode(mut request: Vec<u8>, bytecode: &[u8]) -> Vec<u8> {
    const INET_DIAG_REQ_BYTECODE: u16 = 1;
    let len = 4 + bytecode.len();
    request.extend_from_slice(&(len as u16).to_ne_bytes());
    request.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    request.extend_from_slice(bytecode);
    request.resize(request.len().next_multiple_of(4), 0);
    let total = request.len() as u32;
    request[0..4].copy_from_slice(&total.to_ne_bytes());
    request
}

/// Every unix stream socket in the LISTEN state, with its name and accept queue.
pub(super) fn unix_listeners() -> io::Result<Vec<UnixSocket>> {
    let socket = open()?;
    let mut out = Vec::new();
    dump(&socket, &unix_request(), |m| {
        if let SockDiagMessage::UnixResponse(r) = m {
            out.extend(to_unix(&r));
        }
    })?;
    Ok(out)
}

/// A sock_diag socket, for one dump or a series of lookups.
pub(super) fn open() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NlAddr::new(0, 0))?;
    rustix::net::sockopt::set_socket_timeout(
        socket.as_fd(),
        rustix::net::sockopt::Timeout::Recv,
        Some(REPLY_TIMEOUT),
    )?;
    Ok(socket)
}

fn dump(socket: &Socket, request: &[u8], mut each: impl FnMut(SockDiagMessage)) -> io::Result<()> {
    socket.send(request, 0)?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut replies = 0usize;
    loop {
        let len = socket.recv(&mut &mut buf[..], 0)?;
        let mut offset = 0;
        while offset < len.min(buf.len()) {
            replies += 1;
            if replies > MAX_REPLIES {
                return Err(io::Error::other("sock_diag dump did not end"));
            }
            let msg = <NetlinkMessage<SockDiagMessage>>::deserialize(&buf[offset..len])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let step = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::InnerMessage(m) => each(m),
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    return Err(e.code.map_or_else(
                        || io::Error::other("sock_diag: empty error"),
                        |c| io::Error::from_raw_os_error(-c.get()),
                    ))
                }
                _ => {}
            }
            if step == 0 {
                break;
            }
            offset += step;
        }
    }
}

fn inet_request(family: u8, states: StateFlags) -> Vec<u8> {
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    serialize(SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states,
        socket_id,
    }))
}

/// Listening unix sockets, with their name and the accept queue (UNIX_DIAG_RQLEN: pending
/// connections and the backlog limit, for a listener).
fn unix_request() -> Vec<u8> {
    serialize(SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: unix::StateFlags::LISTEN,
        inode: 0,
        show_flags: unix::ShowFlags::NAME | unix::ShowFlags::RQLEN,
        cookie: [0xff; 8],
    }))
}

fn serialize(message: SockDiagMessage) -> Vec<u8> {
    serialize_with(message, NLM_F_REQUEST | NLM_F_DUMP)
}

fn serialize_with(message: SockDiagMessage, flags: u16) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    let mut packet = NetlinkMessage::new(header, message.into());
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

/// The kernel's record as the same [`TcpSocket`] a /proc/net/tcp line gives: `recv_queue` of
/// a listener is its accept queue, as `rx_queue` is in /proc; `tx_queue` stays 0 as there.
fn to_socket(r: &InetResponse) -> TcpSocket {
    let h = &r.header;
    let id = &h.socket_id;
    TcpSocket {
        local: SocketAddr::new(id.source_address, id.source_port),
        remote: SocketAddr::new(id.destination_address, id.destination_port),
        state: TcpState::from_code(h.state),
        rx_queue: h.recv_queue,
        tx_queue: 0,
        uid: h.uid,
        inode: u64::from(h.inode),
    }
}

/// The kernel's record as the [`UnixSocket`] a /proc/net/unix line gives, plus the queue.
/// Abstract names are shown with a leading '@', as /proc/net/unix shows them.
fn to_unix(r: &UnixResponse) -> Option<UnixSocket> {
    if r.header.state != TCP_LISTEN {
        return None;
    }
    let path = r.name().map(|n| match n {
        UnixDiagName::Pathname(p) => p.to_string_lossy().into_owned(),
        UnixDiagName::Abstract(a) => format!("@{}", String::from_utf8_lossy(a)),
    });
    Some(UnixSocket {
        path,
        inode: u64::from(r.header.inode),
        listening: true,
        accept_queue: r.number_of_pending_connection(),
        backlog: r.max_number_of_pending_connection(),
    })
}
