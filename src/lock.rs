//! One `fixer fix` at a time: per state directory (one operator's runs), and per target in a
//! system location (so two runs with different `FIXER_STATE_DIR`s still cannot both kill and
//! restart the same backend). The kernel drops a lock when its holder dies.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rustix::fs::{flock, FlockOperation};

use crate::sys::regular_file;
use crate::target::{BackendAddr, Target};

/// Held for as long as this value lives; the lock files are removed when it is dropped.
pub struct FixLock {
    held: Vec<(File, PathBuf)>,
}

impl Drop for FixLock {
    /// Unlinked while still locked: a run that opened the old file meanwhile finds, once it
    /// gets the lock, that the path no longer names that file, and starts over.
    fn drop(&mut self) {
        for (_, path) in &self.held {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another `fixer fix` is already running{what} (PID {pid}, lock {}); wait for it to finish \
         or stop it",
        path.display()
    )]
    Held {
        what: String,
        pid: String,
        path: PathBuf,
    },
    /// The lock cannot be created (no root, no writable state directory): fixer may diagnose
    /// but not act.
    #[error(transparent)]
    CannotLock(#[from] anyhow::Error),
}

pub fn acquire(target: &Target) -> Result<FixLock, LockError> {
    let state = crate::state::state_dir();
    let host = take(&state, "fix.lock", "")?;
    let what = format!(" for {}", describe(target));
    let dir = target_dir().unwrap_or(state);
    let per_target = take(&dir, &format!("{}.lock", key(target)), &what)?;
    Ok(FixLock {
        held: vec![host, per_target],
    })
}

/// Where per-target locks live: `/run/lock/fixer` as root (`/var/lib/fixer/locks` on a system
/// without /run/lock), `/run/lock/fixer-UID` for others (their own, so nobody else can plant or
/// hold it); `None` when there is no such place.
fn target_dir() -> Option<PathBuf> {
    let uid = rustix::process::geteuid().as_raw();
    let base = ["/run/lock", "/var/lock"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_dir());
    let dir = match (base, uid) {
        (Some(base), 0) => base.join("fixer"),
        (Some(base), _) => base.join(format!("fixer-{uid}")),
        (None, 0) => PathBuf::from("/var/lib/fixer/locks"),
        (None, _) => return None,
    };
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let ours = meta.is_dir() && crate::state::only_writable_by(&meta, uid);
    ours.then_some(dir)
}

/// A file name for the target: its backend's port (whatever address: 0.0.0.0:8080 and
/// 127.0.0.1:8080 are one socket to kill), its socket path, else its nginx ports.
fn key(target: &Target) -> String {
    let raw = match target.backend.as_ref().map(|b| &b.address) {
        Some(BackendAddr::Tcp(a)) => format!("backend-tcp-{}", a.port()),
        Some(BackendAddr::Named(n)) => format!("backend-tcp-{}", n.port),
        Some(BackendAddr::Unix(p)) => format!("backend-unix-{}", p.display()),
        None => format!("nginx-{}", crate::target::port_list(&target.nginx.ports)),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

fn describe(target: &Target) -> String {
    match target.backend.as_ref().map(|b| &b.address) {
        Some(a) => format!("backend {a}"),
        None => format!("nginx port(s) {}", target.nginx.ports_list()),
    }
}

fn take(dir: &Path, name: &str, what: &str) -> Result<(File, PathBuf), LockError> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    // A few tries: each lost race means another run just finished and removed its file.
    for _ in 0..5 {
        let mut file =
            regular_file::open_rw("lock file", &path, false).context("opening the lock")?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(held(&mut file, what, path));
        }
        if !still_at(&file, &path) {
            continue;
        }
        file.set_len(0).context("truncating lock file")?;
        file.rewind().context("rewinding lock file")?;
        write!(file, "{}", std::process::id()).context("writing lock file")?;
        return Ok((file, path));
    }
    Err(anyhow::anyhow!("{}: kept changing while fixer took it", path.display()).into())
}

/// Whether `path` still names the open `file` (its holder may have removed it meanwhile).
fn still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn held(file: &mut File, what: &str, path: PathBuf) -> LockError {
    let mut pid = String::new();
    let _ = file
        .take(crate::limits::LOCK_FILE_MAX_BYTES)
        .read_to_string(&mut pid);
    let pid = pid.trim();
    LockError::Held {
        what: what.to_string(),
        pid: if pid.is_empty() {
            "unknown".into()
        } else {
            pid.to_string()
        },
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_pid_and_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = take(dir.path(), "t.lock", " for backend x").unwrap();
        let e = take(dir.path(), "t.lock", " for backend x")
            .unwrap_err()
            .to_string();
        let want = format!(
            "another `fixer fix` is already running for backend x (PID {}, lock {})",
            std::process::id(),
            first.1.display()
        );
        assert!(e.starts_with(&want), "{e}");
        let lock = FixLock { held: vec![first] };
        drop(lock);
        assert!(!dir.path().join("t.lock").exists());
        assert!(take(dir.path(), "t.lock", "").is_ok());
    }

    #[test]
    fn keys_are_file_names() {
        let mut t = crate::config::resolve(&crate::cli::TargetArgs {
            backend: Some("[::1]:8080".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(key(&t), "backend-tcp-8080");
        t.backend = None;
        t.nginx.ports = vec![80, 443];
        assert_eq!(key(&t), "nginx-80__443");
    }
}
