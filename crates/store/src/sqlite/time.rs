//! Wall-clock helpers for key expiry.
//!
//! Expiry times are stored as Unix milliseconds so that they survive a restart: a key created
//! with a one-hour TTL still expires an hour after its write, whenever the process restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it; saturates far in the future).
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// When a key written at `now` with `ttl` expires (`None`: never).
pub(crate) fn expires_at(now: i64, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
}

/// Whether a key with this expiry time is gone at `now`.
pub(crate) fn is_expired(expires_at: Option<i64>, now: i64) -> bool {
    matches!(expires_at, Some(at) if at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_arithmetic_saturates_and_compares() {
        assert_eq!(expires_at(1_000, None), None);
        assert_eq!(
            expires_at(1_000, Some(Duration::from_millis(500))),
            Some(1_500)
        );
        assert_eq!(expires_at(1_000, Some(Duration::MAX)), Some(i64::MAX));
        assert!(is_expired(Some(1_000), 1_000));
        assert!(!is_expired(Some(1_001), 1_000));
        assert!(!is_expired(None, i64::MAX));
        assert!(now_millis() > 1_600_000_000_000);
    }
}
