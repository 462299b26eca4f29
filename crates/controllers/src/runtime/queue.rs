//! A work queue of object keys, like client-go's: a key is queued at most once, is never
//! processed by two workers at the same time (a key added while processing is processed again
//! afterwards), can be added after a delay, and failures are retried with per-key exponential
//! back-off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// An object's namespace (empty for cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub namespace: String,
    pub name: String,
}

impl Key {
    /// The key of a namespaced object.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object, from its metadata.
    pub fn of<K: kube::Resource>(o: &K) -> Self {
        let m = o.meta();
        Self::new(
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default(),
        )
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Key>,
    queued: HashSet<Key>,
    processing: HashSet<Key>,
    /// Added while processing: queue again when done.
    dirty: HashSet<Key>,
    failures: HashMap<Key, u32>,
}

/// The queue one controller's workers take keys from.
#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

/// First retry delay after a failure; doubles per failure.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// Longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(60);

impl WorkQueue {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Queue `key` unless it already waits.
    pub fn add(&self, key: Key) {
        let mut s = self.state.lock().expect("queue lock");
        if s.processing.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        if s.queued.insert(key.clone()) {
            s.queue.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queue `key` once `delay` has passed.
    pub fn add_after(self: &Arc<Self>, key: Key, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(key);
        });
    }

    /// Queue `key` again after a failure, with exponential back-off.
    pub fn retry(self: &Arc<Self>, key: Key) {
        let n = {
            let mut s = self.state.lock().expect("queue lock");
            let n = s.failures.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let delay = BASE_DELAY
            .saturating_mul(2u32.saturating_pow(n.min(20) - 1))
            .min(MAX_DELAY);
        self.add_after(key, delay);
    }

    /// Forget the failures of `key` (it succeeded).
    pub fn forget(&self, key: &Key) {
        self.state.lock().expect("queue lock").failures.remove(key);
    }

    /// Wait for the next key; the caller must call [`WorkQueue::done`] with it.
    pub async fn next(&self) -> Key {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().expect("queue lock");
                if let Some(key) = s.queue.pop_front() {
                    s.queued.remove(&key);
                    s.processing.insert(key.clone());
                    if !s.queue.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Processing `key` finished.
    pub fn done(&self, key: &Key) {
        let mut s = self.state.lock().expect("queue lock");
        s.processing.remove(key);
        if s.dirty.remove(key) && s.queued.insert(key.clone()) {
            s.queue.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Run `workers` loops that take keys and call `sync`. `sync` returns `Ok(Some(d))` to be
    /// called again after `d`, `Ok(None)` when done, or an error to retry with back-off.
    pub fn run<F, Fut>(self: &Arc<Self>, name: &'static str, workers: usize, sync: F)
    where
        F: Fn(Key) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future<Output = anyhow::Result<Option<Duration>>> + Send + 'static,
    {
        for _ in 0..workers {
            let q = self.clone();
            let sync = sync.clone();
            tokio::spawn(async move {
                loop {
                    let key = q.next().await;
                    match sync(key.clone()).await {
                        Ok(after) => {
                            q.forget(&key);
                            if let Some(d) = after {
                                q.add_after(key.clone(), d);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(controller = name, %key, error = format!("{e:#}"), "sync failed; retrying");
                            q.retry(key.clone());
                        }
                    }
                    q.done(&key);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_waits_once_and_comes_back_when_added_while_processing() {
        let q = WorkQueue::new();
        q.add(Key::new("a", "x"));
        q.add(Key::new("a", "x"));
        let k = q.next().await;
        q.add(k.clone());
        assert!(
            q.state.lock().unwrap().queue.is_empty(),
            "held while processing"
        );
        q.done(&k);
        assert_eq!(q.next().await, Key::new("a", "x"));
        assert!(q.state.lock().unwrap().queue.is_empty());
    }
}
