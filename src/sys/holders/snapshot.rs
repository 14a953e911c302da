//! One holder scan shared by a whole discovery run: the fd tables of every process are read
//! once for the sockets of every backend and nginx port found, and each later lookup of those
//! inodes (by the nginx and port_holder steps, for each backend) is answered from it.

use std::collections::BTreeSet;

use super::HolderScan;
use crate::sys::run_slot::RunSlot;

/// Empties the snapshot when dropped, so nothing outside the run sees stale holders.
pub type Installed = crate::sys::run_slot::Installed<Snapshot>;

pub struct Snapshot {
    /// Every inode the scan looked for (found or not: an inode nobody holds is an answer too).
    searched: BTreeSet<u64>,
    scan: HolderScan,
}

static CURRENT: RunSlot<Snapshot> = RunSlot::new();

/// Answers later lookups from `scan` until the returned guard is dropped.
pub fn install(searched: &[u64], scan: HolderScan) -> Installed {
    CURRENT.install(|| Snapshot {
        searched: searched.iter().copied().collect(),
        scan,
    })
}

/// The holders of `inodes` from the snapshot, when it looked for all of them.
pub(super) fn lookup(inodes: &[u64]) -> Option<HolderScan> {
    let snap = CURRENT.get()?;
    if !inodes.iter().all(|i| snap.searched.contains(i)) {
        return None;
    }
    Some(HolderScan {
        holders: snap
            .scan
            .holders
            .iter()
            .filter(|(i, _)| inodes.contains(i))
            .map(|(i, p)| (*i, p.clone()))
            .collect(),
        denied: snap.scan.denied.clone(),
        scanned: snap.scan.scanned,
        full_scan: snap.scan.full_scan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_what_it_searched_and_only_while_installed() {
        let mut scan = HolderScan::default();
        scan.holders.insert(7, vec![42]);
        {
            let _g = install(&[7, 8], scan);
            let hit = lookup(&[8]).unwrap();
            assert!(hit.holders.is_empty(), "searched, held by nobody");
            assert_eq!(lookup(&[7]).unwrap().holders[&7], vec![42]);
            assert!(lookup(&[9]).is_none());
        }
        assert!(lookup(&[7]).is_none());
    }
}
