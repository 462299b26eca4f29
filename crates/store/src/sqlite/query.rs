//! Read queries: get, range at a revision, and log pages for watch replay.
//!
//! Each multi-statement read runs in one read transaction, so it sees one WAL snapshot: the
//! revision counters and the rows it returns belong to the same committed state, whatever the
//! writer does meanwhile.

use super::error::{Context, backend};
use super::events;
use super::schema::{get_meta, meta};
use super::span::KeySpan;
use super::time::is_expired;
use crate::{Event, KeyValue, RangeRequest, RangeResponse, Result, Revision, StoreError};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

/// Decodes a stored key (always written from a `&str`).
pub(crate) fn key_string(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| backend("decode stored key", e))
}

/// The key's current value, unless it does not exist or its TTL ran out.
pub(crate) fn get_current(conn: &Connection, key: &str, now: i64) -> Result<Option<KeyValue>> {
    let row = conn
        .prepare_cached(
            "SELECT c.mod_revision, c.create_revision, c.expires_at, l.value
             FROM current c JOIN log l ON l.revision = c.mod_revision
             WHERE c.key = ?1",
        )
        .context("prepare get")?
        .query_row([key.as_bytes()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .optional()
        .with_context(|| format!("get {key}"))?;
    Ok(
        row.and_then(|(mod_revision, create_revision, expires_at, value)| {
            (!is_expired(expires_at, now)).then(|| KeyValue {
                key: key.to_string(),
                value: Bytes::from(value),
                create_revision,
                mod_revision,
            })
        }),
    )
}

/// The revision counters of one snapshot.
struct Snapshot {
    current: Revision,
    compacted: Revision,
}

fn snapshot(tx: &Transaction<'_>) -> Result<Snapshot> {
    Ok(Snapshot {
        current: get_meta(tx, meta::REVISION).context("read current revision")?,
        compacted: get_meta(tx, meta::COMPACTED).context("read compacted revision")?,
    })
}

fn read_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Deferred)
        .context("begin read transaction")
}

/// SQLite's LIMIT for "`limit` rows plus one to learn whether there are more" (-1: no limit).
fn sql_limit(limit: usize) -> i64 {
    if limit == 0 {
        return -1;
    }
    i64::try_from(limit)
        .ok()
        .and_then(|l| l.checked_add(1))
        .unwrap_or(-1)
}

/// Keys in a range at a revision, with `more`/`remaining` for paging.
pub(crate) fn range(conn: &mut Connection, req: &RangeRequest, now: i64) -> Result<RangeResponse> {
    let span = KeySpan::from_request(&req.start, &req.end);
    let tx = read_tx(conn)?;
    let snap = snapshot(&tx)?;
    let at = if req.revision <= 0 {
        snap.current
    } else {
        req.revision
    };
    if at > snap.current {
        return Err(StoreError::FutureRevision {
            requested: at,
            current: snap.current,
        });
    }
    if at < snap.compacted {
        return Err(StoreError::Compacted {
            requested: at,
            compacted: snap.compacted,
        });
    }
    // The newest revision is served from `current` (fast, and hides keys whose TTL ran out but
    // that the sweeper has not deleted yet); older ones from the log.
    let latest = at == snap.current;
    let mut kvs = if latest {
        range_current(&tx, &span, sql_limit(req.limit), now)?
    } else {
        range_history(&tx, &span, at, sql_limit(req.limit))?
    };
    let mut remaining = 0;
    let more = req.limit > 0 && kvs.len() > req.limit;
    if more {
        kvs.truncate(req.limit);
        if let Some(last) = kvs.last() {
            let after = KeySpan {
                start: last.key.as_bytes().to_vec(),
                end: span.end.clone(),
            };
            remaining = if latest {
                count_current(&tx, &after, now)?
            } else {
                count_history(&tx, &after, at)?
            };
        }
    }
    tx.finish().context("end read transaction")?;
    Ok(RangeResponse {
        kvs,
        more,
        remaining,
        revision: at,
    })
}

fn kv_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, Vec<u8>, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn collect_kvs(
    rows: impl Iterator<Item = rusqlite::Result<(Vec<u8>, Vec<u8>, i64, i64)>>,
) -> Result<Vec<KeyValue>> {
    rows.map(|row| {
        let (key, value, create_revision, mod_revision) = row.context("read range row")?;
        Ok(KeyValue {
            key: key_string(key)?,
            value: Bytes::from(value),
            create_revision,
            mod_revision,
        })
    })
    .collect()
}

