//! The audit log: one JSON line before and one after every action, flushed to disk, so what
//! fixer did survives even if it is killed halfway. An action whose start cannot be recorded
//! does not run.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

use crate::limits;
use crate::sys::regular_file;
use crate::sys::tail::LinesBack;

pub struct AuditLog {
    pub path: PathBuf,
}

impl AuditLog {
    pub fn new(path: Option<PathBuf>) -> AuditLog {
        AuditLog {
            path: path.unwrap_or_else(crate::state::default_audit_log),
        }
    }

    /// Appends one entry, stamped with time, user and host.
    pub fn record(&self, playbook: &str, phase: &str, fields: Value) -> anyhow::Result<()> {
        let mut entry = json!({
            "schema_version": crate::SCHEMA_VERSION,
            "time": crate::clock::now_rfc3339(),
            "user": crate::state::operator(),
            "identity": crate::state::Identity::current(),
            "host": crate::state::hostname(),
            "pid": std::process::id(),
            "playbook": playbook,
            "phase": phase,
        });
        if let (Some(e), Value::Object(f)) = (entry.as_object_mut(), fields) {
            e.extend(f);
        }
        self.append(&entry)
    }

    fn append(&self, entry: &Value) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Non-blocking and regular only: a FIFO here would hang fix while it holds the lock.
        let mut file = regular_file::open_append("audit log", &self.path)?;
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        file.write_all(line.as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))?;
        file.sync_data()
            .with_context(|| format!("flushing {}", self.path.display()))
    }
}

/// The last `n` entries; unreadable lines (not JSON, not UTF-8, absurdly long) are skipped, not
/// fatal. Read backwards from the end in chunks, so `-n 3` on a 1 GB log reads kilobytes.
pub fn recent(path: &Path, n: usize) -> anyhow::Result<Vec<Value>> {
    let opened = regular_file::open("audit log", path, u64::MAX)?;
    let mut tail = LinesBack::new(
        opened.file,
        opened.meta.len(),
        limits::AUDIT_CHUNK_BYTES,
        limits::AUDIT_LINE_MAX_BYTES,
    );
    let mut entries = Vec::new();
    while entries.len() < n {
        let Some(line) = tail
            .prev_line()
            .with_context(|| format!("reading audit log {}", path.display()))?
        else {
            break;
        };
        let parsed = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| serde_json::from_str::<Value>(l).ok());
        entries.extend(parsed);
    }
    entries.reverse();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(text: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn bad_lines_are_skipped_and_the_last_n_kept_in_order() {
        let mut text = Vec::new();
        for i in 0..5 {
            text.extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
            text.extend_from_slice(b"not json\n\xff\xfe\n\n");
        }
        let (_d, path) = log_with(&text);
        let got: Vec<i64> = recent(&path, 3)
            .unwrap()
            .iter()
            .map(|e| e["i"].as_i64().unwrap())
            .collect();
        assert_eq!(got, [2, 3, 4]);
        assert_eq!(recent(&path, 100).unwrap().len(), 5);
    }

    #[test]
    fn lines_longer_than_a_chunk_and_than_the_cap_are_handled() {
        let long = format!(
            "{{\"s\":\"{}\"}}",
            "x".repeat(3 * limits::AUDIT_CHUNK_BYTES as usize)
        );
        let huge = "y".repeat(limits::AUDIT_LINE_MAX_BYTES + 10);
        let text = format!("{{\"i\":1}}\n{long}\n{huge}\n{{\"i\":2}}");
        let (_d, path) = log_with(text.as_bytes());
        let got = recent(&path, 10).unwrap();
        assert_eq!(got.len(), 3, "the huge line is skipped");
        assert_eq!(got[0]["i"], 1);
        assert_eq!(got[1]["s"].as_str().unwrap().len(), long.len() - 8);
        assert_eq!(got[2]["i"], 2);
    }
}
