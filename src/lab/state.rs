//! `DIR/lab.json`: what a lab runs, recorded so `fixer lab down` can find and stop it later
//! from another process. A process is recorded with its start time, so a pid reused by an
//! unrelated process is never mistaken for the lab's.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{procfs, Fault};

pub const STATE_FILE: &str = "lab.json";
/// Present when `fixer lab up` created the directory, so `down` may remove it entirely.
pub const OWNED_MARKER: &str = ".fixer-lab-owned";

/// What a lab process is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// nginx's master process (its workers are found through it).
    Nginx,
    /// `lab-backend.py`, in whatever mode the fault needs.
    Backend,
    /// `squatter.py`: the foreign program holding the backend's port.
    Squatter,
    /// `crowd.py`: clients holding nginx's connections (nginx-saturated).
    Crowd,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Nginx => "nginx",
            Role::Backend => "backend",
            Role::Squatter => "squatter",
            Role::Crowd => "crowd",
        }
    }
}

/// One process the lab started, identified by pid and start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabProcess {
    pub role: Role,
    pub pid: i32,
    /// /proc/PID/stat field 22.
    pub start_ticks: u64,
}

impl LabProcess {
    pub fn new(role: Role, pid: i32) -> Result<LabProcess> {
        let start_ticks = procfs::start_ticks(pid)
            .with_context(|| format!("the lab's {} (pid {pid}) exited", role.name()))?;
        Ok(LabProcess {
            role,
            pid,
            start_ticks,
        })
    }

    pub fn alive(&self) -> bool {
        procfs::alive(self.pid, self.start_ticks)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub fault: Fault,
    pub dir: PathBuf,
    pub http_port: u16,
    pub https_port: u16,
    pub backend_port: u16,
    pub upstream_port: u16,
    pub processes: Vec<LabProcess>,
}

impl LabState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    pub fn save(&self) -> Result<()> {
        let path = Self::path(&self.dir);
        let tmp = self.dir.join(".lab.json.tmp");
        let json = serde_json::to_string_pretty(self)?;
        fs::write(&tmp, json + "\n").with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// The recorded lab, or None when `dir` holds none.
    pub fn load(dir: &Path) -> Result<Option<LabState>> {
        let path = Self::path(dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let state = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a fixer lab record", path.display()))?;
        Ok(Some(state))
    }

    /// The ports the lab uses (deduplicated).
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = vec![
            self.http_port,
            self.https_port,
            self.backend_port,
            self.upstream_port,
        ];
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// Is anything the lab started still running?
    pub fn running(&self) -> bool {
        self.processes.iter().any(LabProcess::alive) || nginx_from_pid_file(&self.dir).is_some()
    }
}

/// The nginx master named in `DIR/nginx.pid`, if it runs with this lab's config (nginx may
/// have been started again later, e.g. by `fixer fix`).
pub fn nginx_from_pid_file(dir: &Path) -> Option<LabProcess> {
    let pid: i32 = fs::read_to_string(dir.join("nginx.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = procfs::cmdline(pid)?;
    let conf = format!("{}/nginx.conf", dir.display());
    if !(cmdline.starts_with("nginx: master") && cmdline.contains(&conf)) {
        return None;
    }
    let p = LabProcess::new(Role::Nginx, pid).ok()?;
    p.alive().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let state = LabState {
            fault: Fault::StdinHolder,
            dir: dir.path().to_path_buf(),
            http_port: 1,
            https_port: 2,
            backend_port: 3,
            upstream_port: 3,
            processes: vec![LabProcess {
                role: Role::Backend,
                pid: 42,
                start_ticks: 7,
            }],
        };
        state.save().unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), Some(state.clone()));
        assert_eq!(state.ports(), [1, 2, 3]);
        let text = fs::read_to_string(LabState::path(dir.path())).unwrap();
        assert!(text.contains("\"fault\": \"stdin-holder\""), "{text}");
        assert!(text.contains("\"role\": \"backend\""), "{text}");
    }

    #[test]
    fn no_record_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), None);
    }
}
