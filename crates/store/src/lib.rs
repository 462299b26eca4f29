//! rkube's revisioned key-value store: the etcd data model behind one trait.
//!
//! Every write gets the next cluster-wide revision. Readers can range over a key prefix at any
//! revision that has not been compacted, writers guard updates and deletes with the key's mod
//! revision (compare-and-swap), and watchers receive every change under a prefix, in revision
//! order, from any retained revision on. Keys may carry a time to live (Events expire after an
//! hour). This is exactly what the API server needs from etcd, so an etcd backend can implement
//! [`Store`] without any caller changing.
//!
//! The embedded backend is [`sqlite::SqliteStore`]: one SQLite file (WAL), with group commit so
//! concurrent writers share a transaction and an fsync.

pub mod compactor;
pub mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::time::Duration;

/// A store revision. Revision 0 never holds data; the first write is revision 1 or later.
pub type Revision = i64;

/// A key with its value and revisions, as etcd's `mvccpb.KeyValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision that created the key (since it last did not exist).
    pub create_revision: Revision,
    /// The revision of the last write to the key.
    pub mod_revision: Revision,
}

/// A range read: keys in `[start, end)` at `revision`.
#[derive(Debug, Clone, Default)]
pub struct RangeRequest {
    /// First key (inclusive). For a prefix scan, the prefix itself, or the key to continue from.
    pub start: String,
    /// Key after the last one (exclusive); see [`prefix_end`].
    pub end: String,
    /// At most this many keys (0: no limit).
    pub limit: usize,
    /// Read at this revision (0: the current one).
    pub revision: Revision,
}

impl RangeRequest {
    /// Every key under `prefix`, at the current revision.
    pub fn prefix(prefix: &str) -> Self {
        Self {
            start: prefix.to_string(),
            end: prefix_end(prefix),
            limit: 0,
            revision: 0,
        }
    }
}

/// The answer to a [`RangeRequest`].
#[derive(Debug, Clone, Default)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// More keys exist in the range beyond `limit`.
    pub more: bool,
    /// How many keys remain after those returned (etcd's `count - len(kvs)`), for `remainingItemCount`.
    pub remaining: u64,
    /// The revision the read was served at.
    pub revision: Revision,
}

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created (it did not exist before this revision).
    Create,
    /// An existing key got a new value.
    Update,
    /// The key was deleted (explicitly, or because its TTL ran out).
    Delete,
}

/// One change, delivered to watchers in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The key after the change; for a delete, the key as it was deleted, with `mod_revision` set
    /// to the deleting revision and the value it had before.
    pub kv: KeyValue,
    /// The previous value, for updates and deletes.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// What a write failed on.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Create of a key that exists.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// Update or delete of a key that does not exist.
    #[error("key {0} not found")]
    NotFound(String),
    /// The guard failed: the key's mod revision is not the one given. Carries the current value.
    #[error("key {key} was modified (now at revision {})", current.mod_revision)]
    Conflict { key: String, current: Box<KeyValue> },
    /// A read or watch asked for a revision older than the compacted one.
    #[error("revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// A read asked for a revision newer than the store has.
    #[error("revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// The backend failed (I/O, corruption, lost connection).
    #[error("store backend: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of watch events. It ends with an error item (e.g. [`StoreError::Compacted`] when a
/// slow watcher falls too far behind) or when the store closes.
pub type WatchStream = BoxStream<'static, Result<Event>>;

/// The etcd data model. Implemented by the SQLite backend and (later) an etcd client.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The key at the current revision, if it exists.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys in a range at a revision, in key order.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse>;

    /// Create `key` if it does not exist. Returns the new revision.
    async fn create(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<Revision>;

    /// Replace `key`'s value if its mod revision is `expected` (0: unconditionally, but the key
    /// must exist). Returns the new revision.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        ttl: Option<Duration>,
    ) -> Result<Revision>;

    /// Delete `key` if its mod revision is `expected` (0: unconditionally). Returns the deleting
    /// revision and the value that was deleted.
    async fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue)>;

    /// Every change to keys starting with `prefix` after revision `after` (0: from now on), in
    /// revision order.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// The current revision (that of the last write).
    async fn current_revision(&self) -> Result<Revision>;

    /// Forget history at and before `revision` (keys' latest values stay). Reads and watches
    /// older than it then fail with [`StoreError::Compacted`].
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The revision compacted up to (0: none).
    async fn compacted_revision(&self) -> Result<Revision>;
}

/// The smallest key greater than every key starting with `prefix` (etcd's `clientv3.GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            // Keys are ASCII paths, so this stays valid UTF-8 in practice; fall back to a
            // maximal key otherwise.
            return String::from_utf8(bytes).unwrap_or_else(|_| "\u{10FFFF}".to_string());
        }
    }
    "\u{10FFFF}".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/registry/pods/"), "/registry/pods0");
        assert_eq!(prefix_end("a"), "b");
    }
}
