//! nginx's own limits, read when the log says nginx ran out of them: the master's open-files
//! limit (`/proc/PID/limits`, inherited by its workers unless `worker_rlimit_nofile` says
//! otherwise) next to `worker_connections` from the effective config.

use crate::check::nginx::NginxView;
use crate::nginx::conf;
use crate::step::details::NginxLimits;
use crate::sys::proc_limits;

/// nginx's default when the config names none.
const DEFAULT_WORKER_CONNECTIONS: u64 = 512;

pub(super) fn read(nginx: &NginxView) -> Option<NginxLimits> {
    let master = nginx.master.as_ref()?;
    let files = proc_limits::open_files(master.pid);
    let tree = nginx.dump.as_ref().map(|d| d.tree()).unwrap_or(&[]);
    let first = |name: &str| {
        conf::find_all(tree, name)
            .first()
            .and_then(|d| d.args.first().cloned())
    };
    Some(NginxLimits {
        master_pid: master.pid,
        open_files_soft: files.and_then(|f| f.soft),
        open_files_hard: files.and_then(|f| f.hard),
        worker_connections: first("worker_connections")
            .and_then(|w| w.parse().ok())
            .unwrap_or(DEFAULT_WORKER_CONNECTIONS),
        worker_processes: first("worker_processes"),
    })
}

/// "nginx's master (PID 812) may open 1024 files (hard limit 524288); worker_connections is
/// 4096, and each proxied request holds two descriptors (client and upstream)".
pub(super) fn sentence(l: &NginxLimits) -> String {
    let n = |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
    let rlimit = l.open_files_soft.map_or(String::new(), |soft| {
        if soft < 2 * l.worker_connections {
            format!(
                "; {soft} is less than twice worker_connections ({}), so nginx runs out of descriptors before connections",
                2 * l.worker_connections
            )
        } else {
            String::new()
        }
    });
    format!(
        "nginx's master (PID {}) may open {} files (hard limit {}); worker_connections is {}{}, and each proxied request holds two descriptors (client and upstream){rlimit}",
        l.master_pid,
        n(l.open_files_soft),
        n(l.open_files_hard),
        l.worker_connections,
        l.worker_processes
            .as_deref()
            .map_or(String::new(), |w| format!(" per worker ({w} worker_processes)"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_when_the_open_files_limit_is_below_twice_worker_connections() {
        let mut l = NginxLimits {
            master_pid: 812,
            open_files_soft: Some(1024),
            open_files_hard: Some(524288),
            worker_connections: 4096,
            worker_processes: Some("auto".into()),
        };
        let s = sentence(&l);
        assert!(s.starts_with("nginx's master (PID 812) may open 1024 files (hard limit 524288); worker_connections is 4096 per worker (auto worker_processes)"), "{s}");
        assert!(s.ends_with("1024 is less than twice worker_connections (8192), so nginx runs out of descriptors before connections"), "{s}");
        l.open_files_soft = None;
        assert!(sentence(&l).contains("may open unlimited files"));
        assert!(!sentence(&l).contains("less than twice"));
    }
}
