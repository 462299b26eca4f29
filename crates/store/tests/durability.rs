//! Acknowledged writes survive `kill -9`.
//!
//! The test binary re-executes itself in "writer" mode (selected by an environment variable):
//! the child opens the store and runs 16 concurrent writers that print each write to stdout
//! only after the write call returned. The parent collects those acknowledgements, kills the
//! child with SIGKILL mid-stream, reopens the file and checks every acknowledged write is there.
//! It does so for several rounds on the same file, so the kill lands at different points of the
//! writer's commit cycle.

use bytes::Bytes;
use rkube_store::Store;
use rkube_store::sqlite::SqliteStore;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Names the database file in the child; its absence means "not the child".
const CHILD_ENV: &str = "RKUBE_STORE_KILL9_CHILD_DB";
/// Which kill round the child belongs to (keys are per round).
const ROUND_ENV: &str = "RKUBE_STORE_KILL9_ROUND";
/// Concurrent writers in the child.
const WRITERS: usize = 16;
/// Kill rounds on the same file.
const ROUNDS: usize = 10;

/// A value that says which key and version it is, padded like a small object.
fn value_for(key: &str, version: u64) -> Bytes {
    Bytes::from(format!("{key}|{version}|{}", "x".repeat(200)))
}

fn version_of(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value)
        .ok()?
        .split('|')
        .nth(1)?
        .parse()
        .ok()
}

/// Child mode: write forever, acknowledging on stdout after each write returned.
#[test]
fn kill9_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let round = std::env::var(ROUND_ENV).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(&path).unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            let round = round.clone();
            tasks.push(tokio::spawn(async move {
                let mut revision_of: HashMap<String, i64> = HashMap::new();
                for i in 0u64.. {
                    // Mostly creates; every third write updates an earlier key of this writer
                    // (each such key twice), guarded by the revision it last got.
                    let (key, result) = if i % 3 == 2 {
                        let key = format!("/kill/{round}/{w}/{}", 3 * (i / 3 / 2));
                        let expected = revision_of[&key];
                        let r = store.update(&key, value_for(&key, i), expected, None).await;
                        (key, r)
                    } else {
                        let key = format!("/kill/{round}/{w}/{i}");
                        let r = store.create(&key, value_for(&key, i), None).await;
                        (key, r)
                    };
                    let revision = result.expect("write failed in child");
                    revision_of.insert(key.clone(), revision);
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {key} {i} END").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut acked: HashMap<String, u64> = HashMap::new();
    for round in 0..ROUNDS {
        let before = acked.len();
        run_and_kill(&db, round, 300 + 37 * round, &mut acked);
        assert!(
            acked.len() - before >= 300,
            "round {round}: too few acknowledged writes to be meaningful"
        );
        verify(&db, &acked);
    }
}

/// Starts the child writer on `db`.
fn spawn_child(db: &Path, round: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill9_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child writer")
}

/// Keeps the newest acknowledged version of each key.
fn record(acked: &mut HashMap<String, u64>, key: String, version: u64) {
    let v = acked.entry(key).or_insert(version);
    *v = (*v).max(version);
}

/// Runs the child until it has acknowledged `keys` more distinct keys, SIGKILLs it right after
/// reading an acknowledgement (while other writes are in flight), and records every
/// acknowledgement it printed.
fn run_and_kill(db: &Path, round: usize, keys: usize, acked: &mut HashMap<String, u64>) {
    let mut child = spawn_child(db, round);
    // Read acknowledgements on a thread; the pipe closes when the child dies.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<(String, u64)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parts: Vec<_> = line.split(' ').collect();
            // A torn last line (no END) is not a complete acknowledgement.
            if let ["ACK", key, version, "END"] = parts[..]
                && let Ok(version) = version.parse()
                && tx.send((key.to_string(), version)).is_err()
            {
                break;
            }
        }
    });
    let target = acked.len() + keys;
    let started = Instant::now();
    while acked.len() < target && started.elapsed() < Duration::from_secs(60) {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((key, version)) => record(acked, key, version),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("child exited early"),
        }
    }
    child.kill().expect("SIGKILL child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    reader.join().unwrap();
    // Acknowledgements printed before death but read after the kill count too.
    for (key, version) in rx.try_iter() {
        record(acked, key, version);
    }
}

/// Reopens the store and checks every acknowledged write is there.
fn verify(db: &Path, acked: &HashMap<String, u64>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(db).expect("reopen after kill -9");
        let mut lost = Vec::new();
        for (key, version) in acked {
            match store.get(key).await.unwrap() {
                // A later write may have committed without being acknowledged; never an older one.
                Some(kv) if version_of(&kv.value).is_some_and(|v| v >= *version) => {}
                other => lost.push(format!("{key}@{version}: {other:?}")),
            }
        }
        assert!(
            lost.is_empty(),
            "{} acknowledged writes lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(3)]
        );
        let revision = store.current_revision().await.unwrap();
        assert!(
            revision >= acked.len() as i64,
            "revision {revision} below {} acknowledged keys",
            acked.len()
        );
        // The store keeps working after recovery, with the next revision.
        let key = format!("/after/{revision}");
        assert_eq!(
            store
                .create(&key, Bytes::from_static(b"ok"), None)
                .await
                .unwrap(),
            revision + 1
        );
    });
}
