//! Automatic compaction, the way the Kubernetes API server drives etcd.
//!
//! Upstream compacts every five minutes to the revision it saw at the previous tick, so at
//! least one interval of history is always kept: enough for watchers that reconnect after a
//! short break to resume without a full relist. [`spawn_compactor`] does the same against any
//! [`Store`], optionally keeping a minimum number of revisions as well.

use crate::{Revision, Store, StoreError};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

/// When and how far to compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Time between compactions; history younger than one interval is always kept.
    pub interval: Duration,
    /// Revisions always kept behind the current one, however old they are.
    pub min_retained_revisions: Revision,
}

impl Default for CompactionPolicy {
    /// Upstream's default: every five minutes, no revision floor.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            min_retained_revisions: 0,
        }
    }
}

/// The revision to compact to at a tick, if any: the revision current at the previous tick,
/// held back by `min_retained` revisions, and only if it moves the compacted revision forward.
pub fn compaction_target(
    previous_tick: Revision,
    current: Revision,
    compacted: Revision,
    min_retained: Revision,
) -> Option<Revision> {
    let target = previous_tick.min(current.saturating_sub(min_retained.max(0)));
    (target > compacted && target > 0).then_some(target)
}

/// Starts compacting `store` in the background according to `policy`, on the current tokio
/// runtime. The task holds only a weak reference: it stops by itself once the store is dropped
/// or closed, or when the returned handle is aborted.
pub fn spawn_compactor<S: Store + ?Sized>(
    store: &Arc<S>,
    policy: CompactionPolicy,
) -> JoinHandle<()> {
    let store: Weak<S> = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(policy.interval.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut previous: Option<Revision> = None;
        loop {
            ticker.tick().await;
            let Some(store) = store.upgrade() else { return };
            match tick(&*store, previous, policy).await {
                Ok(current) => previous = Some(current),
                Err(StoreError::Closed) => return,
                Err(err) => tracing::warn!(%err, "automatic compaction failed"),
            }
        }
    })
}

/// One compaction tick; returns the current revision to remember for the next one.
async fn tick<S: Store + ?Sized>(
    store: &S,
    previous: Option<Revision>,
    policy: CompactionPolicy,
) -> Result<Revision, StoreError> {
    let current = store.current_revision().await?;
    if let Some(previous) = previous {
        let compacted = store.compacted_revision().await?;
        if let Some(target) =
            compaction_target(previous, current, compacted, policy.min_retained_revisions)
        {
            match store.compact(target).await {
                // Someone else compacted further meanwhile: fine.
                Ok(()) | Err(StoreError::Compacted { .. }) => {
                    tracing::debug!(target, "compacted store history");
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_keeps_one_interval_and_the_revision_floor() {
        // Nothing the first time round or when nothing changed.
        assert_eq!(compaction_target(0, 10, 0, 0), None);
        assert_eq!(compaction_target(10, 10, 10, 0), None);
        // The previous tick's revision, not the current one.
        assert_eq!(compaction_target(10, 50, 0, 0), Some(10));
        // Held back by the floor.
        assert_eq!(compaction_target(40, 50, 0, 20), Some(30));
        assert_eq!(compaction_target(40, 50, 30, 20), None);
        assert_eq!(compaction_target(40, 50, 0, 100), None);
    }
}
