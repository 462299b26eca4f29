//! Pod conditions that controllers write: `DisruptionTarget` before a controller deletes a pod
//! (so the pod's owner, e.g. a Job's podFailurePolicy, can tell why it went) and `Ready=False`
//! for pods on a node that stopped reporting (so workloads stop counting them available).

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// The condition type marking a pod about to be deleted by a disruption (GA since 1.31).
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";

/// Upstream retries a conflicting pod status write this many times.
const RETRIES: usize = 5;

/// The `DisruptionTarget=True` condition with a controller's reason and message.
pub fn disruption_target(reason: &str, message: &str) -> PodCondition {
    PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        ..Default::default()
    }
}

/// Put `condition` in `conditions` as upstream's `UpdatePodCondition` does: the transition
/// time is now unless the status stays the same. Returns whether anything changed.
pub fn update_condition(
    conditions: &mut Vec<PodCondition>,
    mut condition: PodCondition,
    now: jiff::Timestamp,
) -> bool {
    condition.last_transition_time = Some(Time(now));
    let Some(old) = conditions.iter_mut().find(|c| c.type_ == condition.type_) else {
        conditions.push(condition);
        return true;
    };
    if old.status == condition.status {
        condition.last_transition_time = old.last_transition_time.clone();
    }
    let changed = old.status != condition.status
        || old.reason != condition.reason
        || old.message != condition.message
        || old.last_probe_time != condition.last_probe_time
        || old.last_transition_time != condition.last_transition_time;
    *old = condition;
    changed
}

/// Set `condition` on the pod's status from a fresh read (see [`write_condition`]).
pub async fn set_condition(
    api: &Api<Pod>,
    name: &str,
    condition: &PodCondition,
) -> anyhow::Result<bool> {
    write_condition(api, name, &condition.type_, |_| Some(condition.clone())).await
}

/// Upstream's `MarkPodsNotReady` for one pod: an existing Ready condition turns False, keeping
/// its reason and message. `Ok(true)` when the pod was marked now.
pub async fn mark_not_ready(api: &Api<Pod>, name: &str) -> anyhow::Result<bool> {
    let mut marked = false;
    write_condition(api, name, "Ready", |conditions| {
        let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
        marked = ready.status != "False";
        marked.then(|| PodCondition {
            status: "False".into(),
            ..ready.clone()
        })
    })
    .await?;
    Ok(marked)
}

/// Write the condition `wanted` derives from the pod's current conditions (`None`: nothing to
/// write) from a fresh read, guarded by the pod's resourceVersion and retried on conflicts.
/// `Ok(false)` when the pod is gone; a condition already as wanted is not written again.
async fn write_condition(
    api: &Api<Pod>,
    name: &str,
    kind: &str,
    mut wanted: impl FnMut(&[PodCondition]) -> Option<PodCondition>,
) -> anyhow::Result<bool> {
    for _ in 0..RETRIES {
        let Some(pod) = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading pod {name}"))?
        else {
            return Ok(false);
        };
        let mut conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let Some(condition) = wanted(&conditions) else {
            return Ok(true);
        };
        if !update_condition(&mut conditions, condition, jiff::Timestamp::now()) {
            return Ok(true);
        }
        let patch = json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e).with_context(|| format!("setting {kind} on pod {name}")),
        }
    }
    anyhow::bail!("pod {name} kept changing while setting its {kind} condition")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: &str, at: jiff::Timestamp) -> PodCondition {
        PodCondition {
            type_: "Ready".into(),
            status: status.into(),
            last_transition_time: Some(Time(at)),
            ..Default::default()
        }
    }

    #[test]
    fn a_status_change_moves_the_transition_time() {
        let then = jiff::Timestamp::from_second(1_000).unwrap();
        let now = jiff::Timestamp::from_second(2_000).unwrap();
        let mut conds = vec![ready("True", then)];
        assert!(update_condition(&mut conds, ready("False", then), now));
        assert_eq!(conds[0].status, "False");
        assert_eq!(conds[0].last_transition_time, Some(Time(now)));
        // The same status again changes nothing.
        assert!(!update_condition(&mut conds, ready("False", then), now));
    }

    #[test]
    fn a_new_condition_is_appended() {
        let now = jiff::Timestamp::from_second(2_000).unwrap();
        let mut conds = vec![];
        let c = disruption_target("DeletionByPodGC", "PodGC: node no longer exists");
        assert!(update_condition(&mut conds, c, now));
        assert_eq!(conds[0].type_, DISRUPTION_TARGET);
        assert_eq!(conds[0].last_transition_time, Some(Time(now)));
    }
}