fn range_current(
    tx: &Transaction<'_>,
    span: &KeySpan,
    limit: i64,
    now: i64,
) -> Result<Vec<KeyValue>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT c.key, l.value, c.create_revision, c.mod_revision
             FROM current c JOIN log l ON l.revision = c.mod_revision
             WHERE c.key >= ?1 AND c.key < ?2 AND (c.expires_at IS NULL OR c.expires_at > ?3)
             ORDER BY c.key LIMIT ?4",
        )
        .context("prepare range")?;
    let rows = stmt
        .query_map(params![span.start, span.end, now, limit], kv_from_row)
        .context("range")?;
    collect_kvs(rows)
}

fn range_history(
    tx: &Transaction<'_>,
    span: &KeySpan,
    at: Revision,
    limit: i64,
) -> Result<Vec<KeyValue>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT l.key, l.value, l.create_revision, l.revision
             FROM (SELECT key, max(revision) AS rev FROM log
                   WHERE key >= ?1 AND key < ?2 AND revision <= ?3 GROUP BY key) AS latest
             JOIN log l ON l.revision = latest.rev
             WHERE l.deleted = 0
             ORDER BY latest.key LIMIT ?4",
        )
        .context("prepare range at revision")?;
    let rows = stmt
        .query_map(params![span.start, span.end, at, limit], kv_from_row)
        .context("range at revision")?;
    collect_kvs(rows)
}

/// Live keys strictly after `span.start` and before `span.end`.
fn count_current(tx: &Transaction<'_>, span: &KeySpan, now: i64) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM current
             WHERE key > ?1 AND key < ?2 AND (expires_at IS NULL OR expires_at > ?3)",
        )
        .context("prepare range count")?
        .query_row(params![span.start, span.end, now], |r| r.get(0))
        .context("count remaining keys")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Keys alive at `at` strictly after `span.start` and before `span.end`.
fn count_history(tx: &Transaction<'_>, span: &KeySpan, at: Revision) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached(
            "SELECT count(*)
             FROM (SELECT max(revision) AS rev FROM log
                   WHERE key > ?1 AND key < ?2 AND revision <= ?3 GROUP BY key) AS latest
             JOIN log l ON l.revision = latest.rev
             WHERE l.deleted = 0",
        )
        .context("prepare range count at revision")?
        .query_row(params![span.start, span.end, at], |r| r.get(0))
        .context("count remaining keys at revision")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Events read back from the log for a watch replay.
#[derive(Debug)]
pub(crate) struct HistoryPage {
    /// Matching events, in revision order.
    pub(crate) events: Vec<Event>,
    /// Every change up to this revision has been looked at (delivered in `events` or filtered).
    pub(crate) scanned_to: Revision,
    /// Whether the page reached the snapshot's current revision (nothing more to replay).
    pub(crate) complete: bool,
}

/// Up to `page` events under `span` with revisions after `after`, from one snapshot.
pub(crate) fn history_page(
    conn: &mut Connection,
    span: &KeySpan,
    after: Revision,
    page: usize,
) -> Result<HistoryPage> {
    let tx = read_tx(conn)?;
    let snap = snapshot(&tx)?;
    if after < snap.compacted {
        return Err(StoreError::Compacted {
            requested: after.saturating_add(1),
            compacted: snap.compacted,
        });
    }
    let limit = i64::try_from(page).unwrap_or(i64::MAX);
    let mut stmt = tx
        .prepare_cached(
            "SELECT l.revision, l.key, l.value, l.create_revision, l.prev_revision, l.deleted, p.value
             FROM log l LEFT JOIN log p ON l.deleted = 0 AND l.prev_revision > 0 AND p.revision = l.prev_revision
             WHERE l.revision > ?1 AND l.revision <= ?2 AND l.key >= ?3 AND l.key < ?4
             ORDER BY l.revision LIMIT ?5",
        )
        .context("prepare watch replay")?;
    let rows = stmt
        .query_map(
            params![after, snap.current, span.start, span.end, limit],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, Option<Vec<u8>>>(6)?,
                ))
            },
        )
        .context("watch replay")?;
    let mut events = Vec::new();
    for row in rows {
        let (revision, key, value, create_revision, prev_revision, deleted, prev_value) =
            row.context("read watch replay row")?;
        let key = key_string(key)?;
        let value = Bytes::from(value);
        events.push(if deleted {
            events::deleted(key, value, create_revision, revision, prev_revision)
        } else if prev_revision == 0 {
            events::created(key, value, revision)
        } else {
            let prev = prev_value.map(|v| (Bytes::from(v), prev_revision));
            events::updated(key, value, create_revision, revision, prev)
        });
    }
    drop(stmt);
    tx.finish().context("end read transaction")?;
    let complete = events.len() < page;
    let scanned_to = match events.last() {
        Some(last) if !complete => last.revision(),
        _ => snap.current.max(after),
    };
    Ok(HistoryPage {
        events,
        scanned_to,
        complete,
    })
}
