//! Watch: replay from the log, hand-over to live events, fan-out to many watchers.

mod common;

use bytes::Bytes;
use common::{assert_quiet, next_event, next_events, open_temp};
use rkube_store::sqlite::SqliteOptions;
use rkube_store::{Event, EventKind, Store};
use std::collections::HashMap;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_from_now_sees_later_changes_with_prev_values() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    store.create("/w/before", b("x"), None).await.unwrap();
    let mut w = store.watch("/w/", 0).await.unwrap();
    let r1 = store.create("/w/a", b("1"), None).await.unwrap();
    store.create("/other", b("ignored"), None).await.unwrap();
    let r2 = store.update("/w/a", b("2"), r1, None).await.unwrap();
    let (r3, _) = store.delete("/w/a", r2).await.unwrap();

    let created = next_event(&mut w).await;
    assert_eq!(created.kind, EventKind::Create);
    assert_eq!(
        (
            created.kv.key.as_str(),
            created.kv.value.clone(),
            created.revision()
        ),
        ("/w/a", b("1"), r1)
    );
    assert_eq!(created.prev, None);

    let updated = next_event(&mut w).await;
    assert_eq!(updated.kind, EventKind::Update);
    assert_eq!(
        (
            updated.kv.value.clone(),
            updated.kv.create_revision,
            updated.revision()
        ),
        (b("2"), r1, r2)
    );
    let prev = updated.prev.unwrap();
    assert_eq!((prev.value, prev.mod_revision), (b("1"), r1));

    let deleted = next_event(&mut w).await;
    assert_eq!(deleted.kind, EventKind::Delete);
    assert_eq!(
        deleted.kv.mod_revision, r3,
        "a delete carries the deleting revision"
    );
    assert_eq!(deleted.kv.value, b("2"), "and the deleted value");
    assert_eq!(deleted.prev.unwrap().mod_revision, r2);
    assert_quiet(&mut w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_from_an_old_revision_replays_then_continues_live() {
    let (_dir, _path, store) = open_temp(SqliteOptions {
        replay_page: 3,
        ..Default::default()
    });
    // A live watcher records the reference events.
    let mut live = store.watch("/w/", 0).await.unwrap();
    for i in 0..10 {
        let key = format!("/w/{}", i % 3);
        if store
            .create(&key, Bytes::from(format!("c{i}")), None)
            .await
            .is_err()
        {
            if i % 4 == 0 {
                store.delete(&key, 0).await.unwrap();
            } else {
                store
                    .update(&key, Bytes::from(format!("u{i}")), 0, None)
                    .await
                    .unwrap();
            }
        }
        store
            .create(&format!("/x/{i}"), b("other prefix"), None)
            .await
            .unwrap();
    }
    let reference = next_events(&mut live, 10).await;
    assert_quiet(&mut live).await;

    // Replay everything after the third /w/ event: exactly the missed ones, in order.
    let after = reference[2].revision();
    let mut replay = store.watch("/w/", after).await.unwrap();
    let replayed = next_events(&mut replay, 7).await;
    assert_eq!(
        replayed,
        reference[3..],
        "replayed events are identical to live ones"
    );

    // Then it continues live, with no duplicates.
    let r = store.create("/w/later", b("l"), None).await.unwrap();
    let next = next_event(&mut replay).await;
    assert_eq!((next.kv.key.as_str(), next.revision()), ("/w/later", r));
    assert_quiet(&mut replay).await;

    // A watch after the current revision waits for new changes.
    let current = store.current_revision().await.unwrap();
    let mut ahead = store.watch("/w/", current + 2).await.unwrap();
    store.create("/w/n1", b("1"), None).await.unwrap();
    store.create("/w/n2", b("1"), None).await.unwrap();
    let n3 = store.create("/w/n3", b("1"), None).await.unwrap();
    assert_eq!(next_event(&mut ahead).await.revision(), n3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_hands_over_to_live_while_writes_continue() {
    let (_dir, _path, store) = open_temp(SqliteOptions {
        replay_page: 7,
        ..Default::default()
    });
    for i in 0..200 {
        store
            .create(&format!("/h/pre{i}"), b("v"), None)
            .await
            .unwrap();
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                store
                    .create(&format!("/h/during{i}"), b("v"), None)
                    .await
                    .unwrap();
            }
        })
    };
    // Started while writes go on: must see 2..=500 exactly once each, in order.
    let mut w = store.watch("/h/", 1).await.unwrap();
    let events = next_events(&mut w, 499).await;
    writer.await.unwrap();
    let revs: Vec<_> = events.iter().map(Event::revision).collect();
    assert_eq!(revs, (2..=500).collect::<Vec<_>>());
    assert_quiet(&mut w).await;
}

/// Every watcher sees every event in revision order, also when it falls behind the live buffer
/// and has to catch up from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_watchers_see_every_event_in_order() {
    let (_dir, _path, store) = open_temp(SqliteOptions {
        watch_buffer: 4,
        max_batch: 8,
        replay_page: 16,
        ..Default::default()
    });
    const WRITERS: usize = 8;
    const ROUNDS: usize = 40; // each round: create, update, delete = 3 writes
    const TOTAL: usize = WRITERS * ROUNDS * 3;

    let mut watchers = Vec::new();
    for w in 0..6 {
        let mut stream = store.watch("/c/", 0).await.unwrap();
        watchers.push(tokio::spawn(async move {
            let mut events = Vec::with_capacity(TOTAL);
            while events.len() < TOTAL {
                let e = next_event(&mut stream).await;
                // Some watchers are slow consumers: they fall behind the live buffer and must
                // catch up from the log.
                if w % 2 == 1 && events.len() % 200 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                events.push(e);
            }
            assert_quiet(&mut stream).await;
            events
        }));
    }
    let mut writers = Vec::new();
    for t in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..ROUNDS {
                let key = format!("/c/{t}/{i}");
                let r = store.create(&key, b("c"), None).await.unwrap();
                let r = store.update(&key, b("u"), r, None).await.unwrap();
                store.delete(&key, r).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut first: Option<Vec<Event>> = None;
    for w in watchers {
        let events = w.await.unwrap();
        let revs: Vec<_> = events.iter().map(Event::revision).collect();
        assert_eq!(
            revs,
            (1..=TOTAL as i64).collect::<Vec<_>>(),
            "no gaps, no duplicates, in order"
        );
        let mut kinds: HashMap<&str, Vec<EventKind>> = HashMap::new();
        for e in &events {
            kinds.entry(e.kv.key.as_str()).or_default().push(e.kind);
        }
        assert!(
            kinds
                .values()
                .all(|k| k == &[EventKind::Create, EventKind::Update, EventKind::Delete])
        );
        match &first {
            None => first = Some(events),
            Some(f) => assert_eq!(f, &events, "all watchers see the same events"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watches_end_when_the_store_closes() {
    let (_dir, _path, store) = open_temp(SqliteOptions::default());
    let mut w = store.watch("/", 0).await.unwrap();
    store.create("/a", b("1"), None).await.unwrap();
    next_event(&mut w).await;
    store.close();
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        futures::StreamExt::next(&mut w),
    )
    .await;
    assert!(matches!(end, Ok(None)), "stream ends: {end:?}");
    assert!(store.watch("/", 0).await.is_err());
}
