//! The processes of one systemd unit, read from every /proc/PID/cgroup: a backend started by
//! its unit can be found by where it runs even when its command line matches nothing.

use super::{all_pids, par_map, parse_cgroup, read_into, ProcRoot};

/// Pids whose cgroup places them in `unit` (`app` and `app.service` name the same unit).
pub fn pids_in_unit(unit: &str) -> Vec<i32> {
    let want = if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    let Ok(root) = ProcRoot::open() else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let found = par_map(&all_pids(), |pid, buf| {
        pid != me
            && read_into(root.fd(), pid, "cgroup", buf).is_ok()
            && parse_cgroup(&String::from_utf8_lossy(buf)).unit.as_deref() == Some(want.as_str())
    });
    let mut pids: Vec<i32> = found
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(p, _)| p)
        .collect();
    pids.sort_unstable();
    pids
}
