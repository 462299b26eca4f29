//! Expectations, as upstream's controllers keep them: after creating or deleting pods, a
//! controller waits until its cache has seen those changes before it counts pods again, so it
//! never creates twice because its cache was behind. Expectations expire after five minutes in
//! case a change is never observed.

use super::Key;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long unobserved expectations are honoured.
pub const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Pending {
    /// Names of created pods the cache has not shown yet.
    creates: HashSet<String>,
    /// Names of deleted pods the cache still shows as not being deleted.
    deletes: HashSet<String>,
    since: Option<Instant>,
}

/// Outstanding creations and deletions per controller object.
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<Key, Pending>>,
}

impl Expectations {
    /// Expect the cache to show a pod named `name`.
    pub fn expect_create(&self, key: &Key, name: String) {
        let mut p = self.pending.lock().expect("expectations lock");
        let e = p.entry(key.clone()).or_default();
        e.creates.insert(name);
        e.since = Some(Instant::now());
    }

    /// Expect the cache to show the pod named `name` gone or being deleted.
    pub fn expect_delete(&self, key: &Key, name: String) {
        let mut p = self.pending.lock().expect("expectations lock");
        let e = p.entry(key.clone()).or_default();
        e.deletes.insert(name);
        e.since = Some(Instant::now());
    }

    /// Whether the controller may count pods again: everything expected has been observed
    /// (`seen(name)` says whether the cache shows a pod and whether it is being deleted) or
    /// the expectations expired.
    pub fn satisfied(&self, key: &Key, seen: impl Fn(&str) -> Option<bool>) -> bool {
        let mut p = self.pending.lock().expect("expectations lock");
        let Some(e) = p.get_mut(key) else {
            return true;
        };
        e.creates.retain(|n| seen(n).is_none());
        e.deletes.retain(|n| seen(n) == Some(false));
        let expired = e.since.is_some_and(|s| s.elapsed() > TIMEOUT);
        if (e.creates.is_empty() && e.deletes.is_empty()) || expired {
            p.remove(key);
            return true;
        }
        false
    }

    /// Forget everything about `key` (its object is gone).
    pub fn forget(&self, key: &Key) {
        self.pending.lock().expect("expectations lock").remove(key);
    }
}
