//! Writes (revisions, guards, batching) and reads (get, range at revisions, paging).

mod common;

use bytes::Bytes;
use common::open_temp;
use rkube_store::sqlite::SqliteOptions;
use rkube_store::{KeyValue, RangeRequest, Store, StoreError, prefix_end};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revisions_increase_by_one_per_write() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    assert_eq!(store.current_revision().await.unwrap(), 0);
    assert_eq!(store.create("/a", b("1"), None).await.unwrap(), 1);
    assert_eq!(store.update("/a", b("2"), 1, None).await.unwrap(), 2);
    assert_eq!(store.create("/b", b("1"), None).await.unwrap(), 3);
    let (rev, was) = store.delete("/a", 0).await.unwrap();
    assert_eq!(rev, 4);
    assert_eq!(
        was,
        KeyValue {
            key: "/a".into(),
            value: b("2"),
            create_revision: 1,
            mod_revision: 2
        }
    );
    // Failed writes do not take a revision.
    assert!(store.create("/b", b("x"), None).await.is_err());
    assert!(store.update("/a", b("x"), 0, None).await.is_err());
    assert_eq!(store.create("/c", b("1"), None).await.unwrap(), 5);
    assert_eq!(store.current_revision().await.unwrap(), 5);

    // Concurrent writers: every successful write gets its own revision, with no holes.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..50 {
                revs.push(
                    store
                        .create(&format!("/con/{t}/{i}"), b("v"), None)
                        .await
                        .unwrap(),
                );
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let revs = t.await.unwrap();
        assert!(
            revs.windows(2).all(|w| w[0] < w[1]),
            "a writer's revisions go up"
        );
        all.extend(revs);
    }
    all.sort();
    assert_eq!(all, (6..6 + 400).collect::<Vec<_>>());
    assert_eq!(store.current_revision().await.unwrap(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_conflicts_with_an_existing_key() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    store.create("/k", b("first"), None).await.unwrap();
    assert_eq!(
        store.create("/k", b("second"), None).await,
        Err(StoreError::AlreadyExists("/k".into()))
    );
    assert_eq!(store.get("/k").await.unwrap().unwrap().value, b("first"));
    // After a delete the key can be created again, with a new create revision.
    store.delete("/k", 0).await.unwrap();
    let rev = store.create("/k", b("again"), None).await.unwrap();
    let kv = store.get("/k").await.unwrap().unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision), (rev, rev));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guarded_update_and_delete_report_the_current_value() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    assert_eq!(
        store.update("/k", b("x"), 0, None).await,
        Err(StoreError::NotFound("/k".into()))
    );
    assert_eq!(
        store.delete("/k", 0).await,
        Err(StoreError::NotFound("/k".into()))
    );
    let r1 = store.create("/k", b("v1"), None).await.unwrap();
    let r2 = store.update("/k", b("v2"), r1, None).await.unwrap();
    let current = KeyValue {
        key: "/k".into(),
        value: b("v2"),
        create_revision: r1,
        mod_revision: r2,
    };
    // A stale guard fails and carries what is there now.
    match store.update("/k", b("v3"), r1, None).await {
        Err(StoreError::Conflict { key, current: got }) => {
            assert_eq!(key, "/k");
            assert_eq!(*got, current);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store.delete("/k", r1).await {
        Err(StoreError::Conflict { current: got, .. }) => assert_eq!(*got, current),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get("/k").await.unwrap(), Some(current.clone()));
    // The right guard wins; 0 means unconditional.
    let r3 = store.update("/k", b("v3"), r2, None).await.unwrap();
    let r4 = store.update("/k", b("v4"), 0, None).await.unwrap();
    assert_eq!(r4, r3 + 1);
    let (r5, was) = store.delete("/k", r4).await.unwrap();
    assert_eq!(r5, r4 + 1);
    assert_eq!(was.value, b("v4"));
    assert_eq!(store.get("/k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_writes_do_not_disturb_their_batch() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    // Many racing creates of one key alongside creates of distinct keys: they share batches;
    // exactly one create of the shared key wins and every distinct create succeeds.
    let mut tasks = Vec::new();
    for t in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let shared = store
                .create("/race", Bytes::from(format!("{t}")), None)
                .await;
            let own = store.create(&format!("/own/{t}"), b("v"), None).await;
            (shared, own)
        }));
    }
    let mut winners = 0;
    for t in tasks {
        let (shared, own) = t.await.unwrap();
        match shared {
            Ok(_) => winners += 1,
            Err(StoreError::AlreadyExists(k)) => assert_eq!(k, "/race"),
            Err(e) => panic!("unexpected {e}"),
        }
        own.unwrap();
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision().await.unwrap(), 33);
    let listed = store.range(RangeRequest::prefix("/own/")).await.unwrap();
    assert_eq!(listed.kvs.len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_an_error_not_a_panic() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    assert!(
        matches!(store.create("", b("x"), None).await, Err(StoreError::Backend(m)) if m.contains("empty"))
    );
    // Odd but valid keys and ranges.
    store.create("/nul\0key", b("x"), None).await.unwrap();
    store.create("/ünïcödé/☃", b("x"), None).await.unwrap();
    assert_eq!(store.get("/nul\0key").await.unwrap().unwrap().value, b("x"));
    let backwards = RangeRequest {
        start: "/z".into(),
        end: "/a".into(),
        ..Default::default()
    };
    assert!(store.range(backwards).await.unwrap().kvs.is_empty());
    let huge_limit = RangeRequest {
        limit: usize::MAX,
        ..RangeRequest::prefix("/")
    };
    assert_eq!(store.range(huge_limit).await.unwrap().kvs.len(), 2);
    assert_eq!(
        store
            .range(RangeRequest {
                revision: -5,
                ..RangeRequest::prefix("/")
            })
            .await
            .unwrap()
            .revision,
        2
    );
    let far = store
        .range(RangeRequest {
            revision: i64::MAX,
            ..RangeRequest::prefix("/")
        })
        .await;
    assert_eq!(
        far.unwrap_err(),
        StoreError::FutureRevision {
            requested: i64::MAX,
            current: 2
        }
    );
    store
        .update("/u", b("x"), i64::MIN, Some(std::time::Duration::MAX))
        .await
        .unwrap_err();
    store
        .create("/ttl", b("x"), Some(std::time::Duration::MAX))
        .await
        .unwrap();
    assert!(store.get("/ttl").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_conventions_and_remaining() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    for k in ["/a", "/b/1", "/b/2", "/b/3", "/c"] {
        store
            .create(k, Bytes::from(k.to_string()), None)
            .await
            .unwrap();
    }
    let single = store
        .range(RangeRequest {
            start: "/b/2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        single
            .kvs
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/b/2"]
    );
    let from_b = store
        .range(RangeRequest {
            start: "/b".into(),
            end: "\0".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(from_b.kvs.len(), 4);
    let page = store
        .range(RangeRequest {
            limit: 2,
            ..RangeRequest::prefix("/b/")
        })
        .await
        .unwrap();
    assert_eq!(
        page.kvs
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/b/1", "/b/2"]
    );
    assert!(page.more);
    assert_eq!(page.remaining, 1);
    assert_eq!(page.revision, 5);
    let all = store
        .range(RangeRequest {
            limit: 3,
            ..RangeRequest::prefix("/b/")
        })
        .await
        .unwrap();
    assert!(!all.more);
    assert_eq!(all.remaining, 0);
    let everything = store.range(RangeRequest::prefix("")).await.unwrap();
    assert_eq!(everything.kvs.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_at_old_revisions_see_the_state_of_then() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    store.create("/a", b("a1"), None).await.unwrap(); // 1
    store.update("/a", b("a2"), 1, None).await.unwrap(); // 2
    store.create("/b", b("b1"), None).await.unwrap(); // 3
    store.delete("/a", 0).await.unwrap(); // 4
    store.create("/a", b("a3"), None).await.unwrap(); // 5
    store.create("/zzz", b("outside"), None).await.unwrap(); // 6

    let at = |revision| {
        let store = store.clone();
        async move {
            let resp = store
                .range(RangeRequest {
                    revision,
                    ..RangeRequest::prefix("/")
                })
                .await
                .unwrap();
            assert_eq!(resp.revision, revision);
            resp.kvs
                .into_iter()
                .filter(|kv| kv.key != "/zzz")
                .map(|kv| {
                    (
                        kv.key,
                        String::from_utf8(kv.value.to_vec()).unwrap(),
                        kv.create_revision,
                        kv.mod_revision,
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let s = |k: &str, v: &str, c, m| (k.to_string(), v.to_string(), c, m);
    assert_eq!(at(1).await, [s("/a", "a1", 1, 1)]);
    assert_eq!(at(2).await, [s("/a", "a2", 1, 2)]);
    assert_eq!(at(3).await, [s("/a", "a2", 1, 2), s("/b", "b1", 3, 3)]);
    assert_eq!(at(4).await, [s("/b", "b1", 3, 3)]);
    assert_eq!(at(5).await, [s("/a", "a3", 5, 5), s("/b", "b1", 3, 3)]);
    assert_eq!(at(6).await, [s("/a", "a3", 5, 5), s("/b", "b1", 3, 3)]);
    // Paging at an old revision.
    let page = store
        .range(RangeRequest {
            revision: 3,
            limit: 1,
            ..RangeRequest::prefix("/")
        })
        .await
        .unwrap();
    assert_eq!(page.kvs[0].key, "/a");
    assert!(page.more);
    assert_eq!(page.remaining, 1);
    assert_eq!(
        store
            .range(RangeRequest {
                revision: 7,
                ..RangeRequest::prefix("/")
            })
            .await
            .unwrap_err(),
        StoreError::FutureRevision {
            requested: 7,
            current: 6
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_at_a_fixed_revision_is_a_consistent_snapshot_while_writes_continue() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    const N: usize = 1000;
    let mut tasks = Vec::new();
    for t in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..N).step_by(10) {
                store
                    .create(&format!("/p/k{i:04}"), Bytes::from(format!("v0-{i}")), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let first = store
        .range(RangeRequest {
            limit: 100,
            ..RangeRequest::prefix("/p/")
        })
        .await
        .unwrap();
    let snapshot = first.revision;
    assert_eq!(snapshot, N as i64);
    assert!(first.more);
    assert_eq!(first.remaining, 900);

    // Churn every part of the range while the pages are read.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let churn = {
        let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                // Jumps around the key space, hitting pages not read yet.
                let k = (i * 7919) % N;
                match i % 3 {
                    0 => {
                        let _ = store
                            .update(&format!("/p/k{k:04}"), b("changed"), 0, None)
                            .await;
                    }
                    1 => {
                        let _ = store.delete(&format!("/p/k{k:04}"), 0).await;
                    }
                    _ => {
                        let _ = store.create(&format!("/p/k{k:04}x"), b("new"), None).await;
                    }
                }
                i += 1;
                done.store(i, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            i
        })
    };

    while done.load(Ordering::SeqCst) < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let mut seen: BTreeMap<String, KeyValue> = first
        .kvs
        .into_iter()
        .map(|kv| (kv.key.clone(), kv))
        .collect();
    let mut resp_more = first.more;
    let mut expected_remaining = 900u64;
    while resp_more {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let last = seen.keys().next_back().unwrap().clone();
        let page = store
            .range(RangeRequest {
                start: format!("{last}\0"),
                end: prefix_end("/p/"),
                limit: 100,
                revision: snapshot,
            })
            .await
            .unwrap();
        assert_eq!(page.revision, snapshot);
        expected_remaining -= page.kvs.len() as u64;
        assert_eq!(page.remaining, expected_remaining);
        resp_more = page.more;
        for kv in page.kvs {
            assert!(
                seen.insert(kv.key.clone(), kv).is_none(),
                "a key came twice"
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    let churned = churn.await.unwrap();
    assert!(churned > 10, "writes happened while paging ({churned})");
    assert!(store.current_revision().await.unwrap() > snapshot);
    assert_eq!(seen.len(), N);
    for (i, (key, kv)) in seen.iter().enumerate() {
        assert_eq!(key, &format!("/p/k{i:04}"));
        assert_eq!(kv.value, Bytes::from(format!("v0-{i}")));
        assert!(kv.mod_revision <= snapshot);
    }
}
