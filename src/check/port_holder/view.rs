//! Who holds the backend's port and in what condition: the step's verdict on the holder, as
//! the actions and the PHP-FPM pool check read it. Data only, so those depend on it and not on
//! the step that fills it.

use crate::sys::process::ProcessInfo;

/// How the holder behaves, as far as the evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Answering,
    Stopped,
    BlockedOnStdin,
    Stuck,
    /// Took the request and is slower than fixer's timeout, while nginx still waits for it.
    Slow,
    /// No reading that counts either way (a protocol fixer did not speak, a refused connect).
    Unconfirmed,
}

/// What later actions need: who holds the port and in what condition.
#[derive(Debug, Clone)]
pub struct HolderView {
    /// The pre-fork master, or the only holder.
    pub main: ProcessInfo,
    /// Every living process that holds the socket, main first.
    pub all: Vec<ProcessInfo>,
    pub condition: Condition,
    /// Whether the holder's command line matches the playbook's `match` (None: no regex).
    pub matches: Option<bool>,
}
