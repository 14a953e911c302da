//! Starting a backend the way a supervisor would: its own session (no SIGHUP when the SSH
//! session ends), stdin from /dev/null (a backend waiting at a prompt is exactly the Streamlit
//! outage), output appended to a log file.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Detached {
    pub command: String,
    pub cwd: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

/// Starts `sh -c "exec COMMAND"`, so the PID returned is the backend itself, not a shell.
pub fn spawn(d: &Detached) -> anyhow::Result<Child> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("exec {}", d.command))
        .stdin(Stdio::null())
        .envs(&d.env);
    if let Some(cwd) = &d.cwd {
        cmd.current_dir(cwd);
    }
    match &d.log {
        Some(log) => {
            let file = open_log(log)?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| rustix::process::setsid().map(|_| ()).map_err(Into::into));
    }
    cmd.spawn()
        .with_context(|| format!("starting `{}`", d.command))
}

fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log {}", path.display()))
}

/// Whether systemd is PID 1 (sd_booted): the directory exists only then.
pub fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The last `n` lines of a log file, for evidence when a backend dies.
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
