//! Where fixer keeps its lock and audit log. Root uses the system locations; other users their
//! XDG state directory; `FIXER_STATE_DIR` overrides both (tests, unusual layouts).

use std::path::PathBuf;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIXER_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/var/lib/fixer");
    }
    xdg_state_home().join("fixer")
}

/// Where a backend started by its command logs when the playbook names no `log`.
pub fn log_dir() -> PathBuf {
    state_dir().join("logs")
}

fn xdg_state_home() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
            PathBuf::from(home).join(".local/state")
        })
}

/// `/var/log/fixer/audit.jsonl` as root, `$XDG_STATE_HOME/fixer/audit.jsonl` otherwise.
pub fn default_audit_log() -> PathBuf {
    if std::env::var_os("FIXER_STATE_DIR").is_none() && is_root() {
        PathBuf::from("/var/log/fixer/audit.jsonl")
    } else {
        state_dir().join("audit.jsonl")
    }
}

/// The login name for audit lines: who ran fixer, through sudo if that is how.
pub fn operator() -> String {
    let uid = rustix::process::getuid().as_raw();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name);
    match std::env::var("SUDO_USER") {
        Ok(sudo) if !sudo.is_empty() => format!("{sudo} (as {name})"),
        _ => name,
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}
