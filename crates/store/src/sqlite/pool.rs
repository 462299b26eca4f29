//! A small pool of read connections.
//!
//! In WAL mode readers never block the writer nor each other, so reads (get, range, watch
//! replay) each borrow their own connection and run concurrently on blocking threads. Idle
//! connections are kept for reuse, up to a bound, because opening one re-reads the schema.

use super::error::Context;
use super::schema;
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Read connections to one database file.
pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for `path` that keeps up to `max_idle` idle connections.
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Self {
        Self {
            path,
            busy_timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<Connection> {
        // No CREATE flag: the writer created the file; a missing file is an error, not a new store.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)
            .with_context(|| format!("open read connection to {}", self.path.display()))?;
        schema::configure_reader(&conn, self.busy_timeout)?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection. Blocking: call it from a blocking thread.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&mut conn);
        // A connection left inside a transaction (a bug or an error path) would pin an old
        // snapshot and stop WAL checkpoints; drop it rather than reuse it.
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        result
    }

    /// Drops every idle connection (on close, so the file is released promptly).
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Runs a read on the pool from async code without blocking the runtime.
pub(crate) async fn read<T: Send + 'static>(
    pool: std::sync::Arc<ReadPool>,
    f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(move || pool.with(f))
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
}
