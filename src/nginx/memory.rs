//! The last passing `nginx -T` of a config, remembered in the state directory, so that
//! `fixer diagnose` does not run it again while nothing it read has changed.
//!
//! `nginx -T` is a program start, OpenSSL's set-up and a parse: about 5 ms of CPU on a small
//! config and 120 ms on 3 000 server blocks, most of a healthy diagnosis. Its printed config is
//! the text of the files it read, so while those files are the same, so is the dump. A
//! remembered dump is used only when all of this holds, and otherwise nginx -T runs:
//! - the command asks for it: `fixer diagnose` without `--fresh` ([`allow`]); fix, verify and
//!   watch always run nginx -T, so no action is ever planned on a remembered config;
//! - it is at most [`MAX_AGE`] old: the test's verdict also depends on what no file shows
//!   (a host name in an upstream, a log directory's permissions);
//! - the file is fixer's own: owned by this user, in a directory of this user's, neither
//!   writable by group or others;
//! - every file nginx read (each `# configuration file` of the dump), the directory of each
//!   and of each wildcard include, the certificates, keys and modules the config names, and
//!   the nginx binary have the same device, inode, size, mode, mtime and ctime as when the
//!   dump was taken. No user can set a ctime back, so an edit that restores the mtime is
//!   still seen; a file added to an included directory changes that directory.
//!
//! A config whose test failed is never remembered: it is tested afresh every time.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::conf;
use super::{Dump, Invocation};
use crate::sys::regular_file;
use crate::sys::run_slot::{Installed, RunSlot};

/// The oldest remembered dump that is used.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// Bumped when [`Stored`] changes meaning; an older file is then not used.
const VERSION: u32 = 1;
/// nginx -T's output is read up to its own cap; the JSON around it adds escapes.
const STORED_MAX_BYTES: u64 = crate::limits::COMMAND_OUTPUT_MAX_BYTES * 5 / 4;
/// A config that names more paths than this is not remembered (each is looked at per run).
const WATCHED_MAX: usize = 20_000;
/// A file changed this close to the start of nginx -T, or later, may have changed while nginx
/// read it (the kernel stamps ctime from a clock that runs a few ms behind): such a dump is
/// not remembered.
const CHANGE_MARGIN: Duration = Duration::from_millis(100);

/// Directives whose argument is a file nginx reads when it tests the config.
const READ_FILES: &[&str] = &[
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_trusted_certificate",
    "ssl_client_certificate",
    "ssl_dhparam",
    "ssl_crl",
    "ssl_password_file",
    "ssl_stapling_file",
    "ssl_session_ticket_key",
    "proxy_ssl_certificate",
    "proxy_ssl_certificate_key",
    "proxy_ssl_trusted_certificate",
    "proxy_ssl_crl",
    "proxy_ssl_password_file",
    "grpc_ssl_certificate",
    "grpc_ssl_certificate_key",
    "grpc_ssl_trusted_certificate",
    "uwsgi_ssl_certificate",
    "uwsgi_ssl_certificate_key",
    "uwsgi_ssl_trusted_certificate",
];

static ALLOWED: RunSlot<()> = RunSlot::new();
/// Dumps this run took, written only by [`save`] when the diagnosis ends: checks never write.
static TAKEN: Mutex<Vec<Taken>> = Mutex::new(Vec::new());
/// At most this many configs remembered per run (a survey of every master on the host).
const TAKEN_MAX: usize = 64;

/// What a recalled dump says of itself, for the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Recalled {
    /// When nginx -T ran, as an evidence timestamp.
    pub taken_at: String,
    /// In whole seconds, as it is shown.
    pub age: Duration,
    /// How many paths were found unchanged.
    pub watched: usize,
}

