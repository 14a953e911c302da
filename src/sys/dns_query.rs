//! Asking one DNS server directly (A and AAAA over UDP), to see what users see when this host's
//! own resolver — /etc/hosts included — may say something else. The wire format comes from
//! simple-dns (one small crate: a question out, A and AAAA records back is all fixer needs); the
//! transport is a std UDP socket with a hard deadline, so no async runtime.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, RCODE, TYPE};

/// The A and AAAA addresses `server` gives for `name`, within `timeout` in all.
pub fn query(server: SocketAddr, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let deadline = Instant::now() + timeout;
    let fqdn =
        Name::new(name.trim_end_matches('.')).map_err(|e| format!("bad name {name:?}: {e}"))?;
    let bind: SocketAddr = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()
    .map_err(|_| "bind")?;
    let socket = UdpSocket::bind(bind).map_err(|e| format!("opening a UDP socket: {e}"))?;
    socket
        .connect(server)
        .map_err(|e| format!("{server}: {e}"))?;
    let mut ips = Vec::new();
    let mut errors = Vec::new();
    for (i, (rtype, label)) in [(TYPE::A, "A"), (TYPE::AAAA, "AAAA")]
        .into_iter()
        .enumerate()
    {
        let id = (std::process::id() as u16).wrapping_add(i as u16);
        match ask(&socket, id, &fqdn, rtype, deadline) {
            Ok(found) => ips.extend(found),
            Err(e) => errors.push(format!("{label}: {e}")),
        }
    }
    // Some servers refuse the AAAA question for a name they only hold an A record for; one
    // answered question is enough.
    if ips.is_empty() && !errors.is_empty() {
        return Err(format!("{server}: {}", errors.join("; ")));
    }
    Ok(ips)
}

fn ask(
    socket: &UdpSocket,
    id: u16,
    name: &Name,
    rtype: TYPE,
    deadline: Instant,
) -> Result<Vec<IpAddr>, String> {
    let mut msg = Packet::new_query(id);
    msg.set_flags(PacketFlag::RECURSION_DESIRED);
    msg.questions.push(Question::new(
        name.clone(),
        QTYPE::TYPE(rtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = msg.build_bytes_vec().map_err(|e| e.to_string())?;
    socket.send(&bytes).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer in time".into());
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err("no answer in time".into())
            }
            Err(e) => return Err(e.to_string()),
        };
        // Only a parsed answer to this question counts; anything else on the socket is ignored.
        let Ok(reply) = Packet::parse(&buf[..n]) else {
            continue;
        };
        if reply.id() != id || !reply.has_flags(PacketFlag::RESPONSE) {
            continue;
        }
        return match reply.rcode() {
            RCODE::NoError => Ok(addresses(&reply)),
            RCODE::NameError => Err("no such domain (NXDOMAIN)".into()),
            other => Err(format!("the server answered {}", rcode_name(other))),
        };
    }
}

fn addresses(reply: &Packet) -> Vec<IpAddr> {
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.rdata {
            RData::A(a) => Some(IpAddr::V4(a.address.into())),
            RData::AAAA(a) => Some(IpAddr::V6(a.address.into())),
            _ => None,
        })
        .collect()
}

/// The mnemonic an operator knows from `dig` (RFC 1035 and 2136 names).
fn rcode_name(code: RCODE) -> String {
    match code {
        RCODE::FormatError => "FORMERR".into(),
        RCODE::ServerFailure => "SERVFAIL".into(),
        RCODE::NotImplemented => "NOTIMP".into(),
        RCODE::Refused => "REFUSED".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

/// `8.8.8.8`, `8.8.8.8:53`, `[2001:4860::8888]:53` or `::1`.
pub fn parse_server(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{s:?} is not an IP address or IP:port"))
}
