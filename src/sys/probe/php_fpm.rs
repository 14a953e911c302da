//! php-fpm's `ping.path` for the pool that listens on an address, read from the config named on
//! the master's command line (`php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)`) and the
//! files it includes. Unreadable or unusual configs give `None`: the probe then falls back to
//! FCGI_GET_VALUES, which needs no configuration.

use std::path::{Path, PathBuf};

use crate::sys::addr::BackendAddr;

/// Config files larger than this are not php-fpm configs worth reading.
const MAX_FILE: u64 = 256 * 1024;
/// `include` globs are followed for at most this many files.
const MAX_FILES: usize = 64;
/// A directory named by an `include` glob is listed up to this many entries.
const MAX_DIR_ENTRIES: usize = 1000;

pub(super) fn ping_path(cmdline: &str, addr: &BackendAddr) -> Option<String> {
    pool(cmdline, addr)?.ping_path
}

/// What fixer reads of the php-fpm pool that listens on an address, and where it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    /// The file the pool's section is in.
    pub file: PathBuf,
    pub pm: Option<String>,
    pub max_children: Option<u32>,
    pub ping_path: Option<String>,
    pub status_path: Option<String>,
    /// `pm.status_listen`: a separate socket served by its own worker, so the status page
    /// answers while the pool itself is full.
    pub status_listen: Option<String>,
    /// The master's `error_log` (`[global]`), where "server reached pm.max_children" goes.
    pub error_log: Option<PathBuf>,
}

/// The pool listening on `addr`, from the config of the master whose title is `cmdline`.
pub fn pool(cmdline: &str, addr: &BackendAddr) -> Option<Pool> {
    let conf = master_config(cmdline)?;
    let mut files = vec![conf.clone()];
    let text = read(&conf)?;
    for line in text.lines() {
        if files.len() >= MAX_FILES {
            break;
        }
        if let Some(("include", pattern)) = setting(line) {
            files.extend(glob(&resolve(&conf, pattern)));
        }
    }
    let error_log = global_error_log(&text);
    files.iter().take(MAX_FILES).find_map(|f| {
        let mut p = pool_in(&read(f)?, addr)?;
        p.file = f.to_path_buf();
        p.error_log = error_log.clone();
        Some(p)
    })
}

/// `error_log` in `[global]`, when it names a file (not `syslog`); relative paths are
/// relative to php-fpm's prefix, which the title does not show, so they are not followed.
fn global_error_log(text: &str) -> Option<PathBuf> {
    let mut global = true;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            global = name == "global";
        } else if let Some(("error_log", v)) = setting(line).filter(|_| global) {
            return v.starts_with('/').then(|| PathBuf::from(v));
        }
    }
    None
}

/// The config path in a php-fpm master's process title.
pub(super) fn master_config(cmdline: &str) -> Option<PathBuf> {
    let rest = cmdline.split("master process (").nth(1)?;
    let path = rest.rsplit_once(')')?.0;
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// The `ping.path` of the first pool in `text` whose `listen` is `addr`.
#[cfg(test)]
pub(super) fn pool_ping(text: &str, addr: &BackendAddr) -> Option<String> {
    pool_in(text, addr)?.ping_path
}

/// The first pool in `text` whose `listen` (with `$pool` expanded) is `addr`.
pub(super) fn pool_in(text: &str, addr: &BackendAddr) -> Option<Pool> {
    let mut current: Option<(Pool, Option<String>)> = None;
    let hit = |c: &Option<(Pool, Option<String>)>| {
        c.as_ref().and_then(|(p, listen)| {
            let l = listen.as_deref()?.replace("$pool", &p.name);
            listens_on(&l, addr).then(|| p.clone())
        })
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some(p) = hit(&current) {
                return Some(finish(p));
            }
            current = Some((
                Pool {
                    name: name.to_string(),
                    ..Pool::default()
                },
                None,
            ));
        } else if let (Some((key, value)), Some((p, listen))) = (setting(line), current.as_mut()) {
            let value = Some(value.to_string());
            match key {
                "listen" => *listen = value,
                "pm" => p.pm = value,
                "pm.max_children" => p.max_children = value.and_then(|v| v.parse().ok()),
                "ping.path" => p.ping_path = value,
                "pm.status_path" => p.status_path = value,
                "pm.status_listen" => p.status_listen = value,
                _ => {}
            }
        }
    }
    hit(&current).map(finish)
}

/// Paths php-fpm would not serve (not absolute) are dropped.
fn finish(mut p: Pool) -> Pool {
    p.ping_path = p.ping_path.filter(|x| x.starts_with('/'));
    p.status_path = p.status_path.filter(|x| x.starts_with('/'));
    p
}

/// `listen` as php-fpm reads it: a path, `port` (every address), `ip:port` or `[v6]:port`.
fn listens_on(listen: &str, addr: &BackendAddr) -> bool {
    match addr {
        BackendAddr::Unix(p) => Path::new(listen) == p,
        BackendAddr::Tcp(_) | BackendAddr::Named(_) => addr.tcp_addrs().iter().any(|a| {
            if let Ok(port) = listen.parse::<u16>() {
                return port == a.port();
            }
            let listen = listen.replace("localhost:", "127.0.0.1:");
            match listen.parse::<std::net::SocketAddr>() {
                Ok(l) => crate::sys::net::serves(l, *a, crate::sys::net::dual_stack_default()),
                Err(_) => false,
            }
        }),
    }
}

