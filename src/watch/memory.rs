//! What `fixer watch` remembers between rounds, one small JSON file per site in the state
//! directory: so that `--once` from cron or a timer, a new process each time, still notifies
//! only on a change and counts its automatic fixes against the flap limit.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The most read back; the file holds a few numbers and at most `max_fixes` times.
const MEMORY_MAX_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    /// `healthy`, `unhealthy` or `unknown` after the last round; None before the first.
    pub state: Option<String>,
    /// When that state began.
    pub since: Option<String>,
    /// Rounds in a row that were not healthy.
    pub unhealthy_rounds: u32,
    /// When automatic fixes were made (seconds since the epoch), the flap window's evidence.
    pub fixes: Vec<f64>,
    /// Fixing stopped at the flap limit, and the alert saying so was sent.
    pub gave_up: bool,
}

fn path(site: &str) -> PathBuf {
    crate::state::state_dir()
        .join("watch")
        .join(format!("{}.json", crate::state::file_name(site)))
}

/// The last round's memory; a missing or unreadable file is a first round.
pub fn load(site: &str) -> Memory {
    let mut text = String::new();
    let read = std::fs::File::open(path(site))
        .and_then(|f| f.take(MEMORY_MAX_BYTES).read_to_string(&mut text));
    match read {
        Ok(_) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => Memory::default(),
    }
}

/// Written through a temporary file renamed into place, so a round killed halfway leaves the
/// previous memory whole.
pub fn save(site: &str, m: &Memory) -> std::io::Result<()> {
    let path = path(site);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string_pretty(m)?)?;
    std::fs::rename(&tmp, &path)
}

impl Memory {
    /// Drops fixes older than `window`; what is left counts against `max_fixes`.
    pub fn fixes_within(&mut self, window: std::time::Duration, now: f64) -> usize {
        self.fixes.retain(|t| now - t < window.as_secs_f64());
        self.fixes.len()
    }
}
