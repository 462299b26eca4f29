//! End-to-end: kube-rs's `watcher` and `reflector` (what every Rust controller is built on)
//! against a real `rkube server`: every change arrives once, in order, with increasing
//! resourceVersions; and a reflector that loses its server (restart) recovers the right state.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use rkube_testkit::TestServer;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube server")
}

async fn client(server: &TestServer) -> kube::Client {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(server.kubeconfig()).expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("a client config from the admin kubeconfig");
    kube::Client::try_from(config).expect("building the client")
}

fn configmap(name: &str, suite: &str, value: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"suite": suite}},
        "data": {"value": value},
    }))
    .expect("a ConfigMap")
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .expect("a resourceVersion")
        .parse()
        .expect("a numeric resourceVersion")
}

/// One change as the watcher reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: &'static str,
    name: String,
    value: String,
    rv: u64,
}

fn seen(kind: &'static str, cm: &ConfigMap) -> Seen {
    Seen {
        kind,
        name: cm.metadata.name.clone().unwrap_or_default(),
        value: cm
            .data
            .as_ref()
            .and_then(|d| d.get("value").cloned())
            .unwrap_or_default(),
        rv: rv(cm),
    }
}

/// A watcher event, reduced to its type and object.
type Ev = (&'static str, Option<ConfigMap>);

async fn next(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .expect("the watcher is running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_every_change_in_order() {
    let server = server();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");

    // Two objects exist before the watcher starts: they come in its initial list.
    for name in ["before-a", "before-b"] {
        cms.create(&PostParams::default(), &configmap(name, "order", "0"))
            .await
            .expect("create");
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let stream = watcher(
        cms.clone(),
        watcher::Config::default().labels("suite=order"),
    );
    let follower = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let event: Ev = match event {
                Ok(watcher::Event::Init) => ("INIT", None),
                Ok(watcher::Event::InitApply(cm)) => ("LISTED", Some(cm)),
                Ok(watcher::Event::InitDone) => ("INIT_DONE", None),
                Ok(watcher::Event::Apply(cm)) => ("APPLY", Some(cm)),
                Ok(watcher::Event::Delete(cm)) => ("DELETE", Some(cm)),
                Err(e) => panic!("watcher error: {e}"),
            };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    // The initial list.
    let (kind, _) = next(&mut rx).await;
    assert_eq!(kind, "INIT");
    let mut listed = Vec::new();
    loop {
        match next(&mut rx).await {
            ("LISTED", Some(cm)) => listed.push(cm.metadata.name.unwrap_or_default()),
            ("INIT_DONE", None) => break,
            other => panic!("unexpected event during the initial list: {other:?}"),
        }
    }
    listed.sort();
    assert_eq!(listed, ["before-a", "before-b"]);

    // Creates, updates and deletes, interleaved; what the API answered is what the watcher
    // must report, in the same order.
    let mut expected = Vec::new();
    let n = 24;
    for i in 0..n {
        let created = cms
            .create(
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), "order", "1"),
            )
            .await
            .expect("create");
        expected.push(seen("APPLY", &created));
        if i % 3 == 2 {
            let name = format!("cm-{}", i - 1);
            let patch = serde_json::json!({"data": {"value": format!("updated-{i}")}});
            let updated = cms
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("patch");
            expected.push(seen("APPLY", &updated));
        }
        if i % 4 == 3 {
            let name = format!("cm-{}", i - 2);
            let before = cms.get(&name).await.expect("get");
            cms.delete(&name, &DeleteParams::default())
                .await
                .expect("delete");
            // The DELETED event carries the object's last state at a newer revision.
            expected.push(Seen {
                rv: 0,
                ..seen("DELETE", &before)
            });
        }
    }
    // A change outside the selector must not show up.
    cms.create(
        &PostParams::default(),
        &configmap("other", "elsewhere", "x"),
    )
    .await
    .expect("create");

    let mut got = Vec::new();
    while got.len() < expected.len() {
        match next(&mut rx).await {
            (kind @ ("APPLY" | "DELETE"), Some(cm)) => got.push(seen(kind, &cm)),
            other => panic!("unexpected event {other:?} after {got:?}"),
        }
    }
    let rvs: Vec<u64> = got.iter().map(|s| s.rv).collect();
    assert!(
        rvs.windows(2).all(|w| w[0] < w[1]),
        "resourceVersions must increase: {rvs:?}"
    );
    for (g, e) in got.iter().zip(&expected) {
        if e.kind == "DELETE" {
            assert_eq!((g.kind, &g.name, &g.value), (e.kind, &e.name, &e.value));
            assert!(g.rv >= e.rv, "{g:?}");
        } else {
            assert_eq!(g, e);
        }
    }
    assert_eq!(got.len(), expected.len());
    // Nothing more (in particular not the ConfigMap outside the selector).
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "no further event expected"
    );
    follower.abort();
}

