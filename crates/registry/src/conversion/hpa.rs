//! HorizontalPodAutoscalers: `autoscaling/v2` (the storage version) and `autoscaling/v1`.
//!
//! v1 knows only a CPU utilization target. As upstream does, everything else of a v2 object
//! travels through v1 in annotations, so a v1 client that reads and writes back an object loses
//! nothing: other metrics (`…/metrics`, in v1's own metric form, which names targets like
//! v2beta1 did), `status.currentMetrics` (`…/current-metrics`), `status.conditions`
//! (`…/conditions`) and `spec.behavior` (`…/behavior`, with upstream's capitalized field names).

use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// v2 → v1.
pub(super) fn v2_to_v1(mut obj: Value) -> Value {
    let Some(m) = obj.as_object_mut() else {
        return obj;
    };
    m.insert("apiVersion".into(), "autoscaling/v1".into());
    let mut annotations: Vec<(&str, String)> = Vec::new();

    if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
        let metrics = take_array(spec, "metrics");
        let mut others = Vec::new();
        for metric in metrics {
            match cpu_utilization_target(&metric) {
                Some(target) if !spec.contains_key("targetCPUUtilizationPercentage") => {
                    spec.insert("targetCPUUtilizationPercentage".into(), target.into());
                }
                Some(_) => {}
                None => others.push(metric_spec_to_v1(&metric)),
            }
        }
        if !others.is_empty() {
            annotations.push((METRICS, Value::Array(others).to_string()));
        }
        if let Some(behavior) = spec.remove("behavior") {
            annotations.push((BEHAVIOR, map_keys(&behavior, capitalize).to_string()));
        }
    }
    if let Some(status) = m.get_mut("status").and_then(Value::as_object_mut) {
        let current = take_array(status, "currentMetrics");
        if let Some(cpu) = current.iter().find_map(cpu_utilization_current) {
            status.insert("currentCPUUtilizationPercentage".into(), cpu.into());
        }
        if !current.is_empty() {
            let v1: Vec<Value> = current.iter().map(metric_status_to_v1).collect();
            annotations.push((CURRENT_METRICS, Value::Array(v1).to_string()));
        }
        let conditions = take_array(status, "conditions");
        if !conditions.is_empty() {
            annotations.push((CONDITIONS, Value::Array(conditions).to_string()));
        }
    }
    if !annotations.is_empty() {
        let meta = m
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(meta) = meta {
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(ann) = ann.as_object_mut() {
                for (k, v) in annotations {
                    ann.insert(k.into(), Value::String(v));
                }
            }
        }
    }
    obj
}

/// v1 → v2.
pub(super) fn v1_to_v2(mut obj: Value) -> Value {
    let Some(m) = obj.as_object_mut() else {
        return obj;
    };
    m.insert("apiVersion".into(), "autoscaling/v2".into());
    let mut ann = take_annotations(m);
    let other_metrics: Vec<Value> = take_json(&mut ann, METRICS)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let behavior = take_json(&mut ann, BEHAVIOR);
    let current: Vec<Value> = take_json(&mut ann, CURRENT_METRICS)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let conditions = take_json(&mut ann, CONDITIONS);
    put_annotations(m, ann);

    let spec = m.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        let mut metrics: Vec<Value> = other_metrics.iter().map(metric_spec_to_v2).collect();
        if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage") {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": cpu}}}));
        }
        // v2's default when no metric is named: 80% CPU utilization.
        if metrics.is_empty() {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}));
        }
        spec.insert("metrics".into(), Value::Array(metrics));
        if let Some(b) = behavior {
            spec.insert("behavior".into(), map_keys(&b, uncapitalize));
        }
    }
    if let Some(status) = m.get_mut("status").and_then(Value::as_object_mut) {
        let cpu = status.remove("currentCPUUtilizationPercentage");
        let mut metrics: Vec<Value> = current.iter().map(metric_status_to_v2).collect();
        if metrics.is_empty()
            && let Some(cpu) = cpu
        {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": cpu}}}));
        }
        if !metrics.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(metrics));
        }
        if let Some(c) = conditions {
            status.insert("conditions".into(), c);
        }
    }
    obj
}

/// The averageUtilization of a v2 CPU Resource metric with a Utilization target.
fn cpu_utilization_target(metric: &Value) -> Option<i64> {
    let r = &metric["resource"];
    (metric["type"] == "Resource" && r["name"] == "cpu")
        .then(|| r["target"]["averageUtilization"].as_i64())
        .flatten()
}

fn cpu_utilization_current(metric: &Value) -> Option<i64> {
    let r = &metric["resource"];
    (metric["type"] == "Resource" && r["name"] == "cpu")
        .then(|| r["current"]["averageUtilization"].as_i64())
        .flatten()
}

