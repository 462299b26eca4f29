//! The writer thread: group commit.
//!
//! One thread owns the only write connection. Callers send commands over a channel; the thread
//! takes whatever is queued (up to a bound), applies each write inside one transaction, each in
//! its own savepoint with its own guard check so that a failed write does not disturb the
//! others, commits once (one WAL fsync for the whole batch), then publishes the batch's events
//! and answers every caller. Between batches it deletes expired keys and physically removes
//! compacted history in small steps, so neither holds up writes for long.

use super::error::{Context, backend};
use super::ops::{self, Staged, WriteOp, WriteOutcome};
use super::schema::{self, meta};
use super::shared::Shared;
use super::time::now_millis;
use super::watch::EventBatch;
use crate::{Result, Revision, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::fs::File;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A request to the writer thread.
pub(crate) enum Command {
    /// Apply one write and answer with its outcome once committed.
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<WriteOutcome>>,
    },
    /// Mark history up to `revision` compacted; rows are removed afterwards in the background.
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Commit what is queued, then stop.
    Shutdown,
}

/// Tuning of the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct WriterConfig {
    /// Most commands applied in one transaction.
    pub(crate) max_batch: usize,
    /// How often expired keys are looked for.
    pub(crate) sweep_interval: Duration,
    /// Most expired keys deleted per batch.
    pub(crate) sweep_limit: usize,
    /// Most revisions of history examined per compaction step.
    pub(crate) purge_chunk: Revision,
}

/// The counters the writer starts from, read from disk at open.
pub(crate) struct StartState {
    pub(crate) revision: Revision,
    pub(crate) compacted: Revision,
    pub(crate) compact_progress: Revision,
}

/// Owns the write connection; see the module docs.
pub(crate) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    config: WriterConfig,
    /// Last committed revision.
    revision: Revision,
    /// Last committed compaction mark.
    compacted: Revision,
    /// History rows up to here are gone.
    compact_progress: Revision,
    next_sweep: Instant,
    purge_retry_at: Option<Instant>,
    /// Keeps other processes from opening the same store while this writer runs.
    _lock: File,
}

/// An answer held back until the batch's commit succeeded or failed.
enum Reply {
    Write(oneshot::Sender<Result<WriteOutcome>>, Result<WriteOutcome>),
    Compact(oneshot::Sender<Result<()>>, Result<()>),
}

impl Reply {
    fn fail(self, err: &StoreError) -> Self {
        match self {
            Reply::Write(tx, _) => Reply::Write(tx, Err(err.clone())),
            Reply::Compact(tx, _) => Reply::Compact(tx, Err(err.clone())),
        }
    }

    fn send(self) {
        // A caller that gave up (dropped its future) no longer wants the answer.
        match self {
            Reply::Write(tx, result) => {
                let _ = tx.send(result);
            }
            Reply::Compact(tx, result) => {
                let _ = tx.send(result);
            }
        }
    }
}

