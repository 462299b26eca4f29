//! Events: core `v1` (the storage version) and `events.k8s.io/v1`.
//!
//! The two are the same object under other names: `regarding` is `involvedObject`, `note` is
//! `message`, `reportingController` is `reportingComponent`, and the old counting fields carry a
//! `deprecated` prefix in events.k8s.io.

use super::rename;
use serde_json::Value;

/// (events.k8s.io name, core name) of the fields that differ.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

pub(super) fn core_to_events(mut obj: Value) -> Value {
    if let Some(m) = obj.as_object_mut() {
        for (events, core) in RENAMES {
            rename(m, core, events);
        }
        m.insert("apiVersion".into(), "events.k8s.io/v1".into());
    }
    obj
}

pub(super) fn events_to_core(mut obj: Value) -> Value {
    if let Some(m) = obj.as_object_mut() {
        for (events, core) in RENAMES {
            rename(m, events, core);
        }
        m.insert("apiVersion".into(), "v1".into());
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hello", "reason": "Started",
            "source": {"component": "kubelet"}, "count": 3, "reportingComponent": "kubelet",
            "firstTimestamp": "2026-01-01T00:00:00Z", "type": "Normal"});
        let ev = core_to_events(core.clone());
        assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
        assert_eq!(ev["regarding"]["name"], "p");
        assert_eq!(ev["note"], "hello");
        assert_eq!(ev["deprecatedCount"], 3);
        assert_eq!(ev["reportingController"], "kubelet");
        assert_eq!(ev["deprecatedSource"]["component"], "kubelet");
        assert!(ev.get("message").is_none());
        assert_eq!(events_to_core(ev), core);
    }
}