/// A v2 MetricSpec in v1's annotation form.
fn metric_spec_to_v1(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = json!({"type": t});
    let target = |src: &Value| src["target"].clone();
    match t {
        "Object" => {
            let s = &m["object"];
            let tg = target(s);
            let mut o = json!({"target": s["describedObject"], "metricName": s["metric"]["name"]});
            copy(&s["metric"], "selector", &mut o, "selector");
            copy(&tg, "value", &mut o, "targetValue");
            copy(&tg, "averageValue", &mut o, "averageValue");
            out["object"] = o;
        }
        "Pods" => {
            let s = &m["pods"];
            let mut o = json!({"metricName": s["metric"]["name"]});
            copy(&s["metric"], "selector", &mut o, "selector");
            copy(&target(s), "averageValue", &mut o, "targetAverageValue");
            out["pods"] = o;
        }
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let s = &m[key];
            let mut o = json!({"name": s["name"]});
            copy(s, "container", &mut o, "container");
            copy(
                &target(s),
                "averageUtilization",
                &mut o,
                "targetAverageUtilization",
            );
            copy(&target(s), "averageValue", &mut o, "targetAverageValue");
            out[key] = o;
        }
        "External" => {
            let s = &m["external"];
            let mut o = json!({"metricName": s["metric"]["name"]});
            copy(&s["metric"], "selector", &mut o, "metricSelector");
            copy(&target(s), "value", &mut o, "targetValue");
            copy(&target(s), "averageValue", &mut o, "targetAverageValue");
            out["external"] = o;
        }
        _ => {}
    }
    out
}

/// v1's annotation form of a metric back to a v2 MetricSpec.
fn metric_spec_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = json!({"type": t});
    match t {
        "Object" => {
            let s = &m["object"];
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "selector", &mut metric, "selector");
            let mut tg = json!({});
            if s.get("averageValue").is_some() {
                tg["type"] = "AverageValue".into();
                copy(s, "averageValue", &mut tg, "averageValue");
            } else {
                tg["type"] = "Value".into();
                copy(s, "targetValue", &mut tg, "value");
            }
            out["object"] = json!({"describedObject": s["target"], "metric": metric, "target": tg});
        }
        "Pods" => {
            let s = &m["pods"];
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "selector", &mut metric, "selector");
            let mut tg = json!({"type": "AverageValue"});
            copy(s, "targetAverageValue", &mut tg, "averageValue");
            out["pods"] = json!({"metric": metric, "target": tg});
        }
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let s = &m[key];
            let mut tg = json!({});
            if s.get("targetAverageUtilization").is_some() {
                tg["type"] = "Utilization".into();
                copy(s, "targetAverageUtilization", &mut tg, "averageUtilization");
            } else {
                tg["type"] = "AverageValue".into();
                copy(s, "targetAverageValue", &mut tg, "averageValue");
            }
            let mut o = json!({"name": s["name"], "target": tg});
            copy(s, "container", &mut o, "container");
            out[key] = o;
        }
        "External" => {
            let s = &m["external"];
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "metricSelector", &mut metric, "selector");
            let mut tg = json!({});
            if s.get("targetAverageValue").is_some() {
                tg["type"] = "AverageValue".into();
                copy(s, "targetAverageValue", &mut tg, "averageValue");
            } else {
                tg["type"] = "Value".into();
                copy(s, "targetValue", &mut tg, "value");
            }
            out["external"] = json!({"metric": metric, "target": tg});
        }
        _ => {}
    }
    out
}

/// A v2 MetricStatus in v1's annotation form.
fn metric_status_to_v1(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = json!({"type": t});
    let key = status_key(t);
    let Some(key) = key else { return out };
    let s = &m[key];
    let cur = &s["current"];
    let mut o = json!({});
    match t {
        "Object" => {
            o["target"] = s["describedObject"].clone();
            o["metricName"] = s["metric"]["name"].clone();
            copy(&s["metric"], "selector", &mut o, "selector");
            copy(cur, "value", &mut o, "currentValue");
            copy(cur, "averageValue", &mut o, "averageValue");
        }
        "Pods" => {
            o["metricName"] = s["metric"]["name"].clone();
            copy(&s["metric"], "selector", &mut o, "selector");
            copy(cur, "averageValue", &mut o, "currentAverageValue");
        }
        "Resource" | "ContainerResource" => {
            o["name"] = s["name"].clone();
            copy(s, "container", &mut o, "container");
            copy(
                cur,
                "averageUtilization",
                &mut o,
                "currentAverageUtilization",
            );
            copy(cur, "averageValue", &mut o, "currentAverageValue");
        }
        _ => {
            o["metricName"] = s["metric"]["name"].clone();
            copy(&s["metric"], "selector", &mut o, "metricSelector");
            copy(cur, "value", &mut o, "currentValue");
            copy(cur, "averageValue", &mut o, "currentAverageValue");
        }
    }
    out[key] = o;
    out
}

