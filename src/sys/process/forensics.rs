//! What a kill destroys: the state of a stuck process's threads, its kernel stack and its open
//! files, read just before it is signalled, so the operator can still find out *why* it hung
//! once the site is back. Read-only, and every read is bounded.

use std::path::Path;

use super::{parse_stat, parse_syscall, Arch, FdTarget};

/// At most this many threads are described; a pre-fork worker has a handful.
const THREADS_MAX: usize = 64;
/// At most this many open files are listed (the count is always given).
const FDS_MAX: usize = 32;
/// At most this many frames of `/proc/PID/stack`.
const STACK_FRAMES_MAX: usize = 32;
/// Each /proc file read here is small; anything longer is cut.
const PROC_FILE_MAX_BYTES: u64 = 16 * 1024;

/// Evidence lines about `pid`, each prefixed with it; empty when the process is gone.
pub fn snapshot(pid: i32) -> Vec<String> {
    let root = Path::new("/proc").join(pid.to_string());
    if !root.exists() {
        return Vec::new();
    }
    let mut out = threads(pid, &root);
    out.extend(stack(pid, &root));
    out.extend(fds(pid, &root));
    out
}

fn read(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(PROC_FILE_MAX_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn threads(pid: i32, root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("task")) else {
        return vec![format!("PID {pid}: threads not readable")];
    };
    let mut tids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    let total = tids.len();
    let mut out: Vec<String> = tids
        .iter()
        .take(THREADS_MAX)
        .map(|&tid| thread_line(pid, tid, &root.join("task").join(tid.to_string())))
        .collect();
    if total > THREADS_MAX {
        out.push(format!(
            "PID {pid}: {} more threads not shown",
            total - THREADS_MAX
        ));
    }
    out
}

fn thread_line(pid: i32, tid: i32, dir: &Path) -> String {
    let stat = read(&dir.join("stat")).and_then(|t| parse_stat(&t));
    let wchan = read(&dir.join("wchan")).filter(|w| !w.is_empty() && w != "0");
    let syscall = read(&dir.join("syscall")).and_then(|t| parse_syscall(&t, Arch::host()));
    format!(
        "PID {pid} thread {tid} ({}): state {}, wchan {}, {}",
        stat.as_ref()
            .map_or("?".into(), |s| crate::sanitize::clean(&s.comm)),
        stat.as_ref().map_or('?', |s| s.state.letter()),
        wchan.as_deref().unwrap_or("-"),
        syscall.map_or("no system call".into(), |s| format!("in {}()", s.name))
    )
}

/// The kernel stack needs root (and a kernel that shows it); without it, one line says so.
fn stack(pid: i32, root: &Path) -> Vec<String> {
    match read(&root.join("stack")) {
        Some(text) if !text.trim().is_empty() => text
            .lines()
            .take(STACK_FRAMES_MAX)
            .map(|l| format!("PID {pid} kernel stack: {}", l.trim()))
            .collect(),
        _ => vec![format!(
            "PID {pid} kernel stack: not readable here (needs root and a kernel that shows it)"
        )],
    }
}

fn fds(pid: i32, root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("fd")) else {
        return vec![format!("PID {pid}: open files not readable")];
    };
    let mut nums: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    nums.sort_unstable();
    let shown: Vec<String> = nums
        .iter()
        .take(FDS_MAX)
        .map(|&fd| format!("{fd}→{}", describe(&super::read_fd(pid, fd), root, fd)))
        .collect();
    let more = nums.len().saturating_sub(FDS_MAX);
    let more = if more > 0 {
        format!(" … and {more} more")
    } else {
        String::new()
    };
    vec![format!(
        "PID {pid}: {} open files: {}{more}",
        nums.len(),
        shown.join(", ")
    )]
}

fn describe(target: &FdTarget, root: &Path, fd: i32) -> String {
    match target {
        FdTarget::Tty(p) | FdTarget::Fifo(p) | FdTarget::File(p) => crate::sanitize::clean(p),
        FdTarget::Pipe => "pipe".into(),
        FdTarget::DevNull => "/dev/null".into(),
        FdTarget::Socket => std::fs::read_link(root.join("fd").join(fd.to_string()))
            .map_or("socket".into(), |l| l.to_string_lossy().into_owned()),
        FdTarget::Closed => "closed".into(),
        FdTarget::Unreadable => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process() {
        let pid = std::process::id() as i32;
        let lines = snapshot(pid);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("PID {pid} thread {pid} ("))),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.contains(" open files: 0→")),
            "{lines:#?}"
        );
        assert!(lines.iter().any(|l| l.contains("kernel stack")));
    }

    #[test]
    fn a_gone_process_has_nothing() {
        assert!(snapshot(i32::MAX).is_empty());
    }
}
