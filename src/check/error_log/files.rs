//! Which error logs nginx writes, and reading their ends.

use std::path::{Path, PathBuf};

use crate::check::nginx::NginxView;
use crate::nginx::conf;

/// Only the end of a large log is read, so a huge file never slows the chain.
const TAIL_BYTES: u64 = 512 * 1024;

/// The error logs named in the effective config (and by `-e`), else Debian's default.
pub(super) fn log_paths(nginx: &NginxView) -> Vec<PathBuf> {
    let prefix = nginx.invocation.as_ref().and_then(|i| i.prefix.clone());
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(e) = nginx.invocation.as_ref().and_then(|i| i.error_log.clone()) {
        paths.push(e);
    }
    if let Some(dump) = nginx.dump.as_ref() {
        let tree = dump.tree();
        for d in conf::find_all(tree, "error_log") {
            if let Some(p) = d.args.first().filter(|p| {
                *p != "stderr" && !p.starts_with("syslog:") && !p.starts_with("memory:")
            }) {
                let p = Path::new(p);
                paths.push(match (&prefix, p.is_relative()) {
                    (Some(pre), true) => pre.join(p),
                    (None, true) => Path::new("/usr/share/nginx").join(p),
                    _ => p.to_path_buf(),
                });
            }
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("/var/log/nginx/error.log"));
    }
    paths.dedup();
    let mut unique = Vec::new();
    for p in paths {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    unique
}

pub(super) fn tail(path: &Path) -> std::io::Result<String> {
    let (_, bytes) = crate::sys::tail::read_tail(path, 0, TAIL_BYTES)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