/// `key = value` with comments and quotes removed.
fn setting(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.starts_with(';') || line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    let value = value.split(" ;").next().unwrap_or(value).trim();
    Some((key.trim(), value.trim_matches('"').trim_matches('\'')))
}

fn resolve(conf: &Path, pattern: &str) -> PathBuf {
    let p = Path::new(pattern);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        conf.parent().unwrap_or(Path::new("/")).join(p)
    }
}

/// Files matching a pattern with `*` in its last component only (php-fpm's usual
/// `include=/etc/php/8.2/fpm/pool.d/*.conf`).
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        pattern.parent(),
        pattern.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let (prefix, suffix) = name.split_once('*').unwrap_or((name, ""));
    let exact = !name.contains('*');
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .take(MAX_DIR_ENTRIES)
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| {
            if exact {
                n == name
            } else {
                n.starts_with(prefix)
                    && n.ends_with(suffix)
                    && n.len() >= prefix.len() + suffix.len()
            }
        })
        .map(|n| dir.join(n))
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOLS: &str = "; Debian's www.conf, shortened\n[www]\nuser = www-data\n\
        listen = /run/php/php8.2-fpm.sock\n;ping.path = /ping\n\n[api]\nlisten = 127.0.0.1:9001\n\
        ping.path = /fpm-ping ; for the load balancer\n[$pool-x]\nlisten = 9002\nping.path = \"/p\"\n";

    const DEBIAN_MASTER: &str = include_str!("../../../tests/fixtures/php-fpm/php-fpm.conf");
    const DEBIAN_WWW: &str = include_str!("../../../tests/fixtures/php-fpm/www.conf");

    /// Debian 12's php8.2-fpm as installed: the master config includes `pool.d/*.conf`, whose
    /// `www` pool listens on the socket nginx's snippets use, with `ping.path` commented out.
    #[test]
    fn follows_debians_include_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let master = DEBIAN_MASTER.replace("/etc/php/8.2/fpm/pool.d/", &format!("{d}/pool.d/"));
        assert_ne!(master, DEBIAN_MASTER, "the include line moved");
        std::fs::create_dir(dir.path().join("pool.d")).unwrap();
        std::fs::write(dir.path().join("php-fpm.conf"), master).unwrap();
        let title = format!("php-fpm: master process ({d}/php-fpm.conf)");
        let socket = BackendAddr::parse("unix:/run/php/php8.2-fpm.sock").unwrap();
        let pool = dir.path().join("pool.d/www.conf");
        std::fs::write(&pool, DEBIAN_WWW).unwrap();
        assert_eq!(ping_path(&title, &socket), None);
        std::fs::write(
            &pool,
            DEBIAN_WWW.replace(";ping.path = /ping", "ping.path = /ping"),
        )
        .unwrap();
        assert_eq!(ping_path(&title, &socket), Some("/ping".into()));
        let other = BackendAddr::parse("127.0.0.1:9000").unwrap();
        assert_eq!(ping_path(&title, &other), None);
    }

    /// What the full-pool check needs: the pool's limit, status page and the master's log.
    #[test]
    fn reads_the_pool_limits_and_the_masters_log() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("php-fpm.conf"),
            format!("[global]\nerror_log = /var/log/php8.2-fpm.log\ninclude={d}/pool.d/*.conf\n"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("pool.d")).unwrap();
        let www = DEBIAN_WWW
            .replace(";pm.status_path = /status", "pm.status_path = /status")
            .replace("pm.max_children = 5", "pm.max_children = 12");
        std::fs::write(dir.path().join("pool.d/www.conf"), www).unwrap();
        let title = format!("php-fpm: master process ({d}/php-fpm.conf)");
        let socket = BackendAddr::parse("unix:/run/php/php8.2-fpm.sock").unwrap();
        let p = pool(&title, &socket).unwrap();
        assert_eq!(p.name, "www");
        assert_eq!(p.file, dir.path().join("pool.d/www.conf"));
        assert_eq!(p.pm.as_deref(), Some("dynamic"));
        assert_eq!(p.max_children, Some(12));
        assert_eq!(p.status_path.as_deref(), Some("/status"));
        assert_eq!(p.error_log, Some(PathBuf::from("/var/log/php8.2-fpm.log")));
        // A relative log is php-fpm's prefix's, which the title does not show.
        assert_eq!(
            global_error_log("[global]\nerror_log = log/fpm.log\n"),
            None
        );
    }

    #[test]
    fn finds_the_master_config_in_its_title() {
        assert_eq!(
            master_config("php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
            Some(PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf"))
        );
        assert_eq!(master_config("php-fpm: pool www"), None);
        assert_eq!(master_config("python3 app.py"), None);
    }

    #[test]
    fn finds_the_ping_path_of_the_pool_on_the_address() {
        let tcp = |s: &str| BackendAddr::parse(s).unwrap();
        assert_eq!(
            pool_ping(POOLS, &tcp("127.0.0.1:9001")),
            Some("/fpm-ping".into())
        );
        assert_eq!(pool_ping(POOLS, &tcp("127.0.0.1:9002")), Some("/p".into()));
        // A commented-out ping.path is no ping path.
        assert_eq!(
            pool_ping(POOLS, &tcp("unix:/run/php/php8.2-fpm.sock")),
            None
        );
        assert_eq!(pool_ping(POOLS, &tcp("127.0.0.1:9999")), None);
    }
}
