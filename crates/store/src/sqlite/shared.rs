//! State shared by the store handle, the writer thread and watch streams.
//!
//! Watch streams hold this (not the store handle) so that dropping the last store handle
//! still shuts the writer down; the streams then end because the event hub closes.

use super::pool::ReadPool;
use super::watch::EventBatch;
use crate::Revision;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// What every part of an open store can see.
pub(crate) struct Shared {
    /// Read connections.
    pub(crate) pool: Arc<ReadPool>,
    /// Live event fan-out; `None` once the store closed, which ends every watch.
    hub: Mutex<Option<broadcast::Sender<Arc<EventBatch>>>>,
    /// The last committed revision. Updated by the writer after commit, before publishing.
    current: AtomicI64,
    /// The compacted revision, updated by the writer after the compaction mark commits.
    compacted: AtomicI64,
    /// Set by `close()`; new operations then fail with `Closed`.
    closed: AtomicBool,
    /// How many events a watch replay reads from the log per query.
    pub(crate) replay_page: usize,
}

impl Shared {
    /// State for a store whose counters were loaded from disk.
    pub(crate) fn new(
        pool: ReadPool,
        hub_capacity: usize,
        current: Revision,
        compacted: Revision,
        replay_page: usize,
    ) -> Self {
        let (hub, _) = broadcast::channel(hub_capacity.max(1));
        Self {
            pool: Arc::new(pool),
            hub: Mutex::new(Some(hub)),
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            closed: AtomicBool::new(false),
            replay_page: replay_page.max(1),
        }
    }

    /// The last committed revision.
    pub(crate) fn current(&self) -> Revision {
        self.current.load(Ordering::SeqCst)
    }

    /// Records a commit (writer only).
    pub(crate) fn set_current(&self, revision: Revision) {
        self.current.store(revision, Ordering::SeqCst);
    }

    /// The compacted revision.
    pub(crate) fn compacted(&self) -> Revision {
        self.compacted.load(Ordering::SeqCst)
    }

    /// Records a committed compaction (writer only).
    pub(crate) fn set_compacted(&self, revision: Revision) {
        self.compacted.store(revision, Ordering::SeqCst);
    }

    /// Whether `close()` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Marks the store closed.
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// A receiver of every batch published from now on; `None` once closed.
    pub(crate) fn subscribe(&self) -> Option<broadcast::Receiver<Arc<EventBatch>>> {
        self.hub
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.subscribe())
    }

    /// Hands a committed batch to live watchers (writer only).
    pub(crate) fn publish(&self, batch: Arc<EventBatch>) {
        if let Some(hub) = self.hub.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // An error only means nobody is watching.
            let _ = hub.send(batch);
        }
    }

    /// Closes the hub: watchers drain what they have and end.
    pub(crate) fn close_hub(&self) {
        self.hub.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
