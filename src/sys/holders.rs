//! Which processes hold given socket inodes open, found through /proc/PID/fd.
//! Looks first where holders are likely, and falls back to a full scan.
//!
//! Reading every fd link of every process is what makes `lsof` slow on a busy host, so the
//! search starts with the processes the playbook's matcher names and their families (a
//! pre-fork server's master and workers all share the listening socket). Only when some inode
//! is still unaccounted for does it read every process, on all cores.

pub mod remembered;
pub mod snapshot;

pub use remembered::find_holders_remembered;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::BorrowedFd;

use rustix::fs::{Dir, Mode, OFlags};
use rustix::io::Errno;

use super::process::{
    all_pids, ancestors, children_map, descendants, par_map, pids_whose_argv, ProcRoot,
};

#[derive(Debug, Clone, Default)]
pub struct HolderScan {
    /// Socket inode → every pid holding it (sorted). Inodes nobody holds are absent.
    pub holders: BTreeMap<u64, Vec<i32>>,
    /// Pids whose fd table could not be read (not root, or /proc/1 here).
    pub denied: Vec<i32>,
    /// Processes whose fds were read.
    pub scanned: usize,
    pub full_scan: bool,
}

/// Finds every holder of each inode. `likely` pids (and their families) are looked at first;
/// the full /proc scan runs only when some inode is still unaccounted for.
///
/// Order: the likely pids; then the family of every holder found (parent chain below PID 1,
/// all descendants), repeated until no new holder turns up; if an inode is still missing, the
/// families of the likely pids themselves (a matched wrapper script whose child holds the
/// socket); and last the full scan. So sharers inside a family are always found, while a
/// socket passed to an unrelated process is found only when the full scan runs.
pub fn find_holders(inodes: &[u64], likely: &[i32]) -> HolderScan {
    if let Some(shared) = snapshot::lookup(inodes) {
        return shared;
    }
    let Ok(root) = ProcRoot::open() else {
        return HolderScan::default();
    };
    let mut search = Search::new(root.fd(), inodes);
    for &pid in likely {
        search.visit(pid);
    }
    search.expand_families();
    if search.missing_some() {
        likely.iter().for_each(|&pid| search.visit_family(pid));
        search.expand_families();
    }
    if search.missing_some() {
        search.full_scan();
    }
    search.finish()
}

/// Pids whose full command line (argv joined by spaces) matches. Never matches on the process
/// name alone: a `python3` stuck at a prompt would hide from `pgrep streamlit`, and the name
/// can be anything the process chose. Kernel threads and zombies (empty argv) never match,
/// nor does fixer itself.
pub fn likely_pids(matcher: Option<&regex::Regex>) -> Vec<i32> {
    let Some(re) = matcher else {
        return Vec::new();
    };
    pids_whose_argv(|argv| re.is_match(&argv.join(" ")))
}

/// The state of one search: what was looked at and what was found.
struct Search<'a> {
    proc: BorrowedFd<'a>,
    targets: HashSet<u64>,
    visited: HashSet<i32>,
    expanded: HashSet<i32>,
    found: BTreeMap<u64, Vec<i32>>,
    denied: Vec<i32>,
    scanned: usize,
    full_scan: bool,
    children: Option<HashMap<i32, Vec<i32>>>,
}

impl<'a> Search<'a> {
    fn new(proc: BorrowedFd<'a>, inodes: &[u64]) -> Self {
        Search {
            proc,
            targets: inodes.iter().copied().collect(),
            visited: HashSet::new(),
            expanded: HashSet::new(),
            found: BTreeMap::new(),
            denied: Vec::new(),
            scanned: 0,
            full_scan: false,
            children: None,
        }
    }

    fn visit(&mut self, pid: i32) {
        if self.visited.insert(pid) {
            let outcome = scan_pid(self.proc, pid, &self.targets);
            self.record(pid, outcome);
        }
    }

    fn record(&mut self, pid: i32, outcome: Outcome) {
        match outcome {
            Outcome::Held(inodes) => {
                self.scanned += 1;
                for inode in inodes {
                    self.found.entry(inode).or_default().push(pid);
                }
            }
            Outcome::Denied => self.denied.push(pid),
            Outcome::Gone => {}
        }
    }

