//! The end of a log file, bounded: a multi-gigabyte log costs one seek and `cap` bytes.

use std::io::{Read, Seek, SeekFrom};
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
}