impl Writer {
    /// A writer for an opened, migrated connection.
    pub(crate) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
        config: WriterConfig,
        start: StartState,
        lock: File,
    ) -> Self {
        Self {
            conn,
            shared,
            commands,
            next_sweep: Instant::now(),
            config,
            revision: start.revision,
            compacted: start.compacted,
            compact_progress: start.compact_progress,
            purge_retry_at: None,
            _lock: lock,
        }
    }

    /// The thread body: batches until shutdown, then closes the event hub.
    pub(crate) fn run(mut self) {
        let mut shutting_down = false;
        loop {
            let mut batch = Vec::new();
            let wait = if shutting_down {
                Duration::ZERO
            } else {
                self.idle_wait()
            };
            match self.commands.recv_timeout(wait) {
                Ok(cmd) => batch.push(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => shutting_down = true,
            }
            let mut drained = false;
            while batch.len() < self.config.max_batch.max(1) {
                match self.commands.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(TryRecvError::Empty) => {
                        drained = true;
                        break;
                    }
                    Err(TryRecvError::Disconnected) => {
                        shutting_down = true;
                        drained = true;
                        break;
                    }
                }
            }
            if batch.iter().any(|c| matches!(c, Command::Shutdown)) {
                shutting_down = true;
            }
            let sweep = !shutting_down && Instant::now() >= self.next_sweep;
            if batch.iter().any(|c| !matches!(c, Command::Shutdown)) {
                self.commit_batch(batch, sweep);
            } else if sweep {
                self.sweep_only();
            }
            if shutting_down {
                if drained {
                    break;
                }
            } else {
                self.purge_step();
            }
        }
        self.shared.close_hub();
        tracing::debug!(revision = self.revision, "store writer stopped");
    }

    /// How long to wait for a command before doing background work.
    fn idle_wait(&self) -> Duration {
        let now = Instant::now();
        let purge_ready = self.compact_progress < self.compacted
            && self.purge_retry_at.is_none_or(|at| at <= now);
        if purge_ready {
            Duration::ZERO
        } else {
            self.next_sweep.saturating_duration_since(now)
        }
    }

    /// Applies a batch of commands in one transaction and answers them after the commit.
    fn commit_batch(&mut self, batch: Vec<Command>, sweep: bool) {
        let mut staged = Staged {
            revision: self.revision,
            events: Vec::new(),
            now: now_millis(),
        };
        let mut compacted = self.compacted;
        let mut replies = Vec::with_capacity(batch.len());
        let tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => {
                let err = backend("begin write transaction", e);
                tracing::error!(%err, "store write batch failed");
                for cmd in batch {
                    match cmd {
                        Command::Write { reply, .. } => {
                            Reply::Write(reply, Err(err.clone())).send()
                        }
                        Command::Compact { reply, .. } => {
                            Reply::Compact(reply, Err(err.clone())).send()
                        }
                        Command::Shutdown => {}
                    }
                }
                return;
            }
        };
        for cmd in batch {
            match cmd {
                Command::Write { op, reply } => {
                    let result = write_one(&tx, &mut staged, op);
                    replies.push(Reply::Write(reply, result));
                }
                Command::Compact { revision, reply } => {
                    let result = ops::check_compaction(revision, staged.revision, compacted)
                        .and_then(|()| {
                            schema::set_meta(&tx, meta::COMPACTED, revision)
                                .with_context(|| format!("record compaction at {revision}"))
                        });
                    if result.is_ok() {
                        compacted = revision;
                    }
                    replies.push(Reply::Compact(reply, result));
                }
                Command::Shutdown => {}
            }
        }
        let swept = sweep.then(|| sweep_expired(&tx, &mut staged, self.config.sweep_limit));
        let outcome = if staged.revision != self.revision {
            schema::set_meta(&tx, meta::REVISION, staged.revision)
                .context("record current revision")
        } else {
            Ok(())
        }
        .and_then(|()| tx.commit().context("commit write batch"));
        if let Some(found) = swept {
            self.schedule_sweep(found);
        }
        match outcome {
            Ok(()) => {
                self.revision = staged.revision;
                self.compacted = compacted;
                self.shared.set_compacted(compacted);
                self.shared.set_current(staged.revision);
                if !staged.events.is_empty() {
                    self.shared.publish(Arc::new(EventBatch {
                        events: staged.events,
                    }));
                }
                replies.into_iter().for_each(Reply::send);
            }
            Err(err) => {
                tracing::error!(%err, "store write batch failed");
                // If the commit reached the disk despite the error, never hand its revisions
                // out again.
                if let Ok(on_disk) = schema::get_meta(&self.conn, meta::REVISION) {
                    self.revision = self.revision.max(on_disk);
                    self.shared.set_current(self.revision);
                }
                replies.into_iter().for_each(|r| r.fail(&err).send());
            }
        }
    }

    /// A sweep with no writes queued: skip the write transaction when nothing has expired.
    fn sweep_only(&mut self) {
        match ops::expired_keys(&self.conn, now_millis(), 1) {
            Ok(keys) if keys.is_empty() => self.schedule_sweep(Ok(0)),
            Ok(_) => self.commit_batch(Vec::new(), true),
            Err(err) => self.schedule_sweep(Err(err)),
        }
    }

    fn schedule_sweep(&mut self, found: Result<usize>) {
        let now = Instant::now();
        self.next_sweep = match found {
            // A full sweep means more keys may be due: look again right away.
            Ok(n) if n >= self.config.sweep_limit => now,
            Ok(_) => now + self.config.sweep_interval,
            Err(err) => {
                tracing::warn!(%err, "expired key sweep failed");
                now + self.config.sweep_interval
            }
        };
    }

    /// Removes one chunk of compacted history, in its own transaction.
    fn purge_step(&mut self) {
        if self.compact_progress >= self.compacted
            || self.purge_retry_at.is_some_and(|at| at > Instant::now())
        {
            return;
        }
        let from = self.compact_progress;
        let to = self
            .compacted
            .min(from.saturating_add(self.config.purge_chunk.max(1)));
        let compacted = self.compacted;
        let result = (|| -> Result<usize> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("begin compaction transaction")?;
            let removed = ops::purge_history(&tx, from, to, compacted)?;
            schema::set_meta(&tx, meta::COMPACT_PROGRESS, to)
                .context("record compaction progress")?;
            tx.commit().context("commit compaction step")?;
            Ok(removed)
        })();
        match result {
            Ok(removed) => {
                tracing::trace!(from, to, removed, "compacted history");
                self.compact_progress = to;
                self.purge_retry_at = None;
            }
            Err(err) => {
                tracing::warn!(%err, "history compaction step failed; retrying");
                self.purge_retry_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }
}

