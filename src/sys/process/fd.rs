//! What a file descriptor points at, from its /proc/PID/fd link.

use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;

use super::FdTarget;

/// Classifies a link target. `is_fifo` is asked only for plain paths, since a named pipe looks
/// like any other file in the link text.
pub fn classify(link: &str, is_fifo: impl FnOnce() -> bool) -> FdTarget {
    if link == "/dev/null" {
        FdTarget::DevNull
    } else if is_terminal_path(link) {
        FdTarget::Tty(link.to_string())
    } else if link.starts_with("pipe:[") {
        FdTarget::Pipe
    } else if link.starts_with("socket:[") {
        FdTarget::Socket
    } else if link.starts_with('/') && is_fifo() {
        FdTarget::Fifo(link.to_string())
    } else {
        FdTarget::File(link.to_string())
    }
}

fn is_terminal_path(link: &str) -> bool {
    link.starts_with("/dev/pts/") || link.starts_with("/dev/tty") || link == "/dev/console"
}

/// The working directory of a process (/proc/PID/cwd), to run it the same way elsewhere.
pub fn cwd(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// The executable a process runs (/proc/PID/exe), when its argv[0] is not a path.
pub fn exe(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Reads /proc/PID/fd/N. A missing link is a closed descriptor (the process itself is checked
/// for existence elsewhere); a refused one is reported, not guessed.
pub fn read_fd(pid: i32, fd: i32) -> FdTarget {
    let path = format!("/proc/{pid}/fd/{fd}");
    match std::fs::read_link(&path) {
        Ok(link) => {
            let link = link.to_string_lossy();
            classify(&link, || {
                std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_fifo())
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => FdTarget::Closed,
        Err(_) => FdTarget::Unreadable,
    }
}

impl FdTarget {
    /// "a terminal (/dev/pts/3)", "a pipe", ...: how evidence names a process's stdin.
    pub fn describe(&self) -> String {
        match self {
            FdTarget::Tty(p) => format!("a terminal ({p})"),
            FdTarget::Pipe => "a pipe".into(),
            FdTarget::Fifo(p) => format!("a named pipe ({p})"),
            FdTarget::DevNull => "/dev/null".into(),
            FdTarget::File(p) => format!("file {p}"),
            FdTarget::Socket => "a socket".into(),
            FdTarget::Closed => "closed".into(),
            FdTarget::Unreadable => "not readable".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_link_texts() {
        let no = || false;
        assert_eq!(
            classify("/dev/pts/3", no),
            FdTarget::Tty("/dev/pts/3".into())
        );
        assert_eq!(classify("/dev/tty1", no), FdTarget::Tty("/dev/tty1".into()));
        assert_eq!(classify("pipe:[4711]", no), FdTarget::Pipe);
        assert_eq!(classify("socket:[17305]", no), FdTarget::Socket);
        assert_eq!(classify("/dev/null", no), FdTarget::DevNull);
        assert_eq!(
            classify("/var/log/x.log", no),
            FdTarget::File("/var/log/x.log".into())
        );
        assert_eq!(
            classify("anon_inode:[eventfd]", || true),
            FdTarget::File("anon_inode:[eventfd]".into())
        );
        assert_eq!(
            classify("/tmp/fifo", || true),
            FdTarget::Fifo("/tmp/fifo".into())
        );
    }

    #[test]
    fn own_descriptors() {
        let me = std::process::id() as i32;
        assert_eq!(read_fd(me, 999_999), FdTarget::Closed);
        let file = tempfile::NamedTempFile::new().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(file.as_file());
        assert_eq!(
            read_fd(me, fd),
            FdTarget::File(file.path().display().to_string())
        );
    }
}