/// v1's annotation form of a metric status back to a v2 MetricStatus.
fn metric_status_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = json!({"type": t});
    let Some(key) = status_key(t) else { return out };
    let s = &m[key];
    let mut cur = json!({});
    let o = match t {
        "Object" => {
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "selector", &mut metric, "selector");
            copy(s, "currentValue", &mut cur, "value");
            copy(s, "averageValue", &mut cur, "averageValue");
            json!({"describedObject": s["target"], "metric": metric, "current": cur})
        }
        "Pods" => {
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "selector", &mut metric, "selector");
            copy(s, "currentAverageValue", &mut cur, "averageValue");
            json!({"metric": metric, "current": cur})
        }
        "Resource" | "ContainerResource" => {
            copy(
                s,
                "currentAverageUtilization",
                &mut cur,
                "averageUtilization",
            );
            copy(s, "currentAverageValue", &mut cur, "averageValue");
            let mut o = json!({"name": s["name"], "current": cur});
            copy(s, "container", &mut o, "container");
            o
        }
        _ => {
            let mut metric = json!({"name": s["metricName"]});
            copy(s, "metricSelector", &mut metric, "selector");
            copy(s, "currentValue", &mut cur, "value");
            copy(s, "currentAverageValue", &mut cur, "averageValue");
            json!({"metric": metric, "current": cur})
        }
    };
    out[key] = o;
    out
}

fn status_key(t: &str) -> Option<&'static str> {
    Some(match t {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "External" => "external",
        _ => return None,
    })
}

/// Copy `src[from]` to `dst[to]` when present and not null.
fn copy(src: &Value, from: &str, dst: &mut Value, to: &str) {
    if let Some(v) = src.get(from).filter(|v| !v.is_null()) {
        dst[to] = v.clone();
    }
}

fn take_array(m: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match m.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

fn take_annotations(m: &mut Map<String, Value>) -> Map<String, Value> {
    m.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|meta| meta.remove("annotations"))
        .and_then(|a| match a {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default()
}

fn put_annotations(m: &mut Map<String, Value>, ann: Map<String, Value>) {
    if ann.is_empty() {
        return;
    }
    if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("annotations".into(), Value::Object(ann));
    }
}

/// Remove an annotation holding JSON and parse it (an unparsable one is dropped, as upstream
/// ignores it).
fn take_json(ann: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let raw = ann.remove(key)?;
    serde_json::from_str(raw.as_str()?).ok()
}

/// Rename every object key of `v` with `f`, recursively.
fn map_keys(v: &Value, f: fn(&str) -> String) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (f(k), map_keys(v, f))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| map_keys(v, f)).collect()),
        v => v.clone(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn uncapitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20, "averageValue": "10m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}]}})
    }

    #[test]
    fn v2_reads_as_v1_with_annotations() {
        let v1 = v2_to_v1(v2());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
        assert!(v1["spec"].get("metrics").is_none());
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 20);
        let ann = &v1["metadata"]["annotations"];
        let metrics: Value = serde_json::from_str(ann[METRICS].as_str().unwrap()).unwrap();
        assert_eq!(
            metrics,
            json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
        );
        let behavior: Value = serde_json::from_str(ann[BEHAVIOR].as_str().unwrap()).unwrap();
        assert_eq!(behavior["ScaleDown"]["StabilizationWindowSeconds"], 300);
        assert!(ann.get(CONDITIONS).is_some());
    }

    #[test]
    fn round_trip_through_v1_loses_nothing() {
        let back = v1_to_v2(v2_to_v1(v2()));
        let want = v2();
        assert_eq!(back["spec"]["behavior"], want["spec"]["behavior"]);
        assert_eq!(back["status"]["conditions"], want["status"]["conditions"]);
        assert_eq!(
            back["status"]["currentMetrics"],
            want["status"]["currentMetrics"]
        );
        // Order: the annotation's metrics first, then the CPU target, as upstream converts.
        let metrics = back["spec"]["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 2);
        assert_eq!(metrics[0]["resource"]["name"], "memory");
        assert_eq!(metrics[1], want["spec"]["metrics"][0]);
        assert!(back["metadata"].get("annotations").is_none());
    }

    #[test]
    fn v1_without_target_defaults_to_80_percent() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"}, "spec": {"maxReplicas": 3, "minReplicas": 1,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        let v2 = v1_to_v2(v1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
    }
}
