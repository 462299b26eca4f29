//! `pods/binding`: assign a pod to a node (what the scheduler asks for every pod it places).
//!
//! A binding sets `spec.nodeName` and the `PodScheduled` condition and nothing else, so it edits
//! the stored JSON in place: the pod's metadata (with its managed fields) and its spec are
//! copied through field by field as raw JSON, never built into a tree and written out again;
//! only the small status is. At thousands of bindings a second this was the largest part of their cost.

use super::{Api, ApiRequest};
use axum::response::Response;
use bytes::Bytes;
use rkube_machinery::{ApiError, ErrorList, FieldError, FieldPath};
use rkube_store::Revision;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::fmt;

pub async fn bind(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let binding: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("unable to decode Binding: {e}")))?;
    let node = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() {
        let mut errs = ErrorList::new();
        errs.push(FieldError::required(
            FieldPath::new("target").child("name"),
            "",
        ));
        return Err(ApiError::invalid("Binding", "", req.name(), &errs));
    }
    let dry_run = req.query.dry_run()?;
    let gr = req.gr();
    let key = req.key();
    // The first try reads the pod from the watch cache; the write is guarded by the revision
    // read, so a stale copy only costs a retry, which reads the store.
    let mut from_cache = api.caches.get(req.resource).and_then(|c| c.get(&key));
    loop {
        let (json, revision): (Bytes, Revision) = match from_cache.take() {
            Some(c) => (c.json.clone(), c.revision),
            None => {
                let kv = api
                    .store
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| crate::storage::api_error(e, &gr, req.name()))?
                    .ok_or_else(|| ApiError::not_found(&gr, req.name()))?;
                (kv.value, kv.mod_revision)
            }
        };
        let assigned = match assign(&json, node, &crate::object::now_rfc3339()) {
            Ok(bytes) => bytes,
            Err(Refusal::Deleting) => {
                return Err(ApiError::conflict(
                    &gr,
                    req.name(),
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            Err(Refusal::Assigned(existing)) => {
                return Err(ApiError::conflict(
                    &gr,
                    req.name(),
                    &format!(
                        "pod {} is already assigned to node {existing:?}",
                        req.name()
                    ),
                ));
            }
            Err(Refusal::Malformed(e)) => {
                return Err(ApiError::internal(format!(
                    "stored pod {key} is not valid JSON: {e}"
                )));
            }
        };
        let written = dry_run
            || api
                .store
                .update_encoded(&key, assigned, revision, req.resource, req.name())
                .await?
                .is_some();
        if written {
            return Ok(crate::http::json(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ));
        }
    }
}

/// Why a pod cannot be bound.
#[derive(Debug, PartialEq)]
enum Refusal {
    Deleting,
    Assigned(String),
    Malformed(String),
}

/// The stored form of the pod in `json` (stored bytes, or the watch cache's copy with its
/// resourceVersion) bound to `node` at `now`: `spec.nodeName` set and the `PodScheduled`
/// condition True, every other field copied as it was; `resourceVersion` and `selfLink` are
/// left out, as every stored object's are.
fn assign(json: &[u8], node: &str, now: &str) -> Result<Bytes, Refusal> {
    let malformed = |e: serde_json::Error| Refusal::Malformed(e.to_string());
    let top = entries(&mut serde_json::Deserializer::from_slice(json)).map_err(malformed)?;
    let mut out = Vec::with_capacity(json.len() + 160);
    out.push(b'{');
    let (mut spec_seen, mut status_seen) = (false, false);
    for (key, raw) in &top {
        let value = match key.as_str() {
            "metadata" => {
                let meta = entries(&mut serde_json::Deserializer::from_str(raw.get()))
                    .map_err(malformed)?;
                if meta.iter().any(|(k, _)| k == "deletionTimestamp") {
                    return Err(Refusal::Deleting);
                }
                let kept = meta
                    .iter()
                    .filter(|(k, _)| k != "resourceVersion" && k != "selfLink");
                let mut m = Vec::with_capacity(raw.get().len());
                write_object(&mut m, kept.map(|(k, v)| (k.as_str(), v.get().as_bytes())));
                m
            }
            "spec" => {
                spec_seen = true;
                let fields = entries(&mut serde_json::Deserializer::from_str(raw.get()))
                    .map_err(malformed)?;
                let node_json = serde_json::to_vec(node).map_err(malformed)?;
                let mut m = Vec::with_capacity(raw.get().len() + node_json.len() + 12);
                let mut replaced = false;
                m.push(b'{');
                for (k, v) in &fields {
                    if k == "nodeName" {
                        let existing: Option<String> =
                            serde_json::from_str(v.get()).map_err(malformed)?;
                        if let Some(existing) = existing.filter(|n| !n.is_empty()) {
                            return Err(Refusal::Assigned(existing));
                        }
                        push_field(&mut m, k, &node_json);
                        replaced = true;
                    } else {
                        push_field(&mut m, k, v.get().as_bytes());
                    }
                }
                if !replaced {
                    push_field(&mut m, "nodeName", &node_json);
                }
                m.push(b'}');
                m
            }
            "status" => {
                status_seen = true;
                let mut status: Value = serde_json::from_str(raw.get()).map_err(malformed)?;
                scheduled(&mut status, now);
                serde_json::to_vec(&status).map_err(malformed)?
            }
            _ => raw.get().as_bytes().to_vec(),
        };
        push_field(&mut out, key, &value);
    }
    if !spec_seen {
        push_field(
            &mut out,
            "spec",
            json!({"nodeName": node}).to_string().as_bytes(),
        );
    }
    if !status_seen {
        let mut status = json!({});
        scheduled(&mut status, now);
        push_field(&mut out, "status", status.to_string().as_bytes());
    }
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// Replace the `PodScheduled` condition of `status` with a True one.
fn scheduled(status: &mut Value, now: &str) {
    let mut conds: Vec<Value> = status
        .get_mut("conditions")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    conds.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conds.push(
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
        "lastTransitionTime": now}),
    );
    if !status.is_object() {
        *status = json!({});
    }
    status["conditions"] = Value::Array(conds);
}