/// What the reflector's store holds: name -> value.
fn state(reader: &reflector::Store<ConfigMap>) -> BTreeMap<String, String> {
    reader
        .state()
        .iter()
        .map(|cm| {
            let s = seen("APPLY", cm);
            (s.name, s.value)
        })
        .collect()
}

async fn wait_for_state(
    reader: &reflector::Store<ConfigMap>,
    want: &BTreeMap<String, String>,
) -> Result<(), String> {
    for _ in 0..300 {
        if &state(reader) == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "reflector holds {:?}, want {want:?}",
        state(reader)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_recovers_after_a_server_restart() {
    let mut server = server();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut want = BTreeMap::new();
    for i in 0..10 {
        let name = format!("r-{i}");
        cms.create(&PostParams::default(), &configmap(&name, "recover", "v1"))
            .await
            .expect("create");
        want.insert(name, "v1".to_string());
    }

    let (reader, writer) = reflector::store();
    // What the watcher went through, for failure messages.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let history = log.clone();
    let inits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = inits.clone();
    let stream = reflector(
        writer,
        watcher(
            cms.clone(),
            watcher::Config::default().labels("suite=recover"),
        ),
    )
    .default_backoff()
    .inspect(move |e| {
        let line = match e {
            Ok(watcher::Event::Init) => "Init".to_string(),
            Ok(watcher::Event::InitDone) => "InitDone".to_string(),
            Ok(watcher::Event::InitApply(cm)) => format!("InitApply {}", seen("", cm).name),
            Ok(watcher::Event::Apply(cm)) => format!("Apply {}", seen("", cm).name),
            Ok(watcher::Event::Delete(cm)) => format!("Delete {}", seen("", cm).name),
            Err(err) => format!("error: {err}"),
        };
        history.lock().expect("history").push(line);
    })
    .inspect_ok(move |e| {
        if matches!(e, watcher::Event::Init) {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let follower = tokio::spawn(async move {
        // Errors while the server is away are expected; the backoff retries.
        stream.for_each(|_| async {}).await;
    });
    tokio::time::timeout(Duration::from_secs(20), reader.wait_until_ready())
        .await
        .expect("the reflector syncs")
        .expect("the reflector's writer is alive");
    wait_for_state(&reader, &want).await.expect("initial state");

    // A change the watcher sees, then a write elsewhere, so the watcher's last revision is
    // older than anything the restarted server keeps in its watch window.
    cms.patch(
        "r-0",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"value": "v2"}})),
    )
    .await
    .expect("patch");
    want.insert("r-0".into(), "v2".into());
    wait_for_state(&reader, &want)
        .await
        .expect("state after a patch");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "unrelated"}}))
                .unwrap(),
        )
        .await
        .expect("create a secret");

    server.restart().expect("restarting the server");

    // Changes after the restart: deletes, creates, an update.
    for i in [1, 2, 3] {
        let name = format!("r-{i}");
        cms.delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
        want.remove(&name);
    }
    for i in 10..15 {
        let name = format!("r-{i}");
        cms.create(&PostParams::default(), &configmap(&name, "recover", "v1"))
            .await
            .expect("create");
        want.insert(name, "v1".into());
    }
    cms.patch(
        "r-4",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"value": "v3"}})),
    )
    .await
    .expect("patch");
    want.insert("r-4".into(), "v3".into());

    if let Err(e) = wait_for_state(&reader, &want).await {
        panic!(
            "{e}\nwatcher events:\n{}\nserver log:\n{}",
            log.lock().expect("history").join("\n"),
            server.log()
        );
    }
    // The reflector holds what a fresh LIST says, resourceVersions included.
    let listed = cms
        .list(&kube::api::ListParams::default().labels("suite=recover"))
        .await
        .expect("list");
    let mut from_list: Vec<(String, u64)> = listed
        .items
        .iter()
        .map(|cm| (cm.metadata.name.clone().unwrap_or_default(), rv(cm)))
        .collect();
    let mut from_store: Vec<(String, u64)> = reader
        .state()
        .iter()
        .map(|cm| (cm.metadata.name.clone().unwrap_or_default(), rv(cm)))
        .collect();
    from_list.sort();
    from_store.sort();
    assert_eq!(from_store, from_list);
    // It got there by listing again: its old revision is out of the new server's window.
    let inits = inits.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        inits >= 2,
        "the watcher re-listed after the restart (saw {inits} initial lists): {:?}",
        log.lock().expect("history")
    );
    follower.abort();
}
