//! A cgroup of the container's own, in every hierarchy systemd uses: the unified one (cgroup
//! v2, or `unified/` on a hybrid host) and the v1 `name=systemd` one. nspawn with
//! `--keep-unit` builds the container's tree (`payload/`, `supervisor/`) below its own cgroup,
//! so a container started from the root cgroup would share that tree with every other one.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Removing waits this long for the last killed processes to leave their cgroups.
const REMOVE_DEADLINE: Duration = Duration::from_secs(10);

fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.procs").exists() {
        return vec![root.to_path_buf()];
    }
    ["unified", "systemd"]
        .iter()
        .map(|h| root.join(h))
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

/// Ends containers that earlier test runs left behind: a test binary killed outright
/// (SIGKILL, a CI timeout) never runs its Drop, and a container outlives its nspawn. Such a
/// container is recognised by its cgroup, named `fixer-test-PID-TICKS-…` after the test process
/// that started it (its PID and start time): when that process no longer exists, nobody owns
/// the container. `cgroup.kill` ends exactly the processes in that cgroup.
pub fn sweep_abandoned() {
    let Some(unified) = hierarchies().into_iter().next() else {
        return;
    };
    for e in fs::read_dir(&unified).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((pid, ticks)) = owner(&name) else {
            continue;
        };
        if super::start_ticks(pid) == Some(ticks) {
            continue;
        }
        eprintln!("removing container cgroup {name}: its test process {pid} is gone");
        let _ = fs::write(e.path().join("cgroup.kill"), "1");
        let dirs: Vec<PathBuf> = hierarchies().iter().map(|h| h.join(&name)).collect();
        remove(&dirs);
    }
}

/// `fixer-test-PID-TICKS-…` → (PID, TICKS).
fn owner(name: &str) -> Option<(i32, u64)> {
    let mut parts = name.strip_prefix("fixer-test-")?.split('-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

pub fn create(name: &str) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = hierarchies().iter().map(|h| h.join(name)).collect();
    assert!(
        !dirs.is_empty(),
        "no cgroup hierarchy under /sys/fs/cgroup: the container cannot run here"
    );
    for d in &dirs {
        fs::create_dir(d).unwrap_or_else(|e| {
            panic!(
                "creating cgroup {}: {e} (the container tests need root)",
                d.display()
            )
        });
    }
    dirs
}

/// Removes the cgroups and everything systemd built below them, deepest first, retrying
/// while the killed processes are still leaving.
pub fn remove(dirs: &[PathBuf]) {
    let end = Instant::now() + REMOVE_DEADLINE;
    for d in dirs {
        let mut all = Vec::new();
        collect(d, &mut all);
        all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for dir in all {
            while fs::remove_dir(&dir).is_err() && dir.exists() && Instant::now() < end {
                thread::sleep(Duration::from_millis(20));
            }
            if dir.exists() {
                eprintln!("could not remove cgroup {}", dir.display());
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&e.path(), out);
        }
    }
}
