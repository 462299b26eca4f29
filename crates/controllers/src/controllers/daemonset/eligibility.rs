//! Whether a DaemonSet's pod belongs on a node, as upstream's `NodeShouldRunDaemonPod` decides:
//! the template's nodeName, nodeSelector and required node affinity must match, and the node's
//! taints must be tolerated (counting the tolerations every daemon pod gets). A node whose
//! only untolerated taints are `NoSchedule` gets no new daemon, but one already there keeps
//! running; an untolerated `NoExecute` taint evicts it.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Taint, Toleration};
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Where a node stands for one DaemonSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// A daemon pod should be created here if none exists.
    pub should_run: bool,
    /// A daemon pod already here may stay.
    pub should_continue_running: bool,
}

/// Tolerations every daemon pod gets, as upstream adds them.
pub fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

fn tolerates(tols: &[Toleration], taint: &Taint) -> bool {
    tols.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t
            .key
            .as_deref()
            .is_none_or(|k| k.is_empty() || k == taint.key);
        let value_ok = match t.operator.as_deref() {
            Some("Exists") => true,
            None | Some("") | Some("Equal") => {
                t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
            }
            Some(_) => false,
        };
        effect_ok && key_ok && value_ok
    })
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let have = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => have.is_some_and(|h| values.contains(h)),
        "NotIn" => have.is_none_or(|h| !values.contains(h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" { h > v } else { h < v }
        }
        _ => false,
    }
}

/// Whether the template's nodeName, nodeSelector and required node affinity admit `node`.
fn fits_node(ds: &DaemonSet, node: &Node) -> bool {
    let spec = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    if let Some(name) = spec.and_then(|s| s.node_name.as_deref())
        && !name.is_empty()
        && name != node.name_any()
    {
        return false;
    }
    let labels = node.labels();
    if let Some(sel) = spec.and_then(|s| s.node_selector.as_ref())
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let Some(req) = required else {
        return true;
    };
    let fields = BTreeMap::from([("metadata.name".to_string(), node.name_any())]);
    req.node_selector_terms.iter().any(|term| {
        term.match_expressions
            .iter()
            .flatten()
            .all(|r| requirement_matches(r, labels))
            && term
                .match_fields
                .iter()
                .flatten()
                .all(|r| requirement_matches(r, &fields))
    })
}

/// Where `node` stands for `ds`.
pub fn placement(ds: &DaemonSet, node: &Node) -> Placement {
    if !fits_node(ds, node) {
        return Placement {
            should_run: false,
            should_continue_running: false,
        };
    }
    let spec = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let mut tols = spec.and_then(|s| s.tolerations.clone()).unwrap_or_default();
    tols.extend(default_tolerations(host_network));
    let taints: Vec<&Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| !tolerates(&tols, t))
        .collect();
    Placement {
        should_run: !taints
            .iter()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"),
        should_continue_running: !taints.iter().any(|t| t.effect == "NoExecute"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(spec: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": spec}}
        }))
        .unwrap()
    }

    fn node(taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"zone": "a"}},
            "spec": {"taints": taints}
        }))
        .unwrap()
    }

    #[test]
    fn an_untolerated_no_schedule_taint_keeps_a_running_daemon() {
        let d = ds(json!({"containers": []}));
        let p = placement(&d, &node(json!([{"key": "k", "effect": "NoSchedule"}])));
        assert_eq!((p.should_run, p.should_continue_running), (false, true));
    }

    #[test]
    fn an_untolerated_no_execute_taint_evicts_the_daemon() {
        let d = ds(json!({"containers": []}));
        let p = placement(&d, &node(json!([{"key": "k", "effect": "NoExecute"}])));
        assert_eq!((p.should_run, p.should_continue_running), (false, false));
    }

    #[test]
    fn tolerated_taints_and_the_default_tolerations_admit_the_node() {
        let d = ds(
            json!({"containers": [], "tolerations": [{"key": "k", "operator": "Equal", "value": "v"}]}),
        );
        let n = node(json!([
            {"key": "k", "value": "v", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
        ]));
        let p = placement(&d, &n);
        assert_eq!((p.should_run, p.should_continue_running), (true, true));
    }

    #[test]
    fn a_node_the_selector_excludes_keeps_no_daemon() {
        let d = ds(json!({"containers": [], "nodeSelector": {"zone": "b"}}));
        let p = placement(&d, &node(json!([])));
        assert_eq!((p.should_run, p.should_continue_running), (false, false));
    }
}
