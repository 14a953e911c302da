//! The answers of one diagnosis, by request. The recurl, tls and auth steps ask some of the
//! same URLs (the anonymous and the authenticated request behind basic auth, the HTTPS page
//! whose headers are judged): within one walk of the chain each distinct request is sent once,
//! and a step that asks while it is in flight waits for that answer instead of sending its own.
//!
//! Requests sent straight to a backend in its own protocol (the holder's probe, a verify URL
//! that names the backend's address) are kept here too, by a key their sender gives: the
//! port_holder and recurl steps ask the same one.
//!
//! A value made by each walk and dropped with it: an answer is never carried into a later
//! walk, so a re-check after a restart always asks again.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use super::{fetch, only, Failure, Probe, Response};

type Answer = Result<(Response, Vec<(String, String)>), Failure>;
type Slot<T> = Arc<OnceLock<T>>;

/// Everything that makes two probes the same request. The password is kept only as a keyed
/// hash, so the map holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    url: String,
    via: Option<String>,
    insecure: bool,
    user: Option<String>,
    password: Option<u64>,
    timeout: Duration,
}

#[derive(Default)]
pub struct Answers {
    asked: Mutex<HashMap<Key, Slot<Answer>>>,
    direct: Mutex<HashMap<String, Slot<Result<Response, Failure>>>>,
    keys: std::collections::hash_map::RandomState,
}

impl Answers {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`super::get`] through this walk's answers.
    pub fn get(&self, probe: &Probe) -> Result<Response, Failure> {
        self.get_with_headers(probe, &[]).map(|(r, _)| r)
    }

    /// [`super::get_with_headers`] through this walk's answers: the first asker sends the
    /// request, later askers of the same request get its answer.
    pub fn get_with_headers(
        &self,
        probe: &Probe,
        names: &[&str],
    ) -> Result<(Response, Vec<(String, String)>), Failure> {
        let (response, all) = slot(&self.asked, self.key(probe))
            .get_or_init(|| fetch(probe))
            .clone()?;
        Ok((response, only(all, names)))
    }

    /// A request sent by other means than this module's client, once per walk under `key`,
    /// which must name everything that makes it that request (address, exchange, timeout):
    /// the first asker calls `send`, later askers get its answer.
    pub fn once(
        &self,
        key: String,
        send: impl FnOnce() -> Result<Response, Failure>,
    ) -> Result<Response, Failure> {
        slot(&self.direct, key).get_or_init(send).clone()
    }

    /// How many distinct requests were sent.
    pub fn sent(&self) -> usize {
        answered(&self.asked) + answered(&self.direct)
    }

    fn key(&self, probe: &Probe) -> Key {
        let password = probe
            .basic_auth
            .as_ref()
            .map(|(_, p)| self.keys.hash_one(p));
        Key {
            url: probe.url.clone(),
            via: probe.via.clone(),
            insecure: probe.insecure,
            user: probe.basic_auth.as_ref().map(|(u, _)| u.clone()),
            password,
            timeout: probe.timeout,
        }
    }
}
/// The slot of `key`, made empty on first ask; the map's lock is held only to find it.
fn slot<K: Eq + Hash, T>(map: &Mutex<HashMap<K, Slot<T>>>, key: K) -> Slot<T> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(key).or_default().clone()
}

fn answered<K, T>(map: &Mutex<HashMap<K, Slot<T>>>) -> usize {
    let map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.values().filter(|a| a.get().is_some()).count()
}
