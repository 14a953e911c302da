//! One `fixer fix` at a time per host: two operators paged for the same outage must not both
//! kill and restart things.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};

use anyhow::Context;
use rustix::fs::{flock, FlockOperation};

/// Held for as long as this value lives; the kernel drops the lock if fixer dies.
pub struct FixLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another `fixer fix` is already running (PID {0}); wait for it to finish or stop it")]
    Held(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub fn acquire() -> Result<FixLock, LockError> {
    let dir = crate::state::state_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("fix.lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(LockError::Held(if holder.is_empty() {
            "unknown".into()
        } else {
            holder.to_string()
        }));
    }
    file.set_len(0).context("truncating lock file")?;
    file.rewind().context("rewinding lock file")?;
    write!(file, "{}", std::process::id()).context("writing lock file")?;
    Ok(FixLock { _file: file })
}
