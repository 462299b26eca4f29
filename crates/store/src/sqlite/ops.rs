//! The mutations one write makes inside the writer's batch transaction.
//!
//! Each function checks its guard against the current row first and touches nothing when the
//! guard fails, so a failed write leaves no trace in the batch. Successful writes take the next
//! revision from [`Staged`] and record the event they produce there.

use super::error::{Context, backend};
use super::events;
use super::time::{expires_at, is_expired};
use crate::{Event, KeyValue, Result, Revision, StoreError};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use std::time::Duration;

/// A write as requested by a caller.
#[derive(Debug)]
pub(crate) enum WriteOp {
    Create {
        key: String,
        value: Bytes,
        ttl: Option<Duration>,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
        ttl: Option<Duration>,
    },
    Delete {
        key: String,
        expected: Revision,
    },
}

impl WriteOp {
    /// The key the write is about.
    pub(crate) fn key(&self) -> &str {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// What a successful write answers.
#[derive(Debug)]
pub(crate) enum WriteOutcome {
    /// Create or update: the new revision.
    Written(Revision),
    /// Delete: the deleting revision and the key as it was.
    Deleted(Revision, KeyValue),
}

/// Revisions and events of the writes applied so far in the batch.
pub(crate) struct Staged {
    /// The last revision handed out.
    pub(crate) revision: Revision,
    /// Events of the applied writes, in revision order.
    pub(crate) events: Vec<Event>,
    /// Wall-clock time of the batch (Unix ms), for expiry.
    pub(crate) now: i64,
}

impl Staged {
    fn next_revision(&mut self) -> Result<Revision> {
        self.revision = self
            .revision
            .checked_add(1)
            .ok_or_else(|| backend("assign revision", "revision counter overflow"))?;
        Ok(self.revision)
    }
}

/// A live key's row in `current`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CurrentRow {
    pub(crate) mod_revision: Revision,
    pub(crate) create_revision: Revision,
    pub(crate) expires_at: Option<i64>,
}

impl CurrentRow {
    /// Whether the key's TTL ran out at `now`.
    pub(crate) fn expired(&self, now: i64) -> bool {
        is_expired(self.expires_at, now)
    }
}

/// The key's row in `current`, if any (expired or not).
pub(crate) fn load_current(conn: &Connection, key: &str) -> Result<Option<CurrentRow>> {
    conn.prepare_cached(
        "SELECT mod_revision, create_revision, expires_at FROM current WHERE key = ?1",
    )
    .context("prepare current row lookup")?
    .query_row([key.as_bytes()], |r| {
        Ok(CurrentRow {
            mod_revision: r.get(0)?,
            create_revision: r.get(1)?,
            expires_at: r.get(2)?,
        })
    })
    .optional()
    .with_context(|| format!("look up current row of {key}"))
}

fn load_value(conn: &Connection, key: &str, revision: Revision) -> Result<Bytes> {
    let value: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM log WHERE revision = ?1")
        .context("prepare value lookup")?
        .query_row([revision], |r| r.get(0))
        .optional()
        .with_context(|| format!("read value of {key} at revision {revision}"))?;
    value.map(Bytes::from).ok_or_else(|| {
        backend(
            format!("read value of {key}"),
            format!("log row {revision} is missing"),
        )
    })
}

fn current_kv(conn: &Connection, key: &str, row: &CurrentRow) -> Result<KeyValue> {
    Ok(KeyValue {
        key: key.to_string(),
        value: load_value(conn, key, row.mod_revision)?,
        create_revision: row.create_revision,
        mod_revision: row.mod_revision,
    })
}

fn insert_log(
    conn: &Connection,
    revision: Revision,
    key: &str,
    value: &[u8],
    create_revision: Revision,
    prev_revision: Revision,
    deleted: bool,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, prev_revision, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .context("prepare log insert")?
    .execute(params![
        revision,
        key.as_bytes(),
        value,
        create_revision,
        prev_revision,
        deleted
    ])
    .with_context(|| format!("append revision {revision} for {key}"))?;
    Ok(())
}

fn put_current(
    conn: &Connection,
    key: &str,
    mod_revision: Revision,
    create_revision: Revision,
    expires_at: Option<i64>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO current (key, mod_revision, create_revision, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET mod_revision = excluded.mod_revision,
             create_revision = excluded.create_revision, expires_at = excluded.expires_at",
    )
    .context("prepare current upsert")?
    .execute(params![key.as_bytes(), mod_revision, create_revision, expires_at])
    .with_context(|| format!("set current row of {key}"))?;
    Ok(())
}

fn remove_current(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM current WHERE key = ?1")
        .context("prepare current delete")?
        .execute([key.as_bytes()])
        .with_context(|| format!("remove current row of {key}"))?;
    Ok(())
}

/// Applies one write whose key is known not to be expired (see [`expire`]).
pub(crate) fn apply(conn: &Connection, staged: &mut Staged, op: WriteOp) -> Result<WriteOutcome> {
    match op {
        WriteOp::Create { key, value, ttl } => create(conn, staged, key, value, ttl),
        WriteOp::Update {
            key,
            value,
            expected,
            ttl,
        } => update(conn, staged, key, value, expected, ttl),
        WriteOp::Delete { key, expected } => delete(conn, staged, key, expected),
    }
}

fn create(
    conn: &Connection,
    staged: &mut Staged,
    key: String,
    value: Bytes,
    ttl: Option<Duration>,
) -> Result<WriteOutcome> {
    if load_current(conn, &key)?.is_some() {
        return Err(StoreError::AlreadyExists(key));
    }
    let revision = staged.next_revision()?;
    insert_log(conn, revision, &key, &value, revision, 0, false)?;
    put_current(conn, &key, revision, revision, expires_at(staged.now, ttl))?;
    staged.events.push(events::created(key, value, revision));
    Ok(WriteOutcome::Written(revision))
}

/// The current row of `key`, checked against the caller's expected mod revision.
fn guarded(conn: &Connection, key: &str, expected: Revision) -> Result<CurrentRow> {
    let row = load_current(conn, key)?.ok_or_else(|| StoreError::NotFound(key.to_string()))?;
    if expected != 0 && expected != row.mod_revision {
        return Err(StoreError::Conflict {
            key: key.to_string(),
            current: Box::new(current_kv(conn, key, &row)?),
        });
    }
    Ok(row)
}

fn update(
    conn: &Connection,
    staged: &mut Staged,
    key: String,
    value: Bytes,
    expected: Revision,
    ttl: Option<Duration>,
) -> Result<WriteOutcome> {
    let row = guarded(conn, &key, expected)?;
    let prev_value = load_value(conn, &key, row.mod_revision)?;
    let revision = staged.next_revision()?;
    insert_log(
        conn,
        revision,
        &key,
        &value,
        row.create_revision,
        row.mod_revision,
        false,
    )?;
    put_current(
        conn,
        &key,
        revision,
        row.create_revision,
        expires_at(staged.now, ttl),
    )?;
    staged.events.push(events::updated(
        key,
        value,
        row.create_revision,
        revision,
        Some((prev_value, row.mod_revision)),
    ));
    Ok(WriteOutcome::Written(revision))
}

fn delete(
    conn: &Connection,
    staged: &mut Staged,
    key: String,
    expected: Revision,
) -> Result<WriteOutcome> {
    let row = guarded(conn, &key, expected)?;
    remove(conn, staged, key, row)
}

/// Deletes a key whose TTL ran out, through the same path as an explicit delete.
pub(crate) fn expire(
    conn: &Connection,
    staged: &mut Staged,
    key: String,
    row: CurrentRow,
) -> Result<Revision> {
    match remove(conn, staged, key, row)? {
        WriteOutcome::Deleted(revision, _) | WriteOutcome::Written(revision) => Ok(revision),
    }
}

fn remove(
    conn: &Connection,
    staged: &mut Staged,
    key: String,
    row: CurrentRow,
) -> Result<WriteOutcome> {
    let value = load_value(conn, &key, row.mod_revision)?;
    let revision = staged.next_revision()?;
    insert_log(
        conn,
        revision,
        &key,
        &value,
        row.create_revision,
        row.mod_revision,
        true,
    )?;
    remove_current(conn, &key)?;
    let was = KeyValue {
        key: key.clone(),
        value: value.clone(),
        create_revision: row.create_revision,
        mod_revision: row.mod_revision,
    };
    staged.events.push(events::deleted(
        key,
        value,
        row.create_revision,
        revision,
        row.mod_revision,
    ));
    Ok(WriteOutcome::Deleted(revision, was))
}

/// Keys whose TTL ran out by `now`, soonest first, at most `limit`.
pub(crate) fn expired_keys(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<(String, CurrentRow)>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, mod_revision, create_revision, expires_at FROM current
             WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        )
        .context("prepare expiry scan")?;
    let rows = stmt
        .query_map(params![now, limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                CurrentRow {
                    mod_revision: r.get(1)?,
                    create_revision: r.get(2)?,
                    expires_at: r.get(3)?,
                },
            ))
        })
        .context("scan expired keys")?;
    rows.map(|row| {
        let (key, current) = row.context("read expired key")?;
        Ok((super::query::key_string(key)?, current))
    })
    .collect()
}

/// Validates a compaction request against the batch's view of the counters.
pub(crate) fn check_compaction(
    revision: Revision,
    current: Revision,
    compacted: Revision,
) -> Result<()> {
    if revision > current {
        return Err(StoreError::FutureRevision {
            requested: revision,
            current,
        });
    }
    if revision <= compacted {
        return Err(StoreError::Compacted {
            requested: revision,
            compacted,
        });
    }
    Ok(())
}

/// Physically removes history rows in `(from, to]` that are not needed for reads at or after
/// `compacted`: rows superseded by a later write at or before `compacted`, and tombstones.
/// Returns how many rows were removed.
pub(crate) fn purge_history(
    conn: &Connection,
    from: Revision,
    to: Revision,
    compacted: Revision,
) -> Result<usize> {
    conn.prepare_cached(
        "DELETE FROM log
         WHERE revision > ?1 AND revision <= ?2
           AND (deleted = 1 OR EXISTS (SELECT 1 FROM log AS newer
                                       WHERE newer.key = log.key
                                         AND newer.revision > log.revision
                                         AND newer.revision <= ?3))",
    )
    .context("prepare history purge")?
    .execute(params![from, to, compacted])
    .with_context(|| format!("purge history in revisions ({from}, {to}]"))
}
