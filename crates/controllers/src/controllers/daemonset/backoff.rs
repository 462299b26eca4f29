//! Back-off for deleting failed daemon pods, as upstream keeps it per DaemonSet, observed
//! generation and node: a node whose daemon keeps failing (often a kubelet rejecting it) gets
//! its failed pod replaced after 1s, 2s, 4s, ... up to 15 minutes, instead of in a hot loop.
//! An entry idle for twice the maximum starts over.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// First delay.
pub const INITIAL: Duration = Duration::from_secs(1);
/// Longest delay.
pub const MAX: Duration = Duration::from_secs(15 * 60);

struct Entry {
    delay: Duration,
    last_update: Instant,
}

/// Per-key exponential back-off.
#[derive(Default)]
pub struct Backoff {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Backoff {
    /// How long `key` must still wait at `now`, if it is backing off.
    pub fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().expect("backoff lock");
        let e = entries.get(key)?;
        let since = now.saturating_duration_since(e.last_update);
        (since < e.delay).then(|| e.delay - since)
    }

    /// Record an attempt for `key` at `now`: the next one waits twice as long as the last
    /// (the first [`INITIAL`]).
    pub fn next(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().expect("backoff lock");
        entries.retain(|_, e| now.saturating_duration_since(e.last_update) <= 2 * MAX);
        let delay = match entries.get(key) {
            Some(e) => (e.delay * 2).min(MAX),
            None => INITIAL,
        };
        entries.insert(
            key.to_string(),
            Entry {
                delay,
                last_update: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second() {
        let b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(
            b.remaining("k", t0),
            None,
            "the first failure is not delayed"
        );
        b.next("k", t0);
        assert_eq!(b.remaining("k", t0), Some(INITIAL));
        let t1 = t0 + INITIAL;
        assert_eq!(b.remaining("k", t1), None);
        b.next("k", t1);
        assert_eq!(
            b.remaining("k", t1 + Duration::from_millis(500)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(b.remaining("other", t1), None);
    }

    #[test]
    fn an_idle_key_starts_over() {
        let b = Backoff::default();
        let t0 = Instant::now();
        for i in 0..5 {
            b.next("k", t0 + Duration::from_secs(i));
        }
        let later = t0 + 3 * MAX;
        b.next("k", later);
        assert_eq!(b.remaining("k", later), Some(INITIAL));
    }
}
