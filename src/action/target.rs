//! What an action touches, as data: shown in `fix --json`, the report and the audit log.
//! Untagged: the record's `action` code says which one it is.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ActionTarget {
    Kill(KillTarget),
    Resume(ResumeTarget),
    RestartUnit(RestartUnitTarget),
    RestartCommand(RestartCommandTarget),
    StartNginx(StartNginxTarget),
    ReloadNginx(ReloadNginxTarget),
}

/// The holder processes a kill signals, as identified when the plan was made.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KillTarget {
    pub pid: i32,
    pub pids: Vec<i32>,
    pub cmdline: String,
    pub user: String,
    pub start_ticks: u64,
    pub started_unix: f64,
    pub unit: Option<String>,
    pub signal: &'static str,
    pub foreign: bool,
    /// `blocked-before-listen` when the holder waits at a prompt and never listened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResumeTarget {
    pub pids: Vec<i32>,
    pub pid: i32,
    pub cmdline: String,
    pub start_ticks: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RestartUnitTarget {
    pub unit: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RestartCommandTarget {
    pub command: String,
    pub cwd: Option<PathBuf>,
    pub log: PathBuf,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StartNginxTarget {
    /// The command or `systemctl start UNIT` line that starts nginx.
    pub command: String,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReloadNginxTarget {
    pub command: String,
    pub master_pid: i32,
}
