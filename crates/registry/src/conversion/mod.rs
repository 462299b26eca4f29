//! Conversion between the served versions of one stored resource.
//!
//! Upstream stores each resource in one version and converts on the way in and out, so every
//! served version sees the same objects. rkube has two such resources among the built-ins:
//! HorizontalPodAutoscalers (served as `autoscaling/v1` and `autoscaling/v2`, stored as v2) and
//! Events (served as core `v1` and `events.k8s.io/v1`, stored as core v1). [`storage_resource`]
//! names the version a resource is stored in; [`convert`] turns an object of one served version
//! into another.

mod event;
mod hpa;

use crate::catalog::{self, ResourceInfo};
use rkube_machinery::ApiError;
use serde_json::Value;

/// The resource (group, version) whose form objects of `info` are stored in. For all but the
/// multi-version resources this is `info` itself.
pub fn storage_resource(info: &'static ResourceInfo) -> &'static ResourceInfo {
    let stored = match (info.group, info.version, info.plural) {
        ("autoscaling", "v1", "horizontalpodautoscalers") => {
            catalog::find("autoscaling", "v2", "horizontalpodautoscalers")
        }
        ("events.k8s.io", "v1", "events") => catalog::find("", "v1", "events"),
        _ => None,
    };
    stored.unwrap_or(info)
}

/// Whether objects of `info` are stored in another version (and so need [`convert`]).
pub fn is_converted(info: &'static ResourceInfo) -> bool {
    !std::ptr::eq(storage_resource(info), info)
}

/// Convert `obj` (an object of any served version of the same stored resource) to the version of
/// `to`. An object already in that version is returned unchanged.
pub fn convert(obj: Value, to: &ResourceInfo) -> Result<Value, ApiError> {
    let from = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let target = to.api_version();
    if from == target {
        return Ok(obj);
    }
    let converted = match (from.as_str(), target.as_str(), to.plural) {
        ("autoscaling/v1", "autoscaling/v2", "horizontalpodautoscalers") => hpa::v1_to_v2(obj),
        ("autoscaling/v2", "autoscaling/v1", "horizontalpodautoscalers") => hpa::v2_to_v1(obj),
        ("v1", "events.k8s.io/v1", "events") => event::core_to_events(obj),
        ("events.k8s.io/v1", "v1", "events") => event::events_to_core(obj),
        _ => {
            return Err(ApiError::internal(format!(
                "no conversion of {} from {from} to {target}",
                to.kind
            )));
        }
    };
    Ok(converted)
}

/// Move `from` of `obj` to `to` (both top-level or dotted one level, like `spec.x`), if present.
fn rename(obj: &mut serde_json::Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = obj.remove(from) {
        obj.insert(to.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_versions() {
        let v1 = catalog::find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let v2 = catalog::find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        assert!(std::ptr::eq(storage_resource(v1), v2));
        assert!(std::ptr::eq(storage_resource(v2), v2));
        let ev = catalog::find("events.k8s.io", "v1", "events").unwrap();
        let core = catalog::find("", "v1", "events").unwrap();
        assert!(std::ptr::eq(storage_resource(ev), core));
        assert!(is_converted(ev) && !is_converted(core));
        let pods = catalog::find("", "v1", "pods").unwrap();
        assert!(std::ptr::eq(storage_resource(pods), pods));
    }
}