/// Runs `f` in a savepoint: on error its changes, revisions and events are discarded.
///
/// The savepoint statements are prepared once and reused: parsing `SAVEPOINT`/`RELEASE` for
/// every write was a visible share of a create's CPU time.
fn in_savepoint<T>(
    conn: &Connection,
    staged: &mut Staged,
    f: impl FnOnce(&Connection, &mut Staged) -> Result<T>,
) -> Result<T> {
    let run = |sql: &str, what: &'static str| -> Result<()> {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([]))
            .map(drop)
            .context(what)
    };
    run("SAVEPOINT write_op", "open savepoint")?;
    let mut inner = Staged {
        revision: staged.revision,
        events: Vec::new(),
        now: staged.now,
    };
    match f(conn, &mut inner) {
        Ok(out) => {
            run("RELEASE write_op", "release savepoint")?;
            staged.revision = inner.revision;
            staged.events.append(&mut inner.events);
            Ok(out)
        }
        Err(err) => {
            // ROLLBACK TO keeps the savepoint open; RELEASE then drops it.
            run("ROLLBACK TO write_op", "roll back savepoint")?;
            run("RELEASE write_op", "release savepoint")?;
            Err(err)
        }
    }
}

/// One caller's write: expire the key first if its TTL ran out, then apply the write.
fn write_one(tx: &Transaction<'_>, staged: &mut Staged, op: WriteOp) -> Result<WriteOutcome> {
    if op.key().is_empty() {
        return Err(backend("invalid write", "the key is empty"));
    }
    if let Some(row) = ops::load_current(tx, op.key())?
        && row.expired(staged.now)
    {
        let key = op.key().to_string();
        in_savepoint(tx, staged, |conn, st| ops::expire(conn, st, key, row))?;
    }
    in_savepoint(tx, staged, |conn, st| ops::apply(conn, st, op))
}

/// Deletes up to `limit` expired keys; returns how many were due.
fn sweep_expired(tx: &Transaction<'_>, staged: &mut Staged, limit: usize) -> Result<usize> {
    let due = ops::expired_keys(tx, staged.now, limit)?;
    let found = due.len();
    for (key, row) in due {
        if let Err(err) = in_savepoint(tx, staged, |conn, st| {
            ops::expire(conn, st, key.clone(), row)
        }) {
            tracing::warn!(%err, key, "could not delete expired key");
        }
    }
    Ok(found)
}
