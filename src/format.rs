//! How times, durations and I/O errors read to an operator. The bottom layer: checks,
//! actions and the report all say "2 min" and "connection refused" the same way.

use std::time::Duration;

/// "3 s", "5 min", "2 h 3 min", "4 d 1 h": how long a process has been up.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A Unix time as local wall-clock time, for "started at" evidence.
pub fn clock_time(unix: f64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

/// A duration as an operator reads it: `2 s`, `0.5 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{} s", (s * 1000.0).round() / 1000.0)
    }
}

/// `512 B`, `64 KiB`, `16 MiB`: a size as an operator reads it (rounded down).
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

/// An I/O error as an operator says it: "connection refused", not "Connection refused (os error 111)".
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let said = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset by peer",
        K::ConnectionAborted => "connection aborted",
        K::UnexpectedEof => "connection closed before a complete response",
        K::BrokenPipe => "connection closed while sending the request",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::NotFound => "no such socket file",
        K::PermissionDenied => "permission denied",
        _ => return e.to_string(),
    };
    said.to_string()
}

/// "No such file or directory", without Rust's "(os error 2)".
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_naturally() {
        assert_eq!(super::age(5.2), "5 s");
        assert_eq!(super::age(125.0), "2 min");
        assert_eq!(super::age(7380.0), "2 h 3 min");
        assert_eq!(super::age(90_000.0), "1 d 1 h");
    }
}
