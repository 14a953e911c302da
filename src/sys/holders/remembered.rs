//! Holders remembered from the last run, looked at first.
//!
//! On a host with thousands of processes the likely places (the matcher's pids, nginx's
//! masters) may miss the holder — no `match` given, a renamed process — and then only the full
//! scan finds it. The pids that held the same address last time are usually still the ones,
//! so they are visited first. They are hints only: a pid counts as a holder solely because its
//! fd table holds one of the socket inodes asked about, exactly as for any other pid.

use super::{find_holders, HolderScan};

/// [`find_holders`] with the pids that held `key` last run looked at first; the holders
/// found are remembered for the next run (failing to write costs only the hint).
pub fn find_holders_remembered(key: &str, inodes: &[u64], likely: &[i32]) -> HolderScan {
    let mut first = crate::state::remembered_holders(key);
    first.extend_from_slice(likely);
    let scan = find_holders(inodes, &first);
    let held: Vec<i32> = scan.holders.values().flatten().copied().collect();
    if !held.is_empty() {
        let _ = crate::state::remember_holders(key, &held);
    }
    scan
}
