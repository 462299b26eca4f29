//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use futures::StreamExt;
use rkube_store::sqlite::{SqliteOptions, SqliteStore};
use rkube_store::{Event, WatchStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn open_temp(options: SqliteOptions) -> (tempfile::TempDir, PathBuf, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = SqliteStore::open_with(&path, options).expect("open store");
    (dir, path, store)
}

/// The next event, failing the test after a generous timeout.
pub async fn next_event(stream: &mut WatchStream) -> Event {
    match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("watch failed: {err}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("timed out waiting for a watch event"),
    }
}

/// `n` events from the stream.
pub async fn next_events(stream: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next_event(stream).await);
    }
    out
}

/// Asserts nothing arrives on the stream for a short while.
pub async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}
