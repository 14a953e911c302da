//! A php-fpm pool whose every worker is busy looks, from outside, like a stuck holder: its
//! socket takes connections and nothing answers, and nginx gives up with 504 (or, once the
//! listen queue is full, `(11: Resource temporarily unavailable)`). Yet the master is fine and
//! killing it only cuts every running request. So when the holder is a php-fpm master and the
//! holder check found it stuck or slow, this reads what php-fpm itself says — its workers (an
//! idle one waits in accept()), `pm.max_children` from the pool's config, "server reached
//! pm.max_children" in its log since the master started, its status page — and, when the pool
//! is full, replaces the finding with `fpm-pool-full`, which plans no kill and no restart.

use std::time::Duration;

use crate::check::port_holder::view::HolderView;
use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::StepResult;
use crate::sys::probe::{fpm_pool, fpm_status, FpmPool, FpmStatus};
use crate::sys::process::ProcessInfo;
use crate::target::{BackendAddr, BackendSpec};

/// The end of php-fpm's log that is read for "reached pm.max_children".
const LOG_TAIL: u64 = 256 * 1024;
/// The status page is asked only of a pool already suspected full: it costs at most this.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// Refines a `holder-stuck`/`holder-slow` finding against a php-fpm master.
pub fn explain(step: &mut StepResult, view: Option<&HolderView>, backend: &BackendSpec) {
    let suspect = step
        .finding
        .as_ref()
        .is_some_and(|f| matches!(f.code, FindingCode::HolderStuck | FindingCode::HolderSlow));
    let Some(view) = view.filter(|v| suspect && is_fpm_master(&v.main)) else {
        return;
    };
    let started = std::time::Instant::now();
    let reading = read(view, &backend.address);
    step.evidence.extend(reading.evidence());
    if let Some(finding) = reading.full(view, &backend.address) {
        step.summary = finding.cause.clone();
        step.finding = Some(finding);
    }
    step.elapsed_ms += started.elapsed().as_millis() as u64;
}

fn is_fpm_master(p: &ProcessInfo) -> bool {
    p.cmdline_str().starts_with("php-fpm: master process")
}