    fn holder_pids(&self) -> Vec<i32> {
        let pids: HashSet<i32> = self.found.values().flatten().copied().collect();
        pids.into_iter()
            .filter(|p| !self.expanded.contains(p))
            .collect()
    }

    /// Visits the family of every holder, until no new holder turns up: a worker leads to
    /// its master, and the master to every other worker.
    fn expand_families(&mut self) {
        loop {
            let fresh = self.holder_pids();
            if fresh.is_empty() {
                return;
            }
            for pid in fresh {
                self.visit_family(pid);
            }
        }
    }

    /// Parents up to, not including, PID 1 (never a holder fixer may act on, and its
    /// descendants are everything), and all descendants.
    fn visit_family(&mut self, pid: i32) {
        if !self.expanded.insert(pid) {
            return;
        }
        for parent in ancestors(pid).into_iter().take_while(|&p| p > 1) {
            self.visit(parent);
        }
        let children = self.children.get_or_insert_with(children_map);
        for child in descendants(pid, children) {
            self.visit(child);
        }
    }

    fn missing_some(&self) -> bool {
        self.targets.iter().any(|i| !self.found.contains_key(i))
    }

    fn full_scan(&mut self) {
        self.full_scan = true;
        let pids: Vec<i32> = all_pids()
            .into_iter()
            .filter(|p| self.visited.insert(*p))
            .collect();
        let (proc, targets) = (self.proc, &self.targets);
        for (pid, outcome) in par_map(&pids, |pid, _| scan_pid(proc, pid, targets)) {
            self.record(pid, outcome);
        }
    }

    fn finish(mut self) -> HolderScan {
        for pids in self.found.values_mut() {
            pids.sort_unstable();
            pids.dedup();
        }
        self.denied.sort_unstable();
        HolderScan {
            holders: self.found,
            denied: self.denied,
            scanned: self.scanned,
            full_scan: self.full_scan,
        }
    }
}

/// What reading one process's fd table showed.
enum Outcome {
    /// The target inodes this process holds (possibly none).
    Held(Vec<u64>),
    Denied,
    Gone,
}

/// Reads every fd link of one process, relative to an open /proc so that each readlink is a
/// single lookup. A process can exit at any point: that is `Gone`, not an error.
fn scan_pid(proc: BorrowedFd<'_>, pid: i32, targets: &HashSet<u64>) -> Outcome {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd_dir = match rustix::fs::openat(proc, format!("{pid}/fd"), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ACCESS | Errno::PERM) => return Outcome::Denied,
        Err(_) => return Outcome::Gone,
    };
    let Ok(mut dir) = Dir::new(fd_dir) else {
        return Outcome::Gone;
    };
    let mut held = Vec::new();
    let mut buf = [0u8; 64];
    while let Some(Ok(entry)) = dir.read() {
        let name = entry.file_name();
        if name.to_bytes().starts_with(b".") {
            continue;
        }
        let Ok(dir_fd) = dir.fd() else {
            return Outcome::Gone;
        };
        match rustix::fs::readlinkat_raw(dir_fd, name, &mut buf[..]) {
            Ok(len) => {
                if let Some(inode) = socket_inode(&buf[..len]).filter(|i| targets.contains(i)) {
                    held.push(inode);
                }
            }
            Err(Errno::ACCESS | Errno::PERM) => return Outcome::Denied,
            Err(_) => {}
        }
    }
    Outcome::Held(held)
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[17305]"), Some(17305));
        assert_eq!(socket_inode(b"pipe:[17305]"), None);
        assert_eq!(socket_inode(b"socket:[17305"), None);
        assert_eq!(socket_inode(b"/tmp/socket:[1]"), None);
    }

    #[test]
    fn nothing_to_find_still_scans_and_tolerates_pid1() {
        let scan = find_holders(&[u64::MAX], &[]);
        assert!(scan.full_scan);
        assert!(scan.holders.is_empty());
        assert!(scan.scanned > 0);
        let pid1_hidden = std::fs::read_link("/proc/1/fd/0")
            .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            scan.denied.contains(&1),
            pid1_hidden,
            "denied: {:?}",
            scan.denied
        );
    }

    #[test]
    fn no_matcher_no_likely_pids() {
        assert!(likely_pids(None).is_empty());
        let never = regex::Regex::new("^fixer-no-such-command-line$").unwrap();
        assert!(likely_pids(Some(&never)).is_empty());
    }
}
