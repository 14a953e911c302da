//! Holders remembered from the last run, looked at first.
//!
//! On a host with thousands of processes the likely places (the matcher's pids, nginx's
//! masters) may miss the holder — no `match` given, a renamed process — and then only the full
//! scan finds it. The pids that held the same address last time are usually still the ones,
//! so they are visited first. They are hints only: a pid counts as a holder solely because its
//! fd table holds one of the socket inodes asked about, exactly as for any other pid.

use std::sync::Mutex;

use super::{find_holders, HolderScan};

/// Holders found during this run, written only by [`save`]: checks never write, and
/// `fixer verify` (which may run a check to learn the backend's protocol) writes nothing but
/// its verified record.
static SEEN: Mutex<Vec<(String, Vec<i32>)>> = Mutex::new(Vec::new());
/// A bound on the keys kept for one run (every backend and nginx config of a survey).
const MAX_KEYS: usize = 256;

/// [`find_holders`] with the pids that held `key` last run looked at first.
pub fn find_holders_remembered(key: &str, inodes: &[u64], likely: &[i32]) -> HolderScan {
    let mut first = crate::state::remembered_holders(key);
    first.extend_from_slice(likely);
    let scan = find_holders(inodes, &first);
    let held: Vec<i32> = scan.holders.values().flatten().copied().collect();
    if let Ok(mut seen) = SEEN.lock() {
        if !held.is_empty() && seen.len() < MAX_KEYS {
            seen.push((key.to_string(), held));
        }
    }
    scan
}

/// Writes the holders this run found to the state directory, for the next run (a failed
/// write costs only the hint). Called when a diagnosis ends.
pub fn save() {
    let seen = SEEN
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    for (key, pids) in seen {
        let _ = crate::state::remember_holders(&key, &pids);
    }
}
