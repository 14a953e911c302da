//! A uid's user name, for evidence and records.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// The user name of `uid`, or the number when it has none. Each lookup reads and parses
/// /etc/passwd (or asks NSS); a diagnosis names a handful of processes and files of two or
/// three users, so each uid is looked up once per run.
pub fn name(uid: u32) -> String {
    static NAMES: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
    let known = NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&uid)
        .cloned();
    if let Some(name) = known {
        return name;
    }
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        // Not kept: a directory service that did not answer may answer next time.
        return uid.to_string();
    };
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    // Bounded: on a host with more users than this, later ones are looked up each time.
    if names.len() < 256 {
        names.insert(uid, user.name.clone());
    }
    user.name
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_is_named_and_an_unknown_uid_is_its_number() {
        assert_eq!(super::name(0), "root");
        assert_eq!(super::name(0), "root");
        assert_eq!(super::name(4_000_000_000), "4000000000");
    }
}
