//! The embedded backend: one SQLite file in WAL mode, written by a group-committing thread.
//!
//! * Writes go to a dedicated writer thread ([`writer`]) that commits whatever is queued in one
//!   transaction with one fsync (`synchronous=FULL`), so a write is durable before its call
//!   returns and concurrent writers share the cost of the fsync.
//! * Reads use a pool of read connections on blocking threads ([`pool`]); WAL lets them run
//!   alongside the writer, each on a consistent snapshot ([`query`]).
//! * Watches replay the log and then follow the writer's live fan-out ([`watch`]).
//! * Keys with a TTL are deleted by the writer when they expire, as ordinary deletes, so
//!   watchers see `Delete` events and revisions advance.
//! * Compaction records the compacted revision at once and removes old rows in the background.
//!
//! The layout of the file is described in [`schema`].

mod error;
mod events;
mod ops;
mod pool;
mod query;
mod schema;
mod shared;
mod span;
mod time;
mod watch;
mod writer;

use crate::{
    KeyValue, RangeRequest, RangeResponse, Result, Revision, Store, StoreError, WatchStream,
};
use async_trait::async_trait;
use bytes::Bytes;
use error::Context;
use ops::{WriteOp, WriteOutcome};
use pool::ReadPool;
use rusqlite::Connection;
use shared::Shared;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;
use writer::{Command, StartState, Writer, WriterConfig};

/// Tuning knobs of [`SqliteStore`]. The defaults suit an API server; tests shorten the TTL
/// sweep interval or the watch buffer to exercise those paths quickly.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Most writes committed in one transaction (one fsync). Larger batches raise throughput
    /// under load but make each commit, and so each caller's wait, longer.
    pub max_batch: usize,
    /// How many committed write batches the live event channel buffers per watcher. A watcher
    /// further behind than this catches up from the log instead.
    pub watch_buffer: usize,
    /// How many events a watch replay reads from the log per query.
    pub replay_page: usize,
    /// How often the writer looks for keys whose TTL ran out.
    pub ttl_sweep_interval: Duration,
    /// Most expired keys deleted per write batch.
    pub ttl_sweep_limit: usize,
    /// Most revisions of history examined per background compaction step; keeps each step short
    /// so writes are not held up.
    pub compaction_chunk: Revision,
    /// Idle read connections kept open for reuse.
    pub max_idle_readers: usize,
    /// How long a connection waits on a lock held by another (e.g. a checkpoint) before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            watch_buffer: 1024,
            replay_page: 1000,
            ttl_sweep_interval: Duration::from_secs(1),
            ttl_sweep_limit: 1000,
            compaction_chunk: 10_000,
            max_idle_readers: 8,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The embedded [`Store`]: one SQLite file, durable group commit, watch from any retained
