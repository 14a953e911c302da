//! The host's pressure as the kernel reports it: memory and swap, load, and how full the
//! filesystem holding a given file is. Memory and load come through `sysinfo`; the filesystem
//! through `statvfs` on the path itself, which names exactly the filesystem a write would hit
//! (bind mounts and tmpfs included) without guessing from the mount table.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Memory, swap and load, in bytes and run-queue lengths; shown as is in the step details.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "HostMemory")]
pub struct Memory {
    pub total: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub load: [f64; 3],
    pub cpus: usize,
}

/// Space on the filesystem holding a file (bytes an unprivileged writer may still use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpace {
    /// The existing path that was measured (the file, or its nearest existing parent).
    pub path: PathBuf,
    pub total: u64,
    pub available: u64,
}

pub fn memory() -> Option<Memory> {
    let mut s = sysinfo::System::new().ok()?;
    s.refresh_memory();
    let load = sysinfo::System::load_average().ok()?;
    Some(Memory {
        total: s.total_memory(),
        available: s.available_memory(),
        swap_total: s.total_swap(),
        swap_free: s.free_swap(),
        load: [load.one, load.five, load.fifteen],
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    })
}

/// `statvfs` of `path`, or of its nearest existing parent when the file is not there (yet).
pub fn disk_space(path: &Path) -> Option<DiskSpace> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let st = rustix::fs::statvfs(existing).ok()?;
    Some(DiskSpace {
        path: existing.to_path_buf(),
        total: st.f_blocks * st.f_frsize,
        available: st.f_bavail * st.f_frsize,
    })
}

/// The last `n` lines of a file, reading at most `max_bytes` from its end: a backend's log
/// can be gigabytes.
pub fn tail(path: &Path, n: usize, max_bytes: u64) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max_bytes);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max_bytes).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut mid-line
    }
    Ok(lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        assert_eq!(tail(&p, 2, 64).unwrap(), ["line 998", "line 999"]);
        // 20 bytes from the end: the partial first line is dropped.
        assert_eq!(tail(&p, 10, 20).unwrap(), ["line 998", "line 999"]);
        assert!(tail(&dir.path().join("none"), 2, 64).is_err());
    }

    #[test]
    fn this_host_has_memory_and_a_filesystem() {
        let m = memory().unwrap();
        assert!(m.total > 0 && m.available <= m.total && m.cpus >= 1);
        let d = disk_space(Path::new("/tmp/does/not/exist/yet.log")).unwrap();
        assert_eq!(d.path, Path::new("/tmp"));
        assert!(d.total > 0 && d.available <= d.total);
    }
}
