//! The end of a log file, bounded: a multi-gigabyte log costs one seek and `cap` bytes; and
//! its lines from the last to the first, read in chunks, for readers that stop at a time or a
//! count (the audit log, nginx's error log).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The bytes of `path` from `max(from, len - cap)` on, at most `cap` of them (a log that grows
/// while it is read does not make the read grow), and the offset they start at.
pub fn read_tail(path: &Path, from: u64, cap: u64) -> std::io::Result<(u64, Vec<u8>)> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = from.min(len).max(len.saturating_sub(cap));
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(cap).read_to_end(&mut bytes)?;
    Ok((start, bytes))
}

/// Lines of a file from the last to the first. The file's length is taken once, so a log that
/// grows while it is read does not make the read grow.
pub struct LinesBack {
    file: File,
    /// Bytes before `buf` not read yet.
    pos: u64,
    len: u64,
    /// Read but not yet returned: the start of the file's unread part, up to a line end.
    buf: Vec<u8>,
    /// Inside a line longer than the cap: its bytes are dropped as they are read.
    skipping: bool,
    chunk: u64,
    line_max: usize,
    /// Bytes before this offset are never read (the first line returned may then be a part).
    floor: u64,
}

impl LinesBack {
    /// Reads `file` (of length `len`) backwards in chunks of `chunk` bytes; a line longer than
    /// `line_max` comes back as a stand-in no parser accepts (a single NUL byte).
    pub fn new(file: File, len: u64, chunk: u64, line_max: usize) -> LinesBack {
        LinesBack {
            file,
            pos: len,
            len,
            buf: Vec::new(),
            skipping: false,
            chunk: chunk.max(1),
            line_max,
            floor: 0,
        }
    }

    /// Reads at most the last `max` bytes.
    pub fn at_most(mut self, max: u64) -> LinesBack {
        self.floor = self.len.saturating_sub(max);
        self
    }

    /// Whether the bound of [`LinesBack::at_most`] kept part of the file unread.
    pub fn stopped_at_bound(&self) -> bool {
        self.floor > 0 && self.pos == self.floor
    }

    /// Bytes read from the end so far.
    pub fn consumed(&self) -> u64 {
        self.len - self.pos
    }

    /// The previous line, without its newline; `None` at the start of the file.
    pub fn prev_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(nl) = self.buf.iter().rposition(|&b| b == b'\n') {
                let line = self.buf.split_off(nl + 1);
                self.buf.pop();
                if line.is_empty() {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.pos == self.floor {
                return Ok((!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf)));
            }
            if self.buf.len() > self.line_max {
                self.buf.clear();
                self.skipping = true;
            }
            self.read_chunk()?;
        }
    }

    fn read_chunk(&mut self) -> std::io::Result<()> {
        let size = self.chunk.min(self.pos - self.floor);
        self.pos -= size;
        let mut chunk = vec![0; size as usize];
        self.file.read_exact_at(&mut chunk, self.pos)?;
        if self.skipping {
            // Keep what precedes the long line, and a stand-in for it that no parser accepts.
            if let Some(nl) = chunk.iter().rposition(|&b| b == b'\n') {
                chunk.truncate(nl + 1);
                chunk.push(0);
                self.skipping = false;
                self.buf = chunk;
            } else if self.pos == self.floor {
                self.buf = vec![0];
                self.skipping = false;
            }
            return Ok(());
        }
        chunk.extend_from_slice(&self.buf);
        self.buf = chunk;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_at_most_cap_bytes_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        let (start, bytes) = super::read_tail(&path, 0, 6).unwrap();
        assert_eq!((start, bytes.as_slice()), (8, &b"three\n"[..]));
        let (start, bytes) = super::read_tail(&path, 4, 100).unwrap();
        assert_eq!((start, bytes.as_slice()), (4, &b"two\nthree\n"[..]));
    }

    #[test]
    fn lines_back_skips_a_line_longer_than_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let huge = "y".repeat(100);
        std::fs::write(&path, format!("one\ntwo\n{huge}")).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let mut back = super::LinesBack::new(f, 108, 7, 20);
        assert_eq!(back.prev_line().unwrap(), Some(vec![0]));
        assert_eq!(back.prev_line().unwrap(), Some(b"two".to_vec()));
        assert_eq!(back.prev_line().unwrap(), Some(b"one".to_vec()));
        assert_eq!(back.prev_line().unwrap(), None);
        assert_eq!(back.consumed(), 108);
    }
}
