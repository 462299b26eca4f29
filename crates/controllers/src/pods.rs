//! Facts about pods that several controllers need: active, ready, available (for
//! minReadySeconds), which to delete first, and building a pod from a template.

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::time::Duration;

mod deletion;

pub use deletion::{
    POD_DELETION_COST, Ranked, colocation_ranks, deletion_cost, deletion_order, sort_ranked,
};

/// The pod's phase, empty when unset.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Not finished and not being deleted: what replica counts count.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// Being deleted but not finished.
pub fn is_terminating(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_some()
}

/// When the Ready condition last turned True, if it is True.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    if cond.status != "True" {
        return None;
    }
    Some(
        cond.last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// The Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds`; when ready but not yet long enough, also how long
/// until it will be.
pub fn availability(
    pod: &Pod,
    min_ready_seconds: i32,
    now: jiff::Timestamp,
) -> (bool, Option<Duration>) {
    let Some(since) = ready_since(pod) else {
        return (false, None);
    };
    if min_ready_seconds <= 0 {
        return (true, None);
    }
    let ready_for = now.as_millisecond() - since.as_millisecond();
    let need = i64::from(min_ready_seconds) * 1000;
    if ready_for >= need {
        (true, None)
    } else {
        (
            false,
            Some(Duration::from_millis((need - ready_for) as u64 + 1)),
        )
    }
}

/// A pod to create from `template`, owned by `owner`, named `<prefix>-<random>` by the server.
pub fn from_template(template: &PodTemplateSpec, owner: OwnerReference, prefix: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{prefix}-")),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}
