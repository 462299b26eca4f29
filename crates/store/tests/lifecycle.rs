//! Compaction, TTL expiry, restart, close and the single-opener lock.

mod common;

use bytes::Bytes;
use common::{assert_quiet, next_event, next_events, open_temp};
use rkube_store::compactor::{CompactionPolicy, spawn_compactor};
use rkube_store::sqlite::{SqliteOptions, SqliteStore};
use rkube_store::{EventKind, RangeRequest, Store, StoreError};
use std::path::Path;
use std::time::{Duration, Instant};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// History rows left in the file (read directly, to see physical compaction).
fn log_revisions(path: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT revision FROM log ORDER BY revision")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn wait_for_log(path: &Path, want: &[i64]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = log_revisions(path);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "log rows {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_makes_old_reads_and_watches_fail() {
    let (_dir, path, store) = open_temp(SqliteOptions {
        compaction_chunk: 2,
        ..Default::default()
    });
    store.create("/a", b("1"), None).await.unwrap(); // 1
    for v in 2..=5 {
        store
            .update("/a", Bytes::from(v.to_string()), 0, None)
            .await
            .unwrap(); // 2..5
    }
    store.create("/b", b("b"), None).await.unwrap(); // 6
    store.delete("/b", 0).await.unwrap(); // 7
    store.create("/c", b("c"), None).await.unwrap(); // 8

    store.compact(5).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 5);
    let at = |revision| RangeRequest {
        revision,
        ..RangeRequest::prefix("/")
    };
    assert_eq!(
        store.range(at(4)).await.unwrap_err(),
        StoreError::Compacted {
            requested: 4,
            compacted: 5
        }
    );
    let keys =
        |kvs: Vec<rkube_store::KeyValue>| kvs.into_iter().map(|kv| kv.key).collect::<Vec<_>>();
    let at5 = store.range(at(5)).await.unwrap();
    assert_eq!(
        (
            at5.kvs[0].key.as_str(),
            at5.kvs[0].value.clone(),
            at5.kvs.len()
        ),
        ("/a", b("5"), 1)
    );
    assert_eq!(keys(store.range(at(6)).await.unwrap().kvs), ["/a", "/b"]);
    assert_eq!(keys(store.range(at(7)).await.unwrap().kvs), ["/a"]);
    assert_eq!(keys(store.range(at(8)).await.unwrap().kvs), ["/a", "/c"]);

    assert!(matches!(
        store.watch("/", 3).await,
        Err(StoreError::Compacted { compacted: 5, .. })
    ));
    let mut w = store.watch("/", 5).await.unwrap();
    let replay = next_events(&mut w, 3).await;
    assert_eq!(
        replay
            .iter()
            .map(|e| (e.revision(), e.kind))
            .collect::<Vec<_>>(),
        [
            (6, EventKind::Create),
            (7, EventKind::Delete),
            (8, EventKind::Create)
        ]
    );
    // Superseded rows at or before 5 are removed in the background; /a@5 stays.
    wait_for_log(&path, &[5, 6, 7, 8]).await;

    assert!(matches!(
        store.compact(5).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(9).await,
        Err(StoreError::FutureRevision { .. })
    ));
    store.compact(8).await.unwrap();
    // The create and the delete (tombstone) of /b are gone too.
    wait_for_log(&path, &[5, 8]).await;
    assert_eq!(keys(store.range(at(8)).await.unwrap().kvs), ["/a", "/c"]);
    // A running watch that is behind the compaction fails when it next reads the log: force it
    // to the log by writing nothing and asking from an old point.
    assert!(matches!(
        store.watch("/", 7).await,
        Err(StoreError::Compacted { .. })
    ));
    assert_quiet(&mut w).await;

    // The compaction mark survives a restart.
    drop(w);
    store.close();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 8);
    assert!(matches!(
        store.range(at(7)).await,
        Err(StoreError::Compacted { .. })
    ));
    assert_eq!(store.current_revision().await.unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_watcher_behind_compaction_ends_with_compacted() {
    let (_dir, _path, store) = open_temp(SqliteOptions {
        watch_buffer: 1,
        max_batch: 1,
        ..Default::default()
    });
    store.create("/k", b("0"), None).await.unwrap();
    let mut w = store.watch("/", 0).await.unwrap();
    // The watcher does not read while 50 single-write batches overflow its buffer of 1...
    for i in 1..=50 {
        store
            .update("/k", Bytes::from(i.to_string()), 0, None)
            .await
            .unwrap();
    }
    // ...and the history it would catch up from is compacted away.
    store.compact(40).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut w)).await {
        Ok(Some(Err(StoreError::Compacted { compacted: 40, .. }))) => {}
        other => panic!("expected Compacted, got {other:?}"),
    }
    assert!(
        futures::StreamExt::next(&mut w).await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ttl_expiry_deletes_keys_with_events() {
    let (_dir, _path, store) = open_temp(SqliteOptions {
        ttl_sweep_interval: Duration::from_millis(50),
        ..Default::default()
    });
    let mut w = store.watch("/t/", 0).await.unwrap();
    let r1 = store
        .create("/t/short", b("s"), Some(Duration::from_millis(300)))
        .await
        .unwrap();
    let r2 = store.create("/t/long", b("l"), None).await.unwrap();
    // An update without a TTL keeps the key forever; one with a TTL restarts the clock.
    let r3 = store
        .create("/t/renewed", b("r"), Some(Duration::from_millis(300)))
        .await
        .unwrap();
    let r4 = store
        .update("/t/renewed", b("r2"), r3, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(
        next_events(&mut w, 4)
            .await
            .iter()
            .map(|e| e.revision())
            .collect::<Vec<_>>(),
        [r1, r2, r3, r4]
    );

    let expired = next_event(&mut w).await;
    assert_eq!(expired.kind, EventKind::Delete);
    assert_eq!(expired.kv.key, "/t/short");
    assert_eq!(
        expired.kv.mod_revision,
        r4 + 1,
        "expiry takes the next revision"
    );
    assert_eq!(expired.prev.unwrap().value, b("s"));
    assert_eq!(store.get("/t/short").await.unwrap(), None);
    assert_eq!(store.current_revision().await.unwrap(), r4 + 1);
    assert_quiet(&mut w).await;
    let left = store.range(RangeRequest::prefix("/t/")).await.unwrap();
    assert_eq!(
        left.kvs
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/t/long", "/t/renewed"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_keys_are_invisible_before_the_sweep() {
    // The sweep runs once at start, then not for an hour.
    let (_dir, _path, store) = open_temp(SqliteOptions {
        ttl_sweep_interval: Duration::from_secs(3600),
        ..Default::default()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r1 = store
        .create("/e/a", b("a"), Some(Duration::from_millis(100)))
        .await
        .unwrap();
    store.create("/e/b", b("b"), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get("/e/a").await.unwrap(), None);
    let listed = store.range(RangeRequest::prefix("/e/")).await.unwrap();
    assert_eq!(listed.kvs.len(), 1);
    assert_eq!(listed.revision, r1 + 1, "not swept yet");
    // History still shows it was there at its revision.
    let old = store
        .range(RangeRequest {
            revision: r1,
            ..RangeRequest::prefix("/e/")
        })
        .await
        .unwrap();
    assert_eq!(old.kvs.len(), 1);

    // Writing to the expired key expires it first (a Delete event), then applies the write.
    let mut w = store.watch("/e/", 0).await.unwrap();
    assert_eq!(
        store.update("/e/a", b("x"), 0, None).await,
        Err(StoreError::NotFound("/e/a".into()))
    );
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.kind, e.kv.key.as_str(), e.revision()),
        (EventKind::Delete, "/e/a", r1 + 2)
    );
    let r = store
        .create("/e/a", b("again"), Some(Duration::from_millis(100)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r2 = store.create("/e/a", b("third"), None).await.unwrap();
    let events = next_events(&mut w, 3).await;
    assert_eq!(
        events
            .iter()
            .map(|e| (e.kind, e.revision()))
            .collect::<Vec<_>>(),
        [
            (EventKind::Create, r),
            (EventKind::Delete, r + 1),
            (EventKind::Create, r2)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_keeps_data_and_the_revision_counter() {
    let (_dir, path, store) = open_temp(SqliteOptions::default());
    store
        .create("/keep", b("k"), Some(Duration::from_secs(3600)))
        .await
        .unwrap(); // 1
    store
        .update("/keep", b("k2"), 1, Some(Duration::from_secs(3600)))
        .await
        .unwrap(); // 2
    store.create("/gone", b("g"), None).await.unwrap(); // 3
    store.delete("/gone", 0).await.unwrap(); // 4: the last revision is a delete...
    store.compact(4).await.unwrap(); // ...whose tombstone compaction removes.
    wait_for_log(&path, &[2]).await;
    drop(store); // dropping the last handle closes the store

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        4,
        "revision survives, though its row is gone"
    );
    let kv = store.get("/keep").await.unwrap().unwrap();
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("k2"), 1, 2)
    );
    assert_eq!(store.get("/gone").await.unwrap(), None);
    assert_eq!(
        store.create("/new", b("n"), None).await.unwrap(),
        5,
        "revisions are never reused"
    );
    assert_eq!(store.compacted_revision().await.unwrap(), 4);
    // Watching from the restart point works.
    let mut w = store.watch("/", 4).await.unwrap();
    assert_eq!(next_event(&mut w).await.revision(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_opener_at_a_time() {
    let (_dir, path, store) = open_temp(SqliteOptions::default());
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    store.close();
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.current_revision().await.unwrap(), 0);
    let missing_dir = path.parent().unwrap().join("no/such/dir/store.db");
    assert!(matches!(
        SqliteStore::open(&missing_dir),
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_settles_every_pending_write() {
    let (_dir, path, store) = open_temp(SqliteOptions::default());
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let key = format!("/close/{t}/{i}");
                match store.create(&key, b("v"), None).await {
                    Ok(_) => acked.push(key),
                    Err(StoreError::Closed) => return acked,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.close();
    assert_eq!(store.get("/x").await, Err(StoreError::Closed));
    assert_eq!(
        store.create("/x", b("v"), None).await,
        Err(StoreError::Closed)
    );
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(!acked.is_empty());
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    for key in &acked {
        assert!(
            store.get(key).await.unwrap().is_some(),
            "{key} was acknowledged"
        );
    }
    assert_eq!(store.current_revision().await.unwrap(), acked.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_compactor_trails_by_one_interval() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    let policy = CompactionPolicy {
        interval: Duration::from_millis(100),
        min_retained_revisions: 2,
    };
    let task = spawn_compactor(&store, policy);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 0;
    while store.compacted_revision().await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the compactor never compacted");
        store.create(&format!("/k{i}"), b("v"), None).await.unwrap();
        i += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let compacted = store.compacted_revision().await.unwrap();
    assert!(compacted <= store.current_revision().await.unwrap() - 2);
    // It stops once the store is gone.
    drop(store);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
