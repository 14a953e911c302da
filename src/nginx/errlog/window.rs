//! The error log's lines since a time, read back from the end of the file: a quiet log costs a
//! chunk, a busy one is read until its lines are older than the window, and a flood stops at a
//! byte bound that the result names, so counts are real and a cut window is said to be cut.

use std::path::Path;

use chrono::NaiveDateTime;

use super::{line_time, parse_line, Entry};
use crate::limits;
use crate::sys::regular_file::{self, FileError};
use crate::sys::tail::LinesBack;

/// What one walk back through a log read.
#[derive(Debug, Default)]
pub struct Window {
    /// The upstream errors at or after the window's start, oldest first.
    pub entries: Vec<Entry>,
    /// Set when the byte bound stopped the walk before the window's start.
    pub cut: Option<Cut>,
    pub bytes_read: u64,
}

/// Where the byte bound stopped the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Lines from this time on were read; older ones in the window were not.
    At(NaiveDateTime),
    /// Not one timed line was found in the bytes read (a single huge line, or not a log).
    BeforeAnyLine,
}

/// Reads `path` back from its end until a line older than `since`, at most `max_bytes`.
pub fn read(path: &Path, since: NaiveDateTime, max_bytes: u64) -> Result<Window, FileError> {
    let opened = regular_file::open("nginx error log", path, u64::MAX)?;
    let len = opened.meta.len();
    let mut back = LinesBack::new(
        opened.file,
        len,
        limits::ERROR_LOG_CHUNK_BYTES,
        limits::ERROR_LOG_LINE_MAX_BYTES,
    )
    .at_most(max_bytes);
    let io = |source| FileError::Io {
        what: "nginx error log",
        path: path.to_path_buf(),
        source,
    };
    let mut window = Window::default();
    let mut oldest: Option<NaiveDateTime> = None;
    let mut complete = false;
    while let Some(bytes) = back.prev_line().map_err(io)? {
        let line = String::from_utf8_lossy(&bytes);
        if let Some(t) = line_time(&line) {
            if t < since {
                complete = true;
                break;
            }
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
            window.entries.extend(parse_line(&line));
        }
    }
    if !complete && back.stopped_at_bound() {
        window.cut = Some(oldest.map_or(Cut::BeforeAnyLine, Cut::At));
    }
    window.bytes_read = back.consumed();
    window.entries.reverse();
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = "[error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"localhost\"";

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").unwrap()
    }

    fn log(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("error.log");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        (dir, path)
    }

    fn line(t: &str) -> String {
        format!("{t} {REFUSED}")
    }

    #[test]
    fn counts_every_line_of_the_window_and_stops_at_its_start() {
        let mut lines: Vec<String> = (0..5000).map(|_| line("2026/11/26 02:00:00")).collect();
        lines.extend((0..5000).map(|_| line("2026/11/26 03:12:00")));
        let (_d, path) = log(&lines);
        let w = read(&path, at("2026/11/26 03:00:00"), u64::MAX).unwrap();
        assert_eq!(w.entries.len(), 5000, "not cut at a fixed tail");
        assert_eq!(w.cut, None);
        let total = std::fs::metadata(&path).unwrap().len();
        assert!(w.bytes_read < total, "stopped at the window's start");
    }

    #[test]
    fn the_byte_bound_cuts_and_says_from_when() {
        let mut lines: Vec<String> = (0..3000).map(|_| line("2026/11/26 03:10:00")).collect();
        lines.extend((0..3000).map(|_| line("2026/11/26 03:12:00")));
        let (_d, path) = log(&lines);
        let w = read(&path, at("2026/11/26 03:00:00"), 100_000).unwrap();
        assert_eq!(w.cut, Some(Cut::At(at("2026/11/26 03:12:00"))));
        assert!(w.entries.len() < 3000 && !w.entries.is_empty());
        assert!(w.bytes_read <= 100_000);
    }

    #[test]
    fn one_huge_last_line_does_not_hide_the_errors_before_it() {
        let mut lines: Vec<String> = (0..10).map(|_| line("2026/11/26 03:12:00")).collect();
        lines.push(format!(
            "2026/11/26 03:13:00 [error] 7#7: {}",
            "x".repeat(3 * limits::ERROR_LOG_LINE_MAX_BYTES)
        ));
        let (_d, path) = log(&lines);
        let w = read(&path, at("2026/11/26 03:00:00"), u64::MAX).unwrap();
        assert_eq!(w.entries.len(), 10);
    }

    #[test]
    fn a_bound_inside_one_huge_line_says_nothing_was_counted() {
        let lines = vec![
            line("2026/11/26 03:12:00"),
            "y".repeat(2 * limits::ERROR_LOG_LINE_MAX_BYTES),
        ];
        let (_d, path) = log(&lines);
        let w = read(&path, at("2026/11/26 03:00:00"), 1000).unwrap();
        assert_eq!(w.cut, Some(Cut::BeforeAnyLine));
        assert!(w.entries.is_empty());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(read(&path, at("2026/11/26 03:00:00"), 1000).is_err());
    }
}
