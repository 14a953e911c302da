//! Stopping a lab: nginx gracefully-fast (SIGTERM to the master, then wait for it and its
//! workers), backends with SIGKILL, plus any process started later (e.g. by `fixer fix`) that
//! runs the lab's scripts or holds a lab port while living in the lab directory. Every signal
//! goes through `procfs::signal`, which re-checks the process's identity first.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustix::process::Signal;

use super::net::poll;
use super::procfs;
use super::state::{nginx_from_pid_file, LabProcess, LabState, Role};

const NGINX_GRACE: Duration = Duration::from_secs(5);
const GONE_TIMEOUT: Duration = Duration::from_secs(5);

/// Stops everything the lab runs and waits until its ports are free.
pub fn stop_all(state: &LabState) -> Result<()> {
    let mut masters: Vec<LabProcess> = state
        .processes
        .iter()
        .filter(|p| p.role == Role::Nginx)
        .cloned()
        .collect();
    masters.extend(nginx_from_pid_file(&state.dir));
    masters.extend(stray_nginx_masters(&state.dir));
    masters.sort_by_key(|p| p.pid);
    masters.dedup_by_key(|p| p.pid);
    let mut errors = Vec::new();
    for master in &masters {
        if let Err(e) = stop_nginx(master) {
            errors.push(format!("{e:#}"));
        }
    }
    let mut others: Vec<LabProcess> = state
        .processes
        .iter()
        .filter(|p| p.role != Role::Nginx)
        .cloned()
        .collect();
    others.extend(strays(state));
    // php-fpm's workers outlive a killed master and keep the port: kill them with it.
    let workers: Vec<LabProcess> = others
        .iter()
        .filter(|p| p.alive())
        .flat_map(|p| {
            procfs::children(p.pid)
                .into_iter()
                .map(|(pid, start_ticks)| LabProcess {
                    role: p.role,
                    pid,
                    start_ticks,
                })
        })
        .collect();
    others.extend(workers);
    others.sort_by_key(|p| p.pid);
    others.dedup_by_key(|p| p.pid);
    if let Err(e) = kill_and_wait(&others) {
        errors.push(format!("{e:#}"));
    }
    if let Err(e) = wait_ports_free(&state.ports()) {
        errors.push(format!("{e:#}"));
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// SIGTERM to the master (nginx's fast shutdown), then wait for it and its workers; SIGKILL
/// whatever is left after the grace period.
fn stop_nginx(master: &LabProcess) -> Result<()> {
    if !master.alive() {
        return Ok(());
    }
    let mut all: Vec<LabProcess> = procfs::children(master.pid)
        .into_iter()
        .map(|(pid, start_ticks)| LabProcess {
            role: Role::Nginx,
            pid,
            start_ticks,
        })
        .collect();
    all.insert(0, master.clone());
    procfs::signal(master.pid, master.start_ticks, Signal::TERM)
        .with_context(|| format!("signalling nginx master {}", master.pid))?;
    if poll(NGINX_GRACE, "nginx to stop", || {
        Ok(!all.iter().any(LabProcess::alive))
    })
    .is_ok()
    {
        return Ok(());
    }
    kill_and_wait(&all)
}

fn kill_and_wait(procs: &[LabProcess]) -> Result<()> {
    for p in procs {
        procfs::signal(p.pid, p.start_ticks, Signal::KILL)
            .with_context(|| format!("killing the lab's {} (pid {})", p.role.name(), p.pid))?;
    }
    let what = format!("lab processes {:?} to exit", pids(procs));
    poll(GONE_TIMEOUT, &what, || {
        Ok(!procs.iter().any(LabProcess::alive))
    })
}

fn pids(procs: &[LabProcess]) -> Vec<i32> {
    procs.iter().map(|p| p.pid).collect()
}

fn wait_ports_free(ports: &[u16]) -> Result<()> {
    let r = poll(GONE_TIMEOUT, "the lab's ports to be free", || {
        Ok(!ports.iter().any(|p| procfs::listening(*p)))
    });
    r.with_context(|| {
        let held: Vec<String> = ports
            .iter()
            .filter(|p| procfs::listening(**p))
            .map(|p| format!("{p} (held by pids {:?})", procfs::listeners(*p)))
            .collect();
        format!("still listening: {}", held.join(", "))
    })
}

/// Processes that are not fixer itself or its ancestors, with their arguments.
fn candidates() -> impl Iterator<Item = (i32, Vec<String>)> {
    let protected = procfs::self_and_ancestors();
    procfs::all_pids()
        .into_iter()
        .filter(move |pid| !protected.contains(pid))
        .filter_map(|pid| Some((pid, procfs::argv(pid)?)))
}

/// nginx masters running this lab's config that the lab did not record (started later).
fn stray_nginx_masters(dir: &Path) -> Vec<LabProcess> {
    let conf = format!("{}/nginx.conf", dir.display());
    candidates()
        .map(|(pid, argv)| (pid, argv.join(" ")))
        .filter(|(_, cmd)| cmd.starts_with("nginx: master") && cmd.contains(&conf))
        .filter_map(|(pid, _)| LabProcess::new(Role::Nginx, pid).ok())
        .collect()
}

/// Backends started later: a python running one of the lab's scripts, or anything holding
/// one of the lab's ports or a unix socket in the lab directory (php-fpm started again by
/// `fixer fix`) while its command line or working directory lies inside the lab directory.
/// nginx is handled through its master.
fn strays(state: &LabState) -> Vec<LabProcess> {
    let dir = state.dir.display().to_string();
    let inside = format!("{dir}/");
    let mut holders: Vec<i32> = state
        .ports()
        .iter()
        .flat_map(|p| procfs::listeners(*p))
        .collect();
    holders.extend(unix_holders_inside(&inside));
    candidates()
        .filter(|(pid, argv)| {
            let cmd = argv.join(" ");
            let lives_inside = cmd.contains(&inside)
                || procfs::cwd(*pid).is_some_and(|c| c.starts_with(&state.dir));
            let not_nginx = !cmd.starts_with("nginx:");
            not_nginx && (runs_lab_script(argv, &dir) || (lives_inside && holders.contains(pid)))
        })
        .filter(|(pid, _)| !state.processes.iter().any(|p| p.pid == *pid))
        .filter_map(|(pid, _)| LabProcess::new(Role::Backend, pid).ok())
        .collect()
}

/// The processes listening on a unix socket whose path lies under `inside`.
fn unix_holders_inside(inside: &str) -> Vec<i32> {
    let inodes: Vec<u64> = crate::sys::net::unix_listeners()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.path.as_deref().is_some_and(|p| p.starts_with(inside)))
        .map(|s| s.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    crate::sys::holders::find_holders(&inodes, &[])
        .holders
        .into_values()
        .flatten()
        .collect()
}

/// `python3 DIR/lab-backend.py ...` or `python3 DIR/squatter.py ...` (not, say, an editor
/// that has the script open).
fn runs_lab_script(argv: &[String], dir: &str) -> bool {
    let scripts = [
        format!("{dir}/lab-backend.py"),
        format!("{dir}/squatter.py"),
    ];
    let python = argv
        .first()
        .and_then(|a| a.rsplit('/').next())
        .is_some_and(|name| name.starts_with("python"));
    python && argv.iter().skip(1).any(|a| scripts.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn recognises_the_lab_scripts_run_by_python() {
        let d = "/tmp/lab";
        assert!(runs_lab_script(
            &args("python3 /tmp/lab/lab-backend.py --port 1"),
            d
        ));
        assert!(runs_lab_script(
            &args("/usr/bin/python3.11 -u /tmp/lab/squatter.py"),
            d
        ));
        assert!(!runs_lab_script(&args("vim /tmp/lab/lab-backend.py"), d));
        assert!(!runs_lab_script(
            &args("python3 /tmp/lab2/lab-backend.py"),
            d
        ));
        assert!(!runs_lab_script(
            &args("python3 /tmp/lab/lab-backend.py.bak"),
            d
        ));
    }
}