struct Taken {
    inv: Invocation,
    dump: Dump,
    started: SystemTime,
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: u32,
    command: String,
    taken_unix: f64,
    taken_at: String,
    messages: Vec<String>,
    watched: Vec<Watched>,
    config: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Watched {
    path: PathBuf,
    /// `None`: there was nothing at the path (a module or certificate path that did not exist
    /// counts too: its appearing changes the test).
    seen: Option<Ident>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Ident {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Ident {
    fn of(path: &Path) -> Option<Ident> {
        let m = std::fs::metadata(path).ok()?;
        Some(Ident {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mode: m.mode(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    fn changed_since(&self, t: SystemTime) -> bool {
        let Ok(since) = t.duration_since(SystemTime::UNIX_EPOCH) else {
            return true;
        };
        let ctime = Duration::new(
            self.ctime.0.max(0) as u64,
            self.ctime.1.clamp(0, 999_999_999) as u32,
        );
        ctime + CHANGE_MARGIN >= since
    }
}

/// Lets this run use remembered dumps, until the guard is dropped (`fixer diagnose`).
pub fn allow() -> Installed<()> {
    ALLOWED.install(|| ())
}

/// The remembered dump of `command` (`nginx -T` and its flags, as shown), if this run may use
/// one and nothing it depends on changed.
pub fn recall(command: &str) -> Option<Dump> {
    ALLOWED.get()?;
    recall_from(&path_for(command), command, SystemTime::now())
}

fn recall_from(path: &Path, command: &str, now: SystemTime) -> Option<Dump> {
    let (bytes, meta) =
        regular_file::read("remembered nginx config", path, STORED_MAX_BYTES).ok()?;
    if !ours(&meta) || !path.parent().is_some_and(dir_ours) {
        return None;
    }
    let stored: Stored = serde_json::from_slice(&bytes).ok()?;
    if stored.version != VERSION || stored.command != command {
        return None;
    }
    let taken = SystemTime::UNIX_EPOCH + Duration::try_from_secs_f64(stored.taken_unix).ok()?;
    let age = now.duration_since(taken).ok().filter(|a| *a <= MAX_AGE)?;
    if stored.watched.iter().any(|w| Ident::of(&w.path) != w.seen) {
        return None;
    }
    let recalled = Recalled {
        taken_at: stored.taken_at,
        age: Duration::from_secs(age.as_secs()),
        watched: stored.watched.len(),
    };
    Some(Dump::new(true, stored.command, stored.messages, stored.config).recalled(recalled))
}

/// Notes a dump nginx -T printed in this run, begun at `started`, for [`save`].
pub(super) fn note(inv: &Invocation, dump: &Dump, started: SystemTime) {
    if !dump.ok || dump.remembered.is_some() {
        return;
    }
    if let Ok(mut taken) = TAKEN.lock() {
        if taken.len() < TAKEN_MAX {
            taken.push(Taken {
                inv: inv.clone(),
                dump: dump.clone(),
                started,
            });
        }
    }
}

/// Writes the dumps this run took to the state directory, for the next `fixer diagnose`.
/// Called when a diagnosis ends; a write that fails costs only the next run's time.
pub fn save() {
    let taken = TAKEN
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    if taken.is_empty() {
        return;
    }
    for t in &taken {
        let _ = store(&path_for(&t.dump.command), t);
    }
    prune(&path_for(&taken[0].dump.command));
}

/// Above this many remembered configs, those too old to be used are removed when one is
/// saved: a host has a few nginx configs, but every lab and test makes one of its own.
const KEPT_MAX: usize = 32;

fn prune(one: &Path) {
    let Some(dir) = one.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let entries: Vec<_> = entries.flatten().take(10_000).collect();
    if entries.len() <= KEPT_MAX {
        return;
    }
    for e in entries {
        let stale = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > MAX_AGE);
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn store(path: &Path, t: &Taken) -> Option<()> {
    let watched: Vec<Watched> = watch_list(&t.inv, &t.dump)?
        .into_iter()
        .map(|path| Watched {
            seen: Ident::of(&path),
            path,
        })
        .collect();
    // Changed while nginx -T read it, or since: what it printed may not be what is there.
    if watched
        .iter()
        .any(|w| w.seen.is_some_and(|s| s.changed_since(t.started)))
    {
        return None;
    }
    let taken_unix = t
        .started
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let stored = Stored {
        version: VERSION,
        command: t.dump.command.clone(),
        taken_unix,
        taken_at: chrono::DateTime::<chrono::Local>::from(t.started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        messages: t.dump.messages.clone(),
        watched,
        config: t.dump.config.clone(),
    };
    let dir = path.parent()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ok()?;
    if !dir_ours(dir) {
        return None;
    }
    // 0600 (the config may hold secrets), not synced: a torn file is not valid JSON.
    let bytes = serde_json::to_vec(&stored).ok()?;
    regular_file::replace_private("remembered nginx config", path, &bytes).ok()
}

/// Where the dump of `command` (`nginx -T` and its flags, as shown) is kept.
fn path_for(command: &str) -> PathBuf {
    crate::state::state_dir()
        .join("nginx-config")
        .join(crate::state::file_name(command))
}

fn ours(meta: &std::fs::Metadata) -> bool {
    crate::state::only_writable_by(meta, rustix::process::geteuid().as_raw())
}

fn dir_ours(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && ours(&m))
}

/// Every path whose change could change what nginx -T prints or its verdict; `None` when the
/// config uses something fixer cannot watch (a relative file name, a wildcard in a directory
/// name), and is then never remembered.
fn watch_list(inv: &Invocation, dump: &Dump) -> Option<Vec<PathBuf>> {
    let config = inv.config_path();
    let conf_dir = config.parent()?.to_path_buf();
    let mut paths = vec![inv.binary.clone()];
    for file in conf::dump_files(&dump.config) {
        let file = Path::new(file);
        if !file.is_absolute() {
            return None;
        }
        paths.push(file.to_path_buf());
        paths.push(file.parent()?.to_path_buf());
    }
    let mut ok = true;
    let mut read: Vec<PathBuf> = Vec::new();
    conf::walk(dump.tree(), &mut |d| {
        let Some(arg) = d.args.first() else { return };
        match d.name.as_str() {
            "include" => {
                let pattern = conf_dir.join(arg);
                if has_wildcard(arg) {
                    match pattern.parent() {
                        Some(dir) if !has_wildcard(&dir.to_string_lossy()) => {
                            paths.push(dir.to_path_buf())
                        }
                        _ => ok = false,
                    }
                } else {
                    paths.push(pattern);
                }
            }
            "load_module" => {
                if Path::new(arg).is_absolute() {
                    read.push(arg.into());
                } else if let Some(prefix) = &inv.prefix {
                    read.push(prefix.join(arg));
                }
            }
            // A variable is filled per request, `data:` is inline: neither is a file.
            name if READ_FILES.contains(&name)
                && !arg.contains('$')
                && !arg.starts_with("data:") =>
            {
                read.push(conf_dir.join(arg));
            }
            _ => {}
        }
    });
    // A certificate removed while nginx -T read it is seen as its directory's change.
    for file in read {
        paths.extend(file.parent().map(Path::to_path_buf));
        paths.push(file);
    }
    paths.sort();
    paths.dedup();
    (ok && paths.len() <= WATCHED_MAX).then_some(paths)
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(dir: &Path) -> (Invocation, Dump) {
        let conf = dir.join("nginx.conf");
        let site = dir.join("sites");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(dir.join("cert.pem"), "cert").unwrap();
        std::fs::write(site.join("a.conf"), "server { listen 80; }\n").unwrap();
        let main = "http { include sites/*.conf; server { ssl_certificate cert.pem; } }\n";
        std::fs::write(&conf, main).unwrap();
        let inv = Invocation {
            binary: "/bin/sh".into(),
            prefix: Some(dir.to_path_buf()),
            config: Some(conf.clone()),
            error_log: None,
        };
        let text = format!(
            "# configuration file {}:\n{main}\n# configuration file {}:\nserver {{ listen 80; }}\n",
            conf.display(),
            site.join("a.conf").display()
        );
        let dump = Dump::new(true, inv.describe(&["-T"]), vec!["ok".into()], text);
        (inv, dump)
    }

    /// Taken at `started`, which tests put a second ahead so the files they just wrote count
    /// as older than the run.
    fn taken(inv: &Invocation, dump: &Dump, started: SystemTime) -> Taken {
        Taken {
            inv: inv.clone(),
            dump: dump.clone(),
            started,
        }
    }

    fn ahead(secs: u64) -> SystemTime {
        SystemTime::now() + Duration::from_secs(secs)
    }

    /// A lab's dump stored and recalled once: its directory, the state directory, the
    /// invocation and the stored file.
    fn stored() -> (tempfile::TempDir, tempfile::TempDir, Invocation, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let (inv, dump) = lab(dir.path());
        let file = state.path().join("nginx-config/x");
        store(&file, &taken(&inv, &dump, ahead(1))).unwrap();
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2)).is_some());
        (dir, state, inv, file)
    }

    #[test]
    fn watches_every_file_its_directory_wildcard_directories_certificates_and_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let (inv, dump) = lab(dir.path());
        let list = watch_list(&inv, &dump).unwrap();
        let d = dir.path();
        for p in [
            PathBuf::from("/bin/sh"),
            d.join("nginx.conf"),
            d.to_path_buf(),
            d.join("sites/a.conf"),
            d.join("sites"),
            d.join("cert.pem"),
        ] {
            assert!(list.contains(&p), "{} not watched in {list:?}", p.display());
        }
    }

    #[test]
    fn a_wildcard_directory_or_a_relative_file_is_never_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let (inv, dump) = lab(dir.path());
        let starred = Dump::new(
            true,
            dump.command.clone(),
            vec![],
            dump.config.replace("sites/*.conf", "s*/a.conf"),
        );
        assert_eq!(watch_list(&inv, &starred), None);
        let relative = Dump::new(
            true,
            dump.command.clone(),
            vec![],
            "# configuration file nginx.conf:\nevents {}\n".into(),
        );
        assert_eq!(watch_list(&inv, &relative), None);
    }

    #[test]
    fn recalled_only_while_every_watched_path_is_unchanged_and_young() {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let (inv, dump) = lab(dir.path());
        let file = state.path().join("nginx-config/x");
        // Files written just now may have changed while nginx read them: nothing stored.
        assert!(store(&file, &taken(&inv, &dump, SystemTime::now())).is_none());
        assert!(!file.exists());
        store(&file, &taken(&inv, &dump, ahead(1))).unwrap();
        // The config may hold secrets.
        let mode = std::fs::metadata(&file).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let got = recall_from(&file, &inv.describe(&["-T"]), ahead(2)).unwrap();
        assert_eq!(got.config, dump.config);
        assert!(got.ok);
        let r = got.remembered.unwrap();
        assert_eq!(r.watched, 6);
        // Too old.
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2) + MAX_AGE).is_none());
        // Another invocation.
        let other = Invocation {
            binary: "/bin/true".into(),
            ..inv.clone()
        };
        assert!(recall_from(&file, &other.describe(&["-T"]), ahead(2)).is_none());
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2)).is_some());
        // A new file in an included directory.
        std::fs::write(dir.path().join("sites/b.conf"), "").unwrap();
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2)).is_none());
    }

    #[test]
    fn an_edited_file_or_certificate_is_seen_even_with_its_mtime_put_back() {
        let (dir, _state, inv, file) = stored();
        let cert = dir.path().join("cert.pem");
        let before = std::fs::metadata(&cert).unwrap().modified().unwrap();
        std::fs::write(&cert, "CERT").unwrap();
        let f = std::fs::File::options().write(true).open(&cert).unwrap();
        f.set_modified(before).unwrap();
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2)).is_none());
    }

    #[test]
    fn a_stored_file_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, _state, inv, file) = stored();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(recall_from(&file, &inv.describe(&["-T"]), ahead(2)).is_none());
    }

    #[test]
    fn a_failed_test_is_never_noted() {
        let dir = tempfile::tempdir().unwrap();
        let (inv, dump) = lab(dir.path());
        let failed = Dump::new(false, dump.command.clone(), vec![], dump.config.clone());
        note(&inv, &failed, SystemTime::now());
        assert!(TAKEN.lock().unwrap().iter().all(|t| t.dump.ok));
    }

    #[test]
    fn only_configs_too_old_to_use_are_pruned_and_only_when_there_are_many() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path();
        let old = SystemTime::now() - MAX_AGE - Duration::from_secs(60);
        let write = |name: &str, at: SystemTime| {
            std::fs::write(dir.join(name), "{}").unwrap();
            let f = std::fs::File::options()
                .write(true)
                .open(dir.join(name))
                .unwrap();
            f.set_modified(at).unwrap();
        };
        for i in 0..KEPT_MAX {
            write(&format!("old{i}"), old);
        }
        prune(&dir.join("new"));
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), KEPT_MAX);
        write("new", SystemTime::now());
        prune(&dir.join("new"));
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("new")]);
    }
}