/// What php-fpm shows of its pool.
struct Reading {
    pool: Option<FpmPool>,
    workers: usize,
    /// Workers asleep in accept(): waiting for a connection, so the pool is not full.
    idle: usize,
    /// Every worker's system call could be read (/proc/PID/syscall), so `idle` is exact.
    idle_known: bool,
    log: Option<LogReading>,
    status: Option<Result<FpmStatus, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogReading {
    pub path: String,
    /// "reached max_children" lines since the master started.
    pub count: usize,
    pub newest: Option<String>,
}

fn read(view: &HolderView, addr: &BackendAddr) -> Reading {
    let pool = fpm_pool(&view.main.cmdline_str(), addr);
    let workers: Vec<&ProcessInfo> = view
        .all
        .iter()
        .filter(|p| p.ppid == view.main.pid && p.cmdline_str().starts_with("php-fpm: pool"))
        .collect();
    let idle = workers.iter().filter(|p| in_accept(p)).count();
    let idle_known = workers.iter().all(|p| p.syscall.is_some());
    let log = pool.as_ref().and_then(|p| {
        let path = p.error_log.as_ref()?;
        let (_, bytes) = crate::sys::tail::read_tail(path, 0, LOG_TAIL).ok()?;
        Some(scan_log(
            &String::from_utf8_lossy(&bytes),
            &p.name,
            view.main.pid,
            &path.display().to_string(),
        ))
    });
    // Asked only when no worker waits: a pool with an idle worker answers it, and is not full.
    let status = pool.as_ref().filter(|_| idle == 0).and_then(|p| {
        let path = p.status_path.as_ref()?;
        let at = match p.status_listen.as_deref() {
            Some(l) => BackendAddr::parse(&listen_addr(l)).ok()?,
            None => addr.clone(),
        };
        Some(fpm_status(&at, path, STATUS_TIMEOUT))
    });
    Reading {
        pool,
        workers: workers.len(),
        idle,
        idle_known,
        log,
        status,
    }
}

/// php-fpm's `listen` forms as an address fixer parses: a path, `port`, `ip:port`.
fn listen_addr(l: &str) -> String {
    if l.starts_with('/') {
        format!("unix:{l}")
    } else if l.parse::<u16>().is_ok() {
        format!("127.0.0.1:{l}")
    } else {
        l.to_string()
    }
}

fn in_accept(p: &ProcessInfo) -> bool {
    p.syscall
        .as_ref()
        .is_some_and(|s| s.name == "accept" || s.name == "accept4")
}

/// Counts the pool's "server reached (pm.)max_children setting" warnings written after the
/// master's "fpm is running, pid N" line (earlier ones are another master's).
pub(crate) fn scan_log(text: &str, pool: &str, master: i32, path: &str) -> LogReading {
    let start = format!("fpm is running, pid {master}");
    let from = text.rfind(&start).unwrap_or(0);
    let tag = format!("[pool {pool}]");
    let hits: Vec<&str> = text[from..]
        .lines()
        .filter(|l| l.contains(&tag) && l.contains("reached") && l.contains("max_children"))
        .collect();
    LogReading {
        path: path.to_string(),
        count: hits.len(),
        newest: hits
            .last()
            .map(|l| clean(l.trim()).chars().take(200).collect()),
    }
}

impl Reading {
    fn evidence(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.pool {
            Some(p) => out.push(format!(
                "php-fpm pool {} ({}): pm = {}, pm.max_children = {}, pm.status_path {}",
                p.name,
                p.file.display(),
                p.pm.as_deref().unwrap_or("?"),
                p.max_children.map_or("?".into(), |n| n.to_string()),
                p.status_path.as_deref().unwrap_or("not set")
            )),
            None => out.push(
                "php-fpm: the pool listening on this address was not found in the master's config"
                    .into(),
            ),
        }
        out.push(if self.idle_known {
            format!(
                "php-fpm workers: {} busy, {} idle (waiting in accept())",
                self.workers - self.idle,
                self.idle
            )
        } else {
            format!(
                "php-fpm workers: {}, {} seen waiting in accept() (the system call of some could not be read)",
                self.workers, self.idle
            )
        });
        if let Some(l) = &self.log {
            out.push(match &l.newest {
                Some(newest) => format!(
                    "{}: {} \"reached max_children\" warning(s) since the master started; newest: {newest}",
                    l.path, l.count
                ),
                None => format!(
                    "{}: no \"reached max_children\" warning since the master started",
                    l.path
                ),
            });
        }
        match &self.status {
            Some(Ok(s)) => out.push(format!(
                "php-fpm status page: {} active, {} idle of {} processes, listen queue {} (of {}), max children reached {} time(s), {} slow request(s)",
                s.active, s.idle, s.total, s.listen_queue, s.listen_queue_len, s.max_children_reached, s.slow_requests
            )),
            Some(Err(e)) => out.push(format!(
                "php-fpm status page: no answer ({}) — a worker serves it, and none is free",
                clean(e)
            )),
            None => {}
        }
        out
    }

