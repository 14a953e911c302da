//! The `nginx -T` dumps of one diagnosis, kept for its duration: discovery, the nginx step and
//! the upstream step ask for the same config, and on a 3 000-server-block config each run of
//! `nginx -T` costs as much as the rest of the diagnosis. Dropped before any action, so a
//! reload's new config is always read afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Dump;

static KEPT: Mutex<Option<HashMap<String, Dump>>> = Mutex::new(None);

/// Keeps dumps (by the command that made them) until the guard is dropped; nested installs
/// share the outer one.
pub fn install() -> Installed {
    let Ok(mut kept) = KEPT.lock() else {
        return Installed(false);
    };
    if kept.is_some() {
        return Installed(false);
    }
    *kept = Some(HashMap::new());
    Installed(true)
}

pub struct Installed(bool);

impl Drop for Installed {
    fn drop(&mut self) {
        if self.0 {
            if let Ok(mut kept) = KEPT.lock() {
                *kept = None;
            }
        }
    }
}

pub(super) fn cached(command: &str) -> Option<Dump> {
    KEPT.lock().ok()?.as_ref()?.get(command).cloned()
}

pub(super) fn keep(command: &str, dump: &Dump) {
    if let Ok(mut kept) = KEPT.lock() {
        if let Some(map) = kept.as_mut() {
            map.insert(command.to_string(), dump.clone());
        }
    }
}
