//! Opening files an operator named (playbooks, password files, the audit log, the lock). A FIFO
//! would block fixer forever and /dev/zero would fill memory, so every such file is opened
//! without blocking, must be a regular file, and is read only up to a named cap.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a file was not read. Each message names the file and what it was for.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{what} {}: {}", path.display(), crate::format::io_text(source))]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{what} {} is {kind}, not a regular file; fixer uses only regular files", path.display())]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
    #[error("{what} {} is larger than {cap} bytes; fixer reads at most that much", path.display())]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        cap: u64,
    },
}

impl FileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// O_NONBLOCK: opening or reading a FIFO returns at once instead of waiting for a writer.
fn flags() -> i32 {
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}

/// An open regular file and what fstat said about it (owner and mode for the trust check).
pub struct Opened {
    pub file: File,
    pub meta: Metadata,
}

/// Opens `path` for reading without blocking and checks it is a regular file of at most `cap`
/// bytes.
pub fn open(what: &'static str, path: &Path, cap: u64) -> Result<Opened, FileError> {
    let io = |source| FileError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags())
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    regular(what, path, &meta)?;
    if meta.len() > cap {
        return Err(FileError::TooLarge {
            what,
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok(Opened { file, meta })
}

/// The whole content of a regular file of at most `cap` bytes (a file growing while it is read
/// is cut off at the cap and refused).
pub fn read(what: &'static str, path: &Path, cap: u64) -> Result<(Vec<u8>, Metadata), FileError> {
    let opened = open(what, path, cap)?;
    let mut bytes = Vec::new();
    (&opened.file)
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(FileError::TooLarge {
            what,
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok((bytes, opened.meta))
}

/// Opens (creating it 0600 if missing) a regular file for appending, without blocking on a FIFO.
pub fn open_append(what: &'static str, path: &Path) -> Result<File, FileError> {
    open_rw(what, path, true)
}

/// Creates or truncates a regular file to write (a report), never blocking on a FIFO.
pub fn create(what: &'static str, path: &Path) -> Result<File, FileError> {
    if let Ok(meta) = std::fs::metadata(path) {
        regular(what, path, &meta)?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(flags())
        .open(path)
        .map_err(|source| FileError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically: a reader (node_exporter's textfile collector)
/// sees the old file or the new one, never half of one. The temp file sits in the same
/// directory (a rename never crosses filesystems), is named `.NAME.PID.tmp` so a collector
/// reading `*.prom` skips it, and is removed again when anything fails.
pub fn replace(what: &'static str, path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace_as(what, path, bytes, Written::Shared)
}

/// [`replace`] for what fixer keeps for itself: 0600 (it may copy secrets, as an nginx config
/// can hold), and not synced to disk (a cache lost in a crash is made again; a torn one must
/// be one its reader refuses).
pub fn replace_private(what: &'static str, path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace_as(what, path, bytes, Written::Private)
}

#[derive(Clone, Copy, PartialEq)]
enum Written {
    /// 0644 and synced: read by another user (node_exporter's collector).
    Shared,
    /// 0600, not synced.
    Private,
}

fn replace_as(
    what: &'static str,
    path: &Path,
    bytes: &[u8],
    how: Written,
) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_symlink() {
            regular(what, path, &meta)?;
        }
    }
    let name = path
        .file_name()
        .ok_or_else(|| io(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = write_new(&tmp, bytes, how).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// A new file (never one already there, never through a symlink), readable by all when
/// shared: metrics are read by another user (node_exporter's).
fn write_new(path: &Path, bytes: &[u8], how: Written) -> io::Result<()> {
    use std::io::Write;
    let mode = match how {
        Written::Shared => 0o644,
        Written::Private => 0o600,
    };
    let _ = std::fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    // Whatever the umask: the collector runs as another user.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    match how {
        Written::Shared => file.sync_all(),
        Written::Private => Ok(()),
    }
}

/// Opens (creating it 0600 if missing) a regular file for reading and writing.
pub fn open_rw(what: &'static str, path: &Path, append: bool) -> Result<File, FileError> {
    let io = |source| FileError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    // A FIFO without a reader fails to open for writing with a puzzling ENXIO: say what it is.
    if let Ok(meta) = std::fs::metadata(path) {
        regular(what, path, &meta)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).mode(0o600);
    if append {
        options.append(true).custom_flags(flags());
    } else {
        // A file fixer rewrites (a lock) is never reached through a symlink someone planted.
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        options
            .read(true)
            .write(true)
            .truncate(false)
            .custom_flags(flags() | nofollow);
    }
    let file = options.open(path).map_err(io)?;
    regular(what, path, &file.metadata().map_err(io)?)?;
    Ok(file)
}

fn regular(what: &'static str, path: &Path, meta: &Metadata) -> Result<(), FileError> {
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(FileError::NotRegular {
        what,
        path: path.to_path_buf(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_fifos_are_refused_at_once() {
        let e = read("password file", Path::new("/dev/zero"), 16).unwrap_err();
        assert_eq!(
            e.to_string(),
            "password file /dev/zero is a character device, not a regular file; fixer uses only regular files"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let e = read("playbook", &fifo, 16).unwrap_err().to_string();
        assert!(e.contains("is a FIFO (named pipe)"), "{e}");
        let e = open_append("audit log", &fifo).unwrap_err().to_string();
        assert!(e.contains("audit log") && e.contains("FIFO"), "{e}");
    }

    #[test]
    fn a_file_over_its_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, [b'x'; 17]).unwrap();
        let e = read("playbook", &path, 16).unwrap_err().to_string();
        assert!(
            e.ends_with("is larger than 16 bytes; fixer reads at most that much"),
            "{e}"
        );
        assert_eq!(read("playbook", &path, 17).unwrap().0.len(), 17);
    }
}