    /// The pool is full when no worker waits for a connection. Where that cannot be read for
    /// every worker, the pool must also be at its limit or php-fpm itself must say so (its
    /// log, its status page). Erring towards "full" costs a manual step; the other way, a kill.
    fn full(&self, view: &HolderView, addr: &BackendAddr) -> Option<Finding> {
        // The status request itself keeps a worker active, so "no idle worker" in its answer
        // says nothing; connections waiting, or the limit reached since start, do.
        let status_full =
            matches!(&self.status, Some(Ok(s)) if s.listen_queue > 0 || s.max_children_reached > 0);
        let logged = self.log.as_ref().is_some_and(|l| l.count > 0);
        let max = self.pool.as_ref().and_then(|p| p.max_children);
        let at_limit = max.is_some_and(|m| self.workers >= m as usize);
        let confirmed = self.idle_known || at_limit || logged || status_full;
        if self.workers == 0 || self.idle > 0 || !confirmed {
            return None;
        }
        let name = self.pool.as_ref().map_or("?", |p| p.name.as_str());
        let limit = max.map_or(String::new(), |m| format!(" (pm.max_children = {m})"));
        let said = match (&self.log, &self.status) {
            (Some(l), _) if l.count > 0 => format!(
                "; php-fpm logged \"server reached pm.max_children\" {} time(s) since it started",
                l.count
            ),
            (_, Some(Ok(s))) => format!(
                "; its status page shows listen queue {}, max children reached {} time(s)",
                s.listen_queue, s.max_children_reached
            ),
            _ => String::new(),
        };
        let file = self
            .pool
            .as_ref()
            .map_or("the pool's config".to_string(), |p| {
                p.file.display().to_string()
            });
        Some(
            Finding::new(
                FindingCode::FpmPoolFull,
                format!(
                    "php-fpm pool {name} on {addr} (master PID {}) is full: all {} of its workers are busy{limit} and none waits for a connection, so requests queue until nginx gives up{said}",
                    view.main.pid, self.workers
                ),
            )
            .with_action(format!(
                "not stuck: fixer neither kills nor restarts it. Find the slow requests (request_slowlog_timeout, the status page) or raise pm.max_children in {file} as memory allows, then reload php-fpm"
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "[26-Nov-2026 05:00:00] NOTICE: fpm is running, pid 100\n\
        [26-Nov-2026 05:10:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it\n\
        [26-Nov-2026 06:02:07] NOTICE: fpm is running, pid 28681\n\
        [26-Nov-2026 06:02:07] NOTICE: ready to handle connections\n\
        [26-Nov-2026 06:02:08] WARNING: [pool lab] server reached pm.max_children setting (1), consider raising it\n\
        [26-Nov-2026 06:02:09] WARNING: [pool other] server reached max_children setting (2), consider raising it\n";

    #[test]
    fn counts_only_this_pool_since_this_master_started() {
        let r = scan_log(LOG, "lab", 28681, "/x.log");
        assert_eq!(r.count, 1);
        assert!(r.newest.unwrap().contains("setting (1)"));
        // An earlier master's warnings do not count.
        assert_eq!(scan_log(LOG, "www", 28681, "/x.log").count, 0);
        // ondemand's wording ("max_children setting") counts too.
        assert_eq!(scan_log(LOG, "other", 28681, "/x.log").count, 1);
    }

    fn process(pid: i32, ppid: i32, title: &str, syscall: Option<&str>) -> ProcessInfo {
        use crate::sys::process::{FdTarget, ProcState, Syscall};
        ProcessInfo {
            pid,
            ppid,
            pgid: ppid,
            sid: ppid,
            comm: "php-fpm8.2".into(),
            cmdline: vec![title.into()],
            state: ProcState::from_letter('S'),
            uid: 0,
            user: "root".into(),
            start_ticks: 1,
            started_unix: 0.0,
            wchan: None,
            stdin: FdTarget::DevNull,
            syscall: syscall.map(|name| Syscall {
                name: name.into(),
                arg0: 0,
            }),
            unit: None,
            container: None,
            kernel_thread: false,
        }
    }

    fn view(workers: &[Option<&str>]) -> HolderView {
        let master = process(
            10,
            1,
            "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)",
            Some("epoll_wait"),
        );
        let mut all = vec![master.clone()];
        for (i, s) in workers.iter().enumerate() {
            all.push(process(11 + i as i32, 10, "php-fpm: pool www", *s));
        }
        HolderView {
            main: master,
            all,
            condition: crate::check::port_holder::Condition::Stuck,
            matches: Some(true),
        }
    }

    fn reading(v: &HolderView, max: Option<u32>) -> Reading {
        let workers: Vec<&ProcessInfo> = v.all.iter().skip(1).collect();
        Reading {
            pool: Some(FpmPool {
                name: "www".into(),
                max_children: max,
                ..FpmPool::default()
            }),
            workers: workers.len(),
            idle: workers.iter().filter(|p| in_accept(p)).count(),
            idle_known: workers.iter().all(|p| p.syscall.is_some()),
            log: None,
            status: None,
        }
    }

    #[test]
    fn full_only_when_no_worker_waits_for_a_connection() {
        let addr = BackendAddr::parse("unix:/run/php/php8.2-fpm.sock").unwrap();
        let busy = view(&[Some("clock_nanosleep"), Some("read")]);
        let f = reading(&busy, Some(2)).full(&busy, &addr).unwrap();
        assert_eq!(f.code, FindingCode::FpmPoolFull);
        assert!(
            f.cause
                .contains("all 2 of its workers are busy (pm.max_children = 2)"),
            "{}",
            f.cause
        );
        // One worker in accept(): the pool has room, so this is not a full pool.
        let room = view(&[Some("clock_nanosleep"), Some("accept")]);
        assert!(reading(&room, Some(2)).full(&room, &addr).is_none());
        // A worker whose system call is unknown: full only with the limit or php-fpm's word.
        let unknown = view(&[Some("clock_nanosleep"), None]);
        assert!(reading(&unknown, None).full(&unknown, &addr).is_none());
        assert!(reading(&unknown, Some(2)).full(&unknown, &addr).is_some());
        // No workers at all (ondemand, none started): nothing says the pool is full.
        let none = view(&[]);
        assert!(reading(&none, Some(2)).full(&none, &addr).is_none());
    }

    #[test]
    fn listen_forms_become_addresses() {
        assert_eq!(
            listen_addr("/run/php/status.sock"),
            "unix:/run/php/status.sock"
        );
        assert_eq!(listen_addr("9001"), "127.0.0.1:9001");
        assert_eq!(listen_addr("127.0.0.1:9001"), "127.0.0.1:9001");
    }
}
