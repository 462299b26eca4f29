//! Upstream's defaults, field by field: a minimal object of each representative kind
//! (tests/data/defaults/input) is created with kubectl, and `kubectl get -o yaml
//! --show-managed-fields` must equal the object upstream v1.33 stores
//! (tests/data/defaults/expected). The Pod, Deployment and Service expectations are upstream's
//! recorded answers (the project's golden responses); the others follow upstream's
//! `SetDefaults_*` functions, strategies and Go encoding.
//!
//! Ignored: uid, resourceVersion, creationTimestamp, managed-field times and allocated cluster
//! IPs. In expected files `$UID` stands for the object's own uid and `$GENERATED` for a
//! generated name (`kube-api-access-xxxxx`).

use rkube_testkit::TestServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/defaults")
}

/// Flatten a value into `path -> leaf`.
fn flatten(v: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                flatten(c, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                flatten(c, format!("{path}[{i}]"), out);
            }
        }
        _ => {
            out.insert(path, v.clone());
        }
    }
}

/// Drop what differs from run to run.
fn normalize(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(k);
        }
        if let Some(entries) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in entries {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("parsing YAML")
}

/// Compare one kind; returns the differences.
fn compare(expected: &Value, actual: &Value) -> Vec<String> {
    let uid = actual["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (mut want, mut got) = (BTreeMap::new(), BTreeMap::new());
    let mut expected = expected.clone();
    let mut actual = actual.clone();
    normalize(&mut expected);
    normalize(&mut actual);
    flatten(&expected, String::new(), &mut want);
    flatten(&actual, String::new(), &mut got);
    let matches = |w: &Value, g: Option<&Value>| match (w.as_str(), g) {
        (Some(ws), Some(Value::String(gs))) if ws.contains("$UID") => {
            ws.replace("$UID", &uid) == *gs
        }
        (Some("$GENERATED"), Some(Value::String(gs))) => gs.starts_with("kube-api-access-"),
        (_, g) => g == Some(w),
    };
    let mut diffs = Vec::new();
    for (path, w) in &want {
        let g = got.get(path);
        if !matches(w, g) {
            diffs.push(format!(
                "{path}: want {w}, got {}",
                g.map_or("nothing".into(), Value::to_string)
            ));
        }
    }
    for (path, g) in &got {
        if !want.contains_key(path) {
            diffs.push(format!("{path}: not upstream's, got {g}"));
        }
    }
    diffs
}

#[test]
fn created_objects_carry_upstreams_defaults() {
    // No controller writes status: the objects are as their create left them.
    let s = TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-controllers", "--disable-scheduler"],
    )
    .expect("starting rkube");
    let ns = s.kubectl(&["create", "namespace", "golden"]);
    assert!(ns.success, "{}", ns.all());
    // The upstream cluster the expectations were recorded on had no default StorageClass;
    // rkube ships one (`local-path`, as k3s does), which would name itself in the claim.
    let sc = s.kubectl(&["delete", "storageclass", "local-path"]);
    assert!(sc.success, "{}", sc.all());

    let mut names: Vec<String> = std::fs::read_dir(data_dir().join("expected"))
        .expect("reading expected/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "a dozen representative kinds: {names:?}");

    let mut failures = Vec::new();
    for name in &names {
        let input = data_dir().join("input").join(name);
        let input = input.to_string_lossy();
        let created = s.kubectl(&["create", "-n", "golden", "-f", &input]);
        assert!(created.success, "{name}: {}", created.all());
        let got = s.kubectl(&[
            "get",
            "-n",
            "golden",
            "-f",
            &input,
            "-o",
            "yaml",
            "--show-managed-fields",
        ]);
        assert!(got.success, "{name}: {}", got.all());
        let expected = std::fs::read_to_string(data_dir().join("expected").join(name))
            .expect("reading the expected object");
        let diffs = compare(&yaml(&expected), &yaml(&got.stdout));
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "objects differ from upstream's:\n{}",
        failures.join("\n")
    );
}
