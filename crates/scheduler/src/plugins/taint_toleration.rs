//! TaintToleration: NoSchedule/NoExecute taints the pod does not tolerate (filter), and how many
//! PreferNoSchedule taints it does not tolerate (score, fewer is better).

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{Taint, Toleration};

/// Whether `t` tolerates `taint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    if !effect_ok {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        "Equal" | "" => {
            key == taint.key
                && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// Filter: the first NoSchedule/NoExecute taint the pod does not tolerate.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<String> {
    node.taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|taint| !pod.tolerations.iter().any(|t| tolerates(t, taint)))
        .map(|t| {
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )
        })
}

/// Raw score: the number of PreferNoSchedule taints not tolerated (normalized in reverse).
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let prefer: Vec<&Toleration> = pod
        .tolerations
        .iter()
        .filter(|t| {
            t.effect
                .as_deref()
                .is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
        })
        .collect();
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|taint| !prefer.iter().any(|t| tolerates(t, taint)))
        .count() as i64
}