fn write_object<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = (&'a str, &'a [u8])>) {
    out.push(b'{');
    for (k, v) in fields {
        push_field(out, k, v);
    }
    out.push(b'}');
}

/// Append `"key":value` (with a separating comma after the object's first field).
fn push_field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, key).expect("strings always serialize");
    out.push(b':');
    out.extend_from_slice(value);
}

/// The fields of a JSON object in order, each value as raw JSON.
fn entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, &'de RawValue)>, D::Error> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                out.push((k, map.next_value::<&'de RawValue>()?));
            }
            Ok(out)
        }
    }
    d.deserialize_map(Fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-06T05:00:00Z";

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "resourceVersion": "7",
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}],
                "schedulerName": "default-scheduler"},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
                {"type": "Other", "status": "True"}]}})
    }

    /// What the same edit on a JSON tree gives: the binding's result, field for field.
    fn by_tree(mut p: Value) -> Value {
        p["metadata"]
            .as_object_mut()
            .unwrap()
            .shift_remove("resourceVersion");
        p["spec"]["nodeName"] = json!("n1");
        scheduled(&mut p["status"], NOW);
        p
    }

    #[test]
    fn sets_node_and_condition_and_keeps_the_rest_byte_for_byte() {
        let bytes = serde_json::to_vec(&pod()).unwrap();
        let out = assign(&bytes, "n1", NOW).unwrap();
        assert_eq!(out, serde_json::to_vec(&by_tree(pod())).unwrap());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["status"]["conditions"][1]["type"], "PodScheduled");
        assert_eq!(v["status"]["conditions"][1]["status"], "True");
        assert_eq!(v["status"]["conditions"][0]["type"], "Other");
    }

    #[test]
    fn refuses_assigned_and_deleting_pods() {
        let mut p = pod();
        p["spec"]["nodeName"] = json!("n0");
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(
            assign(&bytes, "n1", NOW),
            Err(Refusal::Assigned("n0".into()))
        );
        let mut p = pod();
        p["metadata"]["deletionTimestamp"] = json!(NOW);
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(assign(&bytes, "n1", NOW), Err(Refusal::Deleting));
        assert!(matches!(
            assign(b"{\"spec\": [", "n1", NOW),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn adds_spec_and_status_when_missing() {
        let out = assign(br#"{"kind":"Pod","metadata":{"name":"p"}}"#, "n1", NOW).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["spec"]["nodeName"], "n1");
        assert_eq!(v["status"]["conditions"][0]["type"], "PodScheduled");
        assert_eq!(v["metadata"]["name"], "p");
    }
}