/// revision. See the module docs for how it works.
///
/// Open it with [`SqliteStore::open`]. It stops its writer thread on [`SqliteStore::close`] or
/// when the last handle is dropped; watches then end.
pub struct SqliteStore {
    path: PathBuf,
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("revision", &self.shared.current())
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the store in the SQLite file at `path`, with default options.
    ///
    /// The revision counter and history continue from what the file holds. Only one process
    /// (and one handle) may have a store open at a time: a `<path>.lock` file guards it, and a
    /// second open fails with [`StoreError::Backend`]. The parent directory must exist.
    pub fn open(path: &Path) -> Result<Arc<Self>> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Like [`SqliteStore::open`], with explicit options.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<Arc<Self>> {
        let lock = lock_file(path)?;
        let mut conn = Connection::open(path)
            .with_context(|| format!("open store database {}", path.display()))?;
        schema::configure_writer(&conn, options.busy_timeout)?;
        schema::migrate(&mut conn)?;
        let counters = schema::load_counters(&conn)?;
        let pool = ReadPool::new(
            path.to_path_buf(),
            options.busy_timeout,
            options.max_idle_readers,
        );
        let shared = Arc::new(Shared::new(
            pool,
            options.watch_buffer,
            counters.revision,
            counters.compacted,
            options.replay_page,
        ));
        let (commands, receiver) = mpsc::channel();
        let writer = Writer::new(
            conn,
            shared.clone(),
            receiver,
            WriterConfig {
                max_batch: options.max_batch,
                sweep_interval: options.ttl_sweep_interval,
                sweep_limit: options.ttl_sweep_limit.max(1),
                purge_chunk: options.compaction_chunk,
            },
            StartState {
                revision: counters.revision,
                compacted: counters.compacted,
                compact_progress: counters.compact_progress,
            },
            lock,
        );
        let handle = std::thread::Builder::new()
            .name("rkube-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| error::backend("start store writer thread", e))?;
        tracing::debug!(path = %path.display(), revision = counters.revision, "store opened");
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            shared,
            commands,
            writer: Mutex::new(Some(handle)),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the store: writes already queued are committed and answered, later ones fail with
    /// [`StoreError::Closed`], watches end, and the file lock is released. Blocks until the
    /// writer thread has finished its last batch (one commit at most). Idempotent; also done on
    /// drop.
    pub fn close(&self) {
        self.shared.mark_closed();
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            // If the writer already stopped, the send fails; nothing is left to do then.
            let _ = self.commands.send(Command::Shutdown);
            if handle.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
            self.shared.close_hub();
            self.shared.pool.clear();
        }
    }

    fn ensure_open(&self) -> Result<()> {
        if self.shared.is_closed() {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// Hands a write to the writer thread and waits for its committed outcome.
    async fn submit(&self, op: WriteOp) -> Result<WriteOutcome> {
        self.ensure_open()?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Write { op, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Takes the exclusive lock that keeps a second process from writing the same file.
fn lock_file(path: &Path) -> Result<File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| error::backend(format!("open lock file {}", lock_path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(error::backend(
            format!("open store {}", path.display()),
            "it is already open (by this or another process)",
        )),
        Err(TryLockError::Error(e)) => {
            Err(error::backend(format!("lock {}", lock_path.display()), e))
        }
    }
}

fn unexpected(op: &str) -> StoreError {
    StoreError::Backend(format!(
        "{op}: writer returned an outcome of the wrong kind"
    ))
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.ensure_open()?;
        let key = key.to_string();
        pool::read(self.shared.pool.clone(), move |conn| {
            query::get_current(conn, &key, time::now_millis())
        })
        .await
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.ensure_open()?;
        pool::read(self.shared.pool.clone(), move |conn| {
            query::range(conn, &req, time::now_millis())
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<Revision> {
        match self
            .submit(WriteOp::Create {
                key: key.to_string(),
                value,
                ttl,
            })
            .await?
        {
            WriteOutcome::Written(revision) => Ok(revision),
            WriteOutcome::Deleted(..) => Err(unexpected("create")),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        ttl: Option<Duration>,
    ) -> Result<Revision> {
        match self
            .submit(WriteOp::Update {
                key: key.to_string(),
                value,
                expected,
                ttl,
            })
            .await?
        {
            WriteOutcome::Written(revision) => Ok(revision),
            WriteOutcome::Deleted(..) => Err(unexpected("update")),
        }
    }

    async fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue)> {
        match self
            .submit(WriteOp::Delete {
                key: key.to_string(),
                expected,
            })
            .await?
        {
            WriteOutcome::Deleted(revision, kv) => Ok((revision, kv)),
            WriteOutcome::Written(_) => Err(unexpected("delete")),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.ensure_open()?;
        let compacted = self.shared.compacted();
        if after > 0 && after < compacted {
            return Err(StoreError::Compacted {
                requested: after.saturating_add(1),
                compacted,
            });
        }
        watch::stream(self.shared.clone(), prefix, after)
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.ensure_open()?;
        Ok(self.shared.current())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.ensure_open()?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Compact { revision, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.ensure_open()?;
        Ok(self.shared.compacted())
    }
}
