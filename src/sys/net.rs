//! Sockets as the kernel lists them in /proc/net/{tcp,tcp6,unix}.

use std::net::SocketAddr;

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

/// One line of /proc/net/tcp or tcp6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// For a LISTEN socket: connections waiting in the accept queue (nobody called accept()).
    pub rx_queue: u32,
    /// For a LISTEN socket: the accept-queue limit (backlog).
    pub tx_queue: u32,
    pub uid: u32,
    pub inode: u64,
}

/// One line of /proc/net/unix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    pub path: Option<String>,
    pub inode: u64,
    pub listening: bool,
}

/// Parses the text of /proc/net/tcp (`v6 = false`) or /proc/net/tcp6 (`v6 = true`).
pub fn parse_tcp(_text: &str, _v6: bool) -> Vec<TcpSocket> {
    todo!()
}

/// Reads /proc/net/tcp and /proc/net/tcp6 once each.
pub fn tcp_sockets() -> anyhow::Result<Vec<TcpSocket>> {
    todo!()
}

pub fn parse_unix(_text: &str) -> Vec<UnixSocket> {
    todo!()
}

pub fn unix_sockets() -> anyhow::Result<Vec<UnixSocket>> {
    todo!()
}
