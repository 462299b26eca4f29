//! Building watch events, the same way for live fan-out and for log replay.
//!
//! A watcher must not be able to tell whether an event came from the writer right after commit
//! or was read back from the log later, so both paths build events only through these helpers.

use crate::{Event, EventKind, KeyValue, Revision};
use bytes::Bytes;

/// `key` was created at `revision` with `value`.
pub(crate) fn created(key: String, value: Bytes, revision: Revision) -> Event {
    Event {
        kind: EventKind::Create,
        kv: KeyValue {
            key,
            value,
            create_revision: revision,
            mod_revision: revision,
        },
        prev: None,
    }
}

/// `key` (created at `create_revision`) got `value` at `revision`, replacing `prev_value`
/// written at `prev_revision`.
pub(crate) fn updated(
    key: String,
    value: Bytes,
    create_revision: Revision,
    revision: Revision,
    prev: Option<(Bytes, Revision)>,
) -> Event {
    let prev = prev.map(|(value, mod_revision)| KeyValue {
        key: key.clone(),
        value,
        create_revision,
        mod_revision,
    });
    Event {
        kind: EventKind::Update,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: revision,
        },
        prev,
    }
}

/// `key`, holding `value` since `prev_revision`, was deleted at `revision`. The event's `kv`
/// carries the deleted value with the deleting revision; `prev` is the key as it was.
pub(crate) fn deleted(
    key: String,
    value: Bytes,
    create_revision: Revision,
    revision: Revision,
    prev_revision: Revision,
) -> Event {
    Event {
        kind: EventKind::Delete,
        prev: Some(KeyValue {
            key: key.clone(),
            value: value.clone(),
            create_revision,
            mod_revision: prev_revision,
        }),
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: revision,
        },
    }
}
