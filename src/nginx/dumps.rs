//! The `nginx -T` dumps of one diagnosis, kept for its duration: discovery, the nginx step and
//! the upstream step ask for the same config, and on a 3 000-server-block config each run of
//! `nginx -T` costs as much as the rest of the diagnosis. Dropped before any action, so a
//! reload's new config is always read afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Dump;
use crate::sys::run_slot::{Installed, RunSlot};

static KEPT: RunSlot<Mutex<HashMap<String, Dump>>> = RunSlot::new();

/// Keeps dumps (by the command that made them) until the guard is dropped; nested installs
/// share the outer one.
pub fn install() -> Installed<Mutex<HashMap<String, Dump>>> {
    KEPT.install(|| Mutex::new(HashMap::new()))
}

pub(super) fn cached(command: &str) -> Option<Dump> {
    KEPT.get()?.lock().ok()?.get(command).cloned()
}

pub(super) fn keep(command: &str, dump: &Dump) {
    if let Some(kept) = KEPT.get() {
        if let Ok(mut map) = kept.lock() {
            map.insert(command.to_string(), dump.clone());
        }
    }
}
