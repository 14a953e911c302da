//! May nginx's workers connect to the backend's unix socket? A pool that listens happily on a
//! socket nginx's user cannot write (php-fpm's `listen.owner`/`listen.mode` left at another
//! user) gives every request `(13: Permission denied)` → 502, while every probe fixer makes
//! as root succeeds. So the socket file and its directories are judged against the identity
//! of nginx's running workers, not fixer's own.
//!
//! Runs after `backend_port` found the socket listening; it refines that step and changes
//! nothing.

use std::path::Path;

use crate::check::backend_port::Listening;
use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::step::{StepResult, Verdict};
use crate::sys::probe::{fpm_pool, FpmPool};
use crate::sys::socket_file::{Identity, SocketFile};
use crate::target::{BackendAddr, BackendSpec, Target};

/// Adds the access reading to a passing `backend_port` step of a unix backend, and fails it
/// when nginx's workers may not connect.
pub fn explain(step: &mut StepResult, target: &Target, nginx: &NginxView, listening: &Listening) {
    let Some(backend) = &target.backend else {
        return;
    };
    let BackendAddr::Unix(path) = &backend.address else {
        return;
    };
    if step.verdict != Verdict::Ok {
        return;
    }
    let Some(master) = &nginx.master else {
        step.evidence.push(
            "no nginx master found: whether its workers may connect to the socket is not checked"
                .into(),
        );
        return;
    };
    let workers = workers_of(master.pid);
    let Some(worker) = workers.first() else {
        step.evidence.push(format!(
            "nginx (PID {}) has no worker process to check the socket's permissions against",
            master.pid
        ));
        return;
    };
    if let Some(mut finding) = judge(path, worker, step) {
        if let Some(pool) = fpm_pool_of(listening, backend) {
            finding.action = Some(format!(
                "in {} (pool {}), set listen.owner/listen.group to {} (or listen.mode so its group may write), then restart php-fpm",
                pool.file.display(),
                pool.name,
                // the name alone, as php-fpm's `listen.owner` takes it
                crate::users::name(worker.uid)
            ));
        }
        step.verdict = Verdict::Fail;
        step.summary = finding.cause.clone();
        step.finding = Some(finding);
    }
}

fn judge(path: &Path, worker: &Identity, step: &mut StepResult) -> Option<Finding> {
    let file = SocketFile::read(path);
    let who = format!(
        "nginx's workers (PID {}) run as {}",
        worker.pid,
        worker.user()
    );
    match file.access(worker) {
        None => {
            step.evidence.push(format!(
                "{who}; the socket or a directory above it has a POSIX ACL, which fixer does not read: access not judged"
            ));
            None
        }
        Some(Ok(())) => {
            step.evidence.push(format!(
                "{who}, which may connect to unix:{}",
                path.display()
            ));
            None
        }
        Some(Err(denial)) => {
            step.evidence.push(format!("{who}: {}", denial.reason));
            Some(
                Finding::new(
                    FindingCode::BackendSocketPermission,
                    format!(
                        "{who}, and {}: nginx's connect() to unix:{} fails with (13: Permission denied) → 502, though the backend listens",
                        denial.reason,
                        path.display()
                    ),
                )
                .with_action(format!(
                    "let {} connect: for php-fpm set listen.owner/listen.group (or listen.mode) in the pool's config to nginx's user, then restart php-fpm; or run nginx's workers as the socket's group",
                    worker.user()
                )),
            )
        }
    }
}

/// The php-fpm pool that listens on the socket, when its holder is a php-fpm master: the
/// file to change is then known.
fn fpm_pool_of(listening: &Listening, backend: &BackendSpec) -> Option<FpmPool> {
    let likely = crate::sys::holders::likely_pids(backend.matcher.as_ref());
    let scan = crate::sys::holders::find_holders(&listening.inodes(), &likely);
    scan.holders.values().flatten().find_map(|&pid| {
        let title = crate::sys::process::read_cmdline(pid)?.join(" ");
        fpm_pool(&title, &backend.address)
    })
}

/// nginx's worker processes (children of the master titled `nginx: worker process`).
fn workers_of(master: i32) -> Vec<Identity> {
    let children = crate::sys::process::children_map();
    children
        .get(&master)
        .into_iter()
        .flatten()
        .filter(|&&pid| {
            crate::sys::process::read_cmdline(pid)
                .is_some_and(|c| c.join(" ").starts_with("nginx: worker process"))
        })
        .filter_map(|&pid| Identity::of_pid(pid))
        .collect()
}
