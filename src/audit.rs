//! The audit log: one JSON line before and one after every action, flushed to disk, so what
//! fixer did survives even if it is killed halfway. An action whose start cannot be recorded
//! does not run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

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
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening audit log {}", self.path.display()))?;
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        file.write_all(line.as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))?;
        file.sync_data()
            .with_context(|| format!("flushing {}", self.path.display()))
    }
}

/// The last `n` entries; unreadable lines are skipped, not fatal.
pub fn recent(path: &Path, n: usize) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading audit log {}", path.display()))?;
    let entries: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok(entries[entries.len().saturating_sub(n)..].to_vec())
}
