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
    // Both questions go out at once, as the system resolver sends them: a server a continent
    // away costs one round trip, not two.
    let base = std::process::id() as u16;
    let questions = [
        (TYPE::A, "A", base),
        (TYPE::AAAA, "AAAA", base.wrapping_add(1)),
    ];
    for (rtype, _, id) in questions {
        send(&socket, id, &fqdn, rtype).map_err(|e| format!("{server}: {e}"))?;
    }
    let mut answers: [Option<Result<Vec<IpAddr>, String>>; 2] = [None, None];
    let mut buf = [0u8; 4096];
    while answers.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
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
                break
            }
            Err(e) => {
                // e.g. refused: nothing listens there. Every question still open has failed.
                for a in answers.iter_mut().filter(|a| a.is_none()) {
                    *a = Some(Err(e.to_string()));
                }
                break;
            }
        };
        // Only a parsed answer to one of the questions counts; anything else is ignored.
        let Ok(reply) = Packet::parse(&buf[..n]) else {
            continue;
        };
        if !reply.has_flags(PacketFlag::RESPONSE) {
            continue;
        }
        let Some(k) = questions.iter().position(|q| q.2 == reply.id()) else {
            continue;
        };
        answers[k].get_or_insert_with(|| match reply.rcode() {
            RCODE::NoError => Ok(addresses(&reply)),
            RCODE::NameError => Err("no such domain (NXDOMAIN)".into()),
            other => Err(format!("the server answered {}", rcode_name(other))),
        });
    }
    let mut ips = Vec::new();
    let mut errors = Vec::new();
    for ((_, label, _), answer) in questions.iter().zip(answers) {
        match answer.unwrap_or_else(|| Err("no answer in time".into())) {
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

fn send(socket: &UdpSocket, id: u16, name: &Name, rtype: TYPE) -> Result<(), String> {
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A thin stand-in for a DNS server on loopback that answers nothing until it holds both
    /// questions, then answers AAAA first: asked one question at a time, fixer would give up.
    #[test]
    fn both_questions_are_in_flight_at_once_and_answers_match_by_id() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let serving = std::thread::spawn(move || {
            server
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut held = Vec::new();
            let mut buf = [0u8; 512];
            while held.len() < 2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                held.push((buf[..n].to_vec(), from));
            }
            for (bytes, from) in held.iter().rev() {
                let query = Packet::parse(bytes).unwrap();
                let mut reply = Packet::new_reply(query.id());
                let question = query.questions[0].clone();
                let rdata = match question.qtype {
                    QTYPE::TYPE(TYPE::A) => RData::A(simple_dns::rdata::A {
                        address: u32::from(std::net::Ipv4Addr::new(127, 0, 0, 7)),
                    }),
                    _ => RData::AAAA(simple_dns::rdata::AAAA {
                        address: u128::from(std::net::Ipv6Addr::LOCALHOST),
                    }),
                };
                reply.answers.push(simple_dns::ResourceRecord::new(
                    question.qname.clone(),
                    CLASS::IN,
                    60,
                    rdata,
                ));
                reply.questions.push(question);
                server
                    .send_to(&reply.build_bytes_vec().unwrap(), from)
                    .unwrap();
            }
        });
        let mut ips = query(addr, "held.fixer.test", Duration::from_secs(3)).unwrap();
        ips.sort();
        assert_eq!(
            ips,
            vec![
                IpAddr::from([127, 0, 0, 7]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        serving.join().unwrap();
    }
}
