//! Where fixer keeps its lock and audit log. Root uses the system locations; other users their
//! XDG state directory; `FIXER_STATE_DIR` overrides both (tests, unusual layouts).

use std::path::PathBuf;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Whether only `uid` can change what `meta` describes: owned by it, and writable by neither
/// group nor others. The test fixer puts its own lock and state directories to before using
/// what is in them.
pub fn only_writable_by(meta: &std::fs::Metadata, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.uid() == uid && meta.mode() & 0o022 == 0
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
    let who = Identity::current();
    let name = crate::users::name(who.uid);
    if let Some(sudo) = &who.sudo_user {
        return format!("{sudo} (as {name})");
    }
    match who.login_uid {
        Some(login) if login != who.uid => {
            format!("{} (as {name})", crate::users::name(login))
        }
        _ => name,
    }
}

/// Who acted, for the audit log: the effective user alone says only `root`. `sudo_user` comes
/// from sudo's environment; `login_uid` from the kernel's audit login id, which sudo and su
/// cannot change, so it names the person who logged in even when the environment lies.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub uid: u32,
    pub sudo_user: Option<String>,
    pub sudo_uid: Option<u32>,
    pub login_uid: Option<u32>,
    pub login_user: Option<String>,
}

impl Identity {
    pub fn current() -> Identity {
        let login_uid = login_uid();
        Identity {
            uid: rustix::process::getuid().as_raw(),
            sudo_user: std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty()),
            sudo_uid: std::env::var("SUDO_UID").ok().and_then(|s| s.parse().ok()),
            login_uid,
            login_user: login_uid.map(crate::users::name),
        }
    }
}

/// `/proc/self/loginuid`; 4294967295 means "not set" (a daemon, or no PAM login).
fn login_uid() -> Option<u32> {
    std::fs::read_to_string("/proc/self/loginuid")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&uid| uid != u32::MAX)
}

pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_str()
        .map_or_else(|_| "unknown".into(), str::to_owned)
}

/// Where the last time fixer proved a site healthy is kept: one small file per site, so a
/// `fixer verify` from cron and a `fixer fix` never rewrite each other's record.
fn verified_path(site: &str) -> PathBuf {
    state_dir().join("verified").join(file_name(site))
}

/// `key` as one safe file name: letters, digits and `-_.` kept, the rest `_`, at most 200.
pub(crate) fn file_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

/// Records that `site` was verified healthy now (`fixer verify` passed, or `fixer fix`
/// verified its work). The error_log step then tells errors logged before this moment from
/// errors since, so a fixed site stops warning about the outage it had.
pub fn record_verified(site: &str) -> std::io::Result<()> {
    let path = verified_path(site);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = format!(
        "{:.3}\n{}\n",
        crate::clock::now_unix(),
        crate::clock::now_rfc3339()
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

/// When `site` was last verified healthy (seconds since the epoch), if ever.
pub fn last_verified(site: &str) -> Option<f64> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(verified_path(site))
        .ok()?
        .take(256)
        .read_to_string(&mut text)
        .ok()?;
    text.lines().next()?.trim().parse().ok()
}

#[cfg(test)]
mod verified_tests {
    use super::*;

    #[test]
    fn site_names_become_plain_file_names() {
        let p = verified_path("login-502@127.0.0.1:8080 /x");
        assert_eq!(
            p.file_name().unwrap().to_str().unwrap(),
            "login-502_127.0.0.1_8080__x"
        );
    }
}

/// The file that remembers which pids held `key` (a port or socket path) on the last run.
fn holders_path(key: &str) -> PathBuf {
    state_dir().join("holders").join(file_name(key))
}

/// At most this many remembered pids per key, and this many bytes read back.
const REMEMBERED_PIDS: usize = 64;
const REMEMBERED_BYTES: u64 = 1024;

/// The pids that held `key` on the last run: hints where to look first, never evidence.
/// Whoever uses them verifies each by the socket inodes it holds now.
pub fn remembered_holders(key: &str) -> Vec<i32> {
    use std::io::Read;
    let mut text = String::new();
    let Ok(file) = std::fs::File::open(holders_path(key)) else {
        return Vec::new();
    };
    if file
        .take(REMEMBERED_BYTES)
        .read_to_string(&mut text)
        .is_err()
    {
        return Vec::new();
    }
    parse_pids(&text)
}

/// Pids one per line; anything else (and PID 0 or 1, never a holder fixer may act on) is
/// skipped.
fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .filter(|p: &i32| *p > 1)
        .take(REMEMBERED_PIDS)
        .collect()
}

/// Remembers the pids that hold `key` now, for the next run. Unchanged pids are not
/// rewritten; a write that fails costs only the hint.
pub fn remember_holders(key: &str, pids: &[i32]) -> std::io::Result<()> {
    let mut pids: Vec<i32> = pids.iter().copied().filter(|p| *p > 1).collect();
    pids.sort_unstable();
    pids.dedup();
    pids.truncate(REMEMBERED_PIDS);
    let mut old = remembered_holders(key);
    old.sort_unstable();
    if old == pids {
        return Ok(());
    }
    let path = holders_path(key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod holders_tests {
    use super::*;

    #[test]
    fn remembered_holders_ignore_junk_and_keys_become_file_names() {
        assert_eq!(parse_pids("12\nx\n-3\n1\n0\n77\n"), vec![12, 77]);
        let many: String = (2..1000).map(|p| format!("{p}\n")).collect();
        assert_eq!(parse_pids(&many).len(), REMEMBERED_PIDS);
        assert_eq!(
            holders_path("tcp 127.0.0.1:8080").file_name().unwrap(),
            "tcp_127.0.0.1_8080"
        );
    }
}
