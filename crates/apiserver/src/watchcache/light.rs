//! Reading a stored object's metadata without building a JSON tree.
//!
//! The watch cache decodes every write. Parsing a whole object into a `serde_json::Value` and
//! writing it out again (to stamp its resourceVersion) was about a tenth of a create's CPU time;
//! here only the metadata fields the cache indexes are read, the rest is skipped, and the
//! resourceVersion is written into the stored bytes as the last field of `metadata`, where
//! [`crate::storage::set_resource_version`] puts it on the slow path.

use bytes::{BufMut, Bytes, BytesMut};
use rkube_store::Revision;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// What the cache needs of one stored object.
pub(super) struct Light {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub deleting: bool,
    /// The object with its resourceVersion.
    pub json: Bytes,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    metadata: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
    #[serde(default)]
    resource_version: Option<IgnoredAny>,
}

/// Read `json` (a stored object, which carries no resourceVersion) and stamp `revision` into
/// it. `None` when the value is not in the form this expects; the caller then parses it fully.
pub(super) fn read(json: &[u8], revision: Revision) -> Option<Light> {
    let head: Head = serde_json::from_slice(json).ok()?;
    let raw = head.metadata.get();
    let meta: Meta = serde_json::from_str(raw).ok()?;
    if meta.resource_version.is_some() {
        return None;
    }
    // Where the metadata object closes in `json` (`raw` borrows from it).
    let start = (raw.as_ptr() as usize).checked_sub(json.as_ptr() as usize)?;
    let close = start + raw.trim_end().len().checked_sub(1)?;
    if json.get(close) != Some(&b'}') {
        return None;
    }
    let empty = raw[1..raw.len() - 1].trim().is_empty();
    let rv = revision.to_string();
    let mut out = BytesMut::with_capacity(json.len() + rv.len() + 24);
    out.put_slice(&json[..close]);
    if !empty {
        out.put_u8(b',');
    }
    out.put_slice(b"\"resourceVersion\":\"");
    out.put_slice(rv.as_bytes());
    out.put_u8(b'"');
    out.put_slice(&json[close..]);
    Some(Light {
        name: meta.name.unwrap_or_default(),
        namespace: meta.namespace.filter(|n| !n.is_empty()),
        labels: meta.labels.unwrap_or_default(),
        deleting: meta.deletion_timestamp.is_some(),
        json: out.freeze(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn slow(obj: &Value, rev: Revision) -> Value {
        let mut o = obj.clone();
        crate::storage::set_resource_version(&mut o, rev);
        o
    }

    #[test]
    fn stamps_the_revision_like_the_slow_path() {
        for obj in [
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"}},
                   "data": {"metadata": "{not this}"}}),
            json!({"kind": "Namespace", "metadata": {"name": "kube-system"}, "spec": {}}),
            json!({"metadata": {}, "kind": "Thing"}),
        ] {
            let bytes = serde_json::to_vec(&obj).unwrap();
            let light = read(&bytes, 42).unwrap();
            let stamped: Value = serde_json::from_slice(&light.json).unwrap();
            assert_eq!(stamped, slow(&obj, 42));
            // The same bytes the slow path writes, key order included.
            assert_eq!(light.json, serde_json::to_vec(&slow(&obj, 42)).unwrap());
        }
    }

    #[test]
    fn reads_the_indexed_metadata() {
        let obj = json!({"metadata": {"name": "p", "namespace": "ns",
            "labels": {"app": "web"}, "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        let light = read(&serde_json::to_vec(&obj).unwrap(), 7).unwrap();
        assert_eq!(light.name, "p");
        assert_eq!(light.namespace.as_deref(), Some("ns"));
        assert_eq!(light.labels.get("app").map(String::as_str), Some("web"));
        assert!(light.deleting);
    }

    #[test]
    fn leaves_unusual_values_to_the_slow_path() {
        for raw in [
            &br#"{"metadata":{"name":"a","resourceVersion":"3"}}"#[..],
            br#"{"kind":"NoMeta"}"#,
            br#"{"metadata":{"labels":{"a":1}}}"#,
            br#"[1,2]"#,
        ] {
            assert!(read(raw, 1).is_none(), "{}", String::from_utf8_lossy(raw));
        }
    }
}
