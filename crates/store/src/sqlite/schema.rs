//! The on-disk layout: connection settings, tables and the persisted counters.
//!
//! * `log` holds one row per revision: the key, the value written (for a delete, the value that
//!   was deleted), the key's create revision, the revision it replaced and a deleted flag. It is
//!   the history that old reads and watch replays are served from, until compaction trims it.
//! * `current` holds one row per live key: its mod revision (pointing into `log` for the value),
//!   create revision and expiry. It makes "every key under a prefix, now" an index range scan.
//! * `meta` holds the counters that must survive a restart: the last revision handed out (so a
//!   revision is never reused, even when its log row was compacted away), the compacted revision
//!   and how far compaction has physically deleted rows.

use super::error::{Context, backend};
use crate::{Result, Revision};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::time::Duration;

/// Version of the layout below; a file written by a newer layout is refused.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Names of the rows in the `meta` table.
pub(crate) mod meta {
    /// The last revision handed out.
    pub(crate) const REVISION: &str = "revision";
    /// Reads and watches older than this fail with `Compacted`.
    pub(crate) const COMPACTED: &str = "compacted";
    /// History rows at or before this revision have been physically removed.
    pub(crate) const COMPACT_PROGRESS: &str = "compact_progress";
    /// The layout version the file was created with.
    pub(crate) const SCHEMA_VERSION: &str = "schema_version";
}

const DDL: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS log (
    revision        INTEGER PRIMARY KEY,
    key             BLOB    NOT NULL,
    value           BLOB    NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    deleted         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);

CREATE TABLE IF NOT EXISTS current (
    key             BLOB    PRIMARY KEY,
    mod_revision    INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    expires_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_expires_at ON current (expires_at)
    WHERE expires_at IS NOT NULL;
";

/// Settings for the one connection that writes: WAL so readers never block the writer, and
/// `synchronous=FULL` so a commit is on disk (WAL fsynced) before the write is acknowledged.
pub(crate) fn configure_writer(conn: &Connection, busy_timeout: Duration) -> Result<()> {
    conn.busy_timeout(busy_timeout)
        .context("set busy timeout on the write connection")?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context("switch the database to WAL mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(backend(
            "switch the database to WAL mode",
            format!("journal mode stayed {mode}"),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .context("set synchronous=FULL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Settings for read connections: they wait on a busy database rather than fail, and they
/// cannot write by mistake.
pub(crate) fn configure_reader(conn: &Connection, busy_timeout: Duration) -> Result<()> {
    conn.busy_timeout(busy_timeout)
        .context("set busy timeout on a read connection")?;
    conn.pragma_update(None, "query_only", true)
        .context("make a read connection query-only")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Creates the tables if they are missing and checks the layout version.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("begin schema transaction")?;
    tx.execute_batch(DDL).context("create tables")?;
    let version: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE name = ?1",
            [meta::SCHEMA_VERSION],
            |r| r.get(0),
        )
        .optional()
        .context("read schema version")?;
    match version {
        None => {
            for (name, value) in [
                (meta::SCHEMA_VERSION, SCHEMA_VERSION),
                (meta::REVISION, 0),
                (meta::COMPACTED, 0),
                (meta::COMPACT_PROGRESS, 0),
            ] {
                set_meta(&tx, name, value).with_context(|| format!("initialise meta {name}"))?;
            }
        }
        Some(v) if v > SCHEMA_VERSION => {
            return Err(backend(
                "open store",
                format!(
                    "file has schema version {v}, this rkube understands up to {SCHEMA_VERSION}"
                ),
            ));
        }
        Some(_) => {}
    }
    tx.commit().context("commit schema transaction")
}

/// The persisted counters, as read when the store opens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) revision: Revision,
    pub(crate) compacted: Revision,
    pub(crate) compact_progress: Revision,
}

/// Reads the persisted counters.
pub(crate) fn load_counters(conn: &Connection) -> Result<Counters> {
    Ok(Counters {
        revision: get_meta(conn, meta::REVISION).context("read current revision")?,
        compacted: get_meta(conn, meta::COMPACTED).context("read compacted revision")?,
        compact_progress: get_meta(conn, meta::COMPACT_PROGRESS)
            .context("read compaction progress")?,
    })
}

/// One `meta` counter.
pub(crate) fn get_meta(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}

/// Sets one `meta` counter.
pub(crate) fn set_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")?
        .execute(rusqlite::params![name, value])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_settings_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
        configure_writer(&conn, Duration::from_secs(1)).unwrap();
        migrate(&mut conn).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // 2 = FULL: the WAL is fsynced at every commit.
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2);
        let c = load_counters(&conn).unwrap();
        assert_eq!((c.revision, c.compacted, c.compact_progress), (0, 0, 0));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
        migrate(&mut conn).unwrap();
        set_meta(&conn, meta::SCHEMA_VERSION, SCHEMA_VERSION + 1).unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("schema version"), "{err}");
    }
}
