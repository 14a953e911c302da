//! Which processes are nginx masters, recognised by what they are — the title nginx gives its
//! master, or the nginx binary's inode — never by the process name: a copy of the binary
//! (`nginx-debug`, a build in /opt) runs under another name and is still nginx's master.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Invocation;
use crate::sys::command;
use crate::sys::process::{self, ProcessInfo};
use crate::target::NginxSpec;

/// The title nginx writes over its master's argv.
pub const MASTER_TITLE: &str = "nginx: master process";

/// Titles nginx gives the processes its master forks.
const CHILD_TITLES: [&str; 3] = [
    "nginx: worker process",
    "nginx: cache manager process",
    "nginx: cache loader process",
];

/// One running master and the config it reads.
#[derive(Debug, Clone)]
pub struct Master {
    pub info: ProcessInfo,
    /// How to call nginx so it reads this master's config, from its title alone.
    pub invocation: Option<Invocation>,
    /// The config file the master reads (absolute when its title says enough to know it).
    pub config_path: PathBuf,
}

impl Master {
    pub fn of(info: ProcessInfo) -> Master {
        let invocation = Invocation::from_master(&info.cmdline.join(" "), &NginxSpec::default());
        let config_path = invocation
            .as_ref()
            .map_or_else(|| DEFAULT_CONFIG.into(), Invocation::config_path);
        Master {
            info,
            invocation,
            config_path,
        }
    }

    /// "PID 4242 runs from /srv/other/nginx.conf", for evidence.
    pub fn describe(&self) -> String {
        format!(
            "PID {} runs from {}",
            self.info.pid,
            self.config_path.display()
        )
    }
}

/// nginx's compiled-in config path on Debian and most distributions.
pub const DEFAULT_CONFIG: &str = "/etc/nginx/nginx.conf";

fn has_title(argv: &[String], title: &str) -> bool {
    argv.join(" ").starts_with(title)
}

/// True for an nginx master: the title nginx gives it, or the nginx binary running without a
/// child's title (`master_process off`, or a master whose title could not be read). Used by
/// the chain to pick "the" nginx and by the kill guard to refuse it, so it errs towards yes.
pub fn is_master(p: &ProcessInfo) -> bool {
    if has_title(&p.cmdline, MASTER_TITLE) {
        return true;
    }
    !CHILD_TITLES.iter().any(|t| has_title(&p.cmdline, t)) && runs_nginx_binary(p.pid)
}

/// True for a process an nginx master forked (worker, cache manager, cache loader).
pub fn is_child(p: &ProcessInfo) -> bool {
    CHILD_TITLES.iter().any(|t| has_title(&p.cmdline, t))
}

/// The process executes the nginx binary itself (same device and inode as `nginx` on PATH or
/// in /usr/sbin), whatever it calls itself.
pub fn runs_nginx_binary(pid: i32) -> bool {
    let Ok(exe) = std::fs::metadata(format!("/proc/{pid}/exe")) else {
        return false;
    };
    nginx_binaries()
        .iter()
        .filter_map(|b| std::fs::metadata(b).ok())
        .any(|m| m.dev() == exe.dev() && m.ino() == exe.ino())
}

fn nginx_binaries() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = command::which("nginx").into_iter().collect();
    out.push(PathBuf::from("/usr/sbin/nginx"));
    out.dedup();
    out
}

/// Every master on this host, read in one pass over the process table (each process's argv,
/// on every core), in pid order.
pub fn list() -> Vec<Master> {
    let pids = process::pids_whose_argv(|argv| has_title(argv, MASTER_TITLE));
    let infos: Vec<ProcessInfo> = pids
        .into_iter()
        .filter_map(|p| ProcessInfo::read(p).ok())
        .filter(|p| !p.state.is_gone())
        .collect();
    // A worker keeps its master's title for a moment after the fork: it is not a master.
    let forked: Vec<i32> = infos
        .iter()
        .filter(|p| infos.iter().any(|m| m.pid == p.ppid))
        .map(|p| p.pid)
        .collect();
    infos
        .into_iter()
        .filter(|p| !forked.contains(&p.pid))
        .map(Master::of)
        .collect()
}

/// The config file the playbook means: its `config` (under its `prefix` when relative), or
/// nginx's default.
pub fn wanted_config(spec: &NginxSpec) -> PathBuf {
    Invocation {
        binary: PathBuf::new(),
        prefix: spec.prefix.clone(),
        config: spec.config.clone(),
        error_log: None,
    }
    .config_path()
}

/// Two config paths name the same file (symlinks and `..` resolved where the file exists).
pub fn same_config(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_with(argv: &[&str]) -> ProcessInfo {
        let mut p = ProcessInfo::read(std::process::id() as i32).unwrap();
        p.cmdline = argv.iter().map(|s| s.to_string()).collect();
        p.comm = "nginx-debug".into();
        p
    }

    #[test]
    fn a_master_is_known_by_its_title_not_its_name() {
        let master = proc_with(&["nginx: master process /tmp/x/nginx-debug -p /tmp/x"]);
        assert!(is_master(&master));
        let worker = proc_with(&["nginx: worker process"]);
        assert!(!is_master(&worker));
        assert!(is_child(&worker));
        let other = proc_with(&["python3", "app.py"]);
        assert!(!is_master(&other));
    }

    #[test]
    fn config_of_a_master_from_its_title() {
        let m = Master::of(proc_with(&[
            "nginx: master process /usr/sbin/nginx -p /srv/o -c o.conf",
        ]));
        assert_eq!(m.config_path, PathBuf::from("/srv/o/o.conf"));
        let d = Master::of(proc_with(&["nginx: master process /usr/sbin/nginx"]));
        assert_eq!(d.config_path, PathBuf::from(DEFAULT_CONFIG));
        assert_eq!(
            d.describe(),
            format!("PID {} runs from {DEFAULT_CONFIG}", d.info.pid)
        );
    }
}
