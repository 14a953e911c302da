//! Which error logs nginx writes, and reading each back from its end to the window's start.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use crate::check::nginx::NginxView;
use crate::limits;
use crate::nginx::conf;
use crate::nginx::errlog::window::{self, Cut};
use crate::nginx::errlog::Entry;

use super::Rec;

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

/// This window's upstream errors of every readable log, each file's count (and a cut window)
/// in the evidence; `None` when no log could be read.
pub(super) fn read_all(
    rec: &mut Rec,
    paths: &[PathBuf],
    since: NaiveDateTime,
) -> Option<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut read_any = false;
    for path in paths {
        match window::read(path, since, limits::ERROR_LOG_MAX_BYTES) {
            Ok(w) => {
                read_any = true;
                rec.see(format!(
                    "{}: {} upstream error line(s) since {} ({} read back from the end)",
                    path.display(),
                    w.entries.len(),
                    since.format("%H:%M:%S"),
                    crate::format::bytes(w.bytes_read)
                ));
                if let Some(cut) = w.cut {
                    let (from, text) = cut_text(cut);
                    rec.see(format!("{}: {text}", path.display()));
                    rec.details.window_cut = from.or(rec.details.window_cut.take());
                    rec.details.window_cut_reason = Some(text);
                }
                entries.extend(w.entries);
            }
            // The error names the file.
            Err(e) => rec.see(format!("not readable: {e}")),
        }
    }
    read_any.then_some(entries)
}

fn cut_text(cut: Cut) -> (Option<String>, String) {
    let bound = crate::format::bytes(limits::ERROR_LOG_MAX_BYTES);
    match cut {
        Cut::At(t) => (
            Some(t.to_string()),
            format!(
                "the window was cut: only the last {bound} were read, so the counts cover {} onwards, not the whole window",
                t.format("%H:%M:%S")
            ),
        ),
        Cut::BeforeAnyLine => (
            None,
            format!("the window was cut: the last {bound} hold no timed line (one huge line, or not an nginx log), so nothing of the window was counted"),
        ),
    }
}
