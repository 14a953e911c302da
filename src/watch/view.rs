//! The shapes of a watch that `report::watch` shows: what a round runs with, and what
//! `--install` / `--uninstall` will do. Data only, so the renderer depends on them and not on
//! the watch loop that calls it.

use std::path::PathBuf;
use std::time::Duration;

use crate::notify::{DingTalk, Notifier};

/// Everything a round needs besides the target, resolved from the flags once.
pub(crate) struct Setup {
    pub interval: Duration,
    pub notifiers: Vec<Notifier>,
    pub ding: DingTalk,
    pub audit: std::path::PathBuf,
}

/// A file to write: where, what, and whether its text may be shown (the env file's may not).
pub struct File {
    pub path: PathBuf,
    pub text: String,
    pub shown: String,
    pub mode: u32,
}

/// What --install or --uninstall will do, decided without touching anything.
pub struct Plan {
    pub instance: String,
    pub install: bool,
    pub files: Vec<File>,
    pub remove: Vec<PathBuf>,
    pub commands: Vec<Vec<String>>,
    /// Without systemd: the crontab line to add (or the one to remove).
    pub crontab: Option<String>,
    pub notes: Vec<String>,
}
