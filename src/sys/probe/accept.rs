//! Liveness for a protocol fixer does not speak: a connect, then the kernel's word on whether
//! the holder accepted it.

use std::time::{Duration, Instant};

use crate::format::secs;
use crate::pace::Pace;
use crate::sys::addr::{BackendAddr, Protocol};
use crate::sys::http::raw::{connect_any, connect_unix, Fail};
use crate::sys::http::FailureKind;

/// For a protocol fixer does not speak: connect, and where the kernel shows it, wait until the
/// holder accepts the connection. Accepted, or unknown, is not judged; a connection still
/// waiting in the accept queue at the deadline is the same evidence as an HTTP probe that got no
/// answer.
pub(super) fn connect_only(
    addr: &BackendAddr,
    protocol: Protocol,
    deadline: Instant,
    timeout: Duration,
) -> Fail {
    let not_spoken = |what: &str| {
        (
            FailureKind::NotSpoken,
            format!(
                "{what}; fixer does not speak {}, so the answer was not judged",
                protocol.label()
            ),
        )
    };
    let stream = match addr {
        BackendAddr::Tcp(_) | BackendAddr::Named(_) => {
            match connect_any(&addr.tcp_addrs(), timeout) {
                Ok(s) => s,
                Err(f) => return f,
            }
        }
        BackendAddr::Unix(p) => {
            return match connect_unix(p, timeout) {
                Ok(_) => not_spoken("connected"),
                Err(f) => f,
            }
        }
    };
    let mut pace = Pace::until(
        Duration::from_millis(5),
        Duration::from_millis(100),
        deadline,
    );
    let mut ends = crate::sys::net::ServerEnds::open();
    loop {
        match accepted(&mut ends, &stream) {
            Some(true) => return not_spoken("connected and accepted"),
            None => return not_spoken("connected"),
            Some(false) if !pace.wait() => {
                return (
                    FailureKind::ResponseTimeout,
                    format!(
                        "connected, but the holder did not accept the connection in {}",
                        secs(timeout)
                    ),
                )
            }
            Some(false) => {}
        }
    }
}

/// Whether the holder has accepted `stream`: until accept(), the server's end of a TCP
/// connection has no file, so the kernel lists it with inode 0. `None` when the server's end
/// is not visible (another network namespace) or /proc cannot be read.
fn accepted(ends: &mut crate::sys::net::ServerEnds, stream: &std::net::TcpStream) -> Option<bool> {
    let (ours, theirs) = (stream.local_addr().ok()?, stream.peer_addr().ok()?);
    let end = ends.look(theirs, &[ours]).ok()?.pop()??;
    Some(end.inode != 0)
}
