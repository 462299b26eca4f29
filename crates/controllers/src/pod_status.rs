//! Pod status that controllers write: `DisruptionTarget` before a controller deletes a pod (so
//! the pod's owner, e.g. a Job's podFailurePolicy, can tell why it went), `Ready=False` for
//! pods on a node that stopped reporting (so workloads stop counting them available), and
//! phase Failed for pods force-deleted without a kubelet to finish them.

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

/// Set `condition` on the pod's status from a fresh read (see [`write_status`]).
pub async fn set_condition(
    api: &Api<Pod>,
    pod: &Pod,
    condition: &PodCondition,
) -> anyhow::Result<bool> {
    write_status(api, pod, &condition.type_, |_| Change {
        condition: Some(condition.clone()),
        fail: false,
    })
    .await
}

/// Upstream's `MarkPodsNotReady` for one pod: an existing Ready condition turns False, keeping
/// its reason and message. `Ok(true)` when the pod was marked now.
pub async fn mark_not_ready(api: &Api<Pod>, pod: &Pod) -> anyhow::Result<bool> {
    let mut marked = false;
    write_status(api, pod, "Ready", |pod| {
        let ready = conditions_of(pod)
            .iter()
            .find(|c| c.type_ == "Ready")
            .cloned();
        marked = ready.as_ref().is_some_and(|r| r.status != "False");
        Change {
            condition: ready.filter(|_| marked).map(|r| PodCondition {
                status: "False".into(),
                ..r
            }),
            fail: false,
        }
    })
    .await?;
    Ok(marked)
}

/// Before a controller force-deletes a pod no kubelet will finish (upstream's
/// `markFailedAndDeletePodWithCondition`): a pod not yet Succeeded or Failed turns Failed,
/// with `condition` if given. `Ok(false)` when the pod is gone.
pub async fn mark_failed(
    api: &Api<Pod>,
    pod: &Pod,
    condition: Option<&PodCondition>,
) -> anyhow::Result<bool> {
    write_status(api, pod, "phase", |pod| {
        let terminal = matches!(crate::pods::phase(pod), "Succeeded" | "Failed");
        Change {
            condition: condition.filter(|_| !terminal).cloned(),
            fail: !terminal,
        }
    })
    .await
}

/// A change to a pod's status.
struct Change {
    condition: Option<PodCondition>,
    /// Set the phase to Failed.
    fail: bool,
}

fn conditions_of(pod: &Pod) -> &[PodCondition] {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

/// Write the change `wanted` derives from a fresh read of `cached` (the pod a controller
/// decided about), guarded by the pod's resourceVersion and retried on conflicts. `Ok(false)`
/// when that pod is gone (or replaced by another of the same name); a status already as wanted
/// is not written again.
async fn write_status(
    api: &Api<Pod>,
    cached: &Pod,
    what: &str,
    mut wanted: impl FnMut(&Pod) -> Change,
) -> anyhow::Result<bool> {
    let name = cached.metadata.name.as_deref().unwrap_or_default();
    for _ in 0..RETRIES {
        let Some(pod) = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading pod {name}"))?
        else {
            return Ok(false);
        };
        if pod.metadata.uid != cached.metadata.uid {
            return Ok(false);
        }
        let change = wanted(&pod);
        let mut status = serde_json::Map::new();
        if let Some(condition) = change.condition {
            let mut conditions = conditions_of(&pod).to_vec();
            if update_condition(&mut conditions, condition, jiff::Timestamp::now()) {
                status.insert("conditions".into(), json!(conditions));
            }
        }
        if change.fail && crate::pods::phase(&pod) != "Failed" {
            status.insert("phase".into(), json!("Failed"));
        }
        if status.is_empty() {
            return Ok(true);
        }
        let patch = json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": status,
        });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e).with_context(|| format!("setting {what} of pod {name}")),
        }
    }
    anyhow::bail!("pod {name} kept changing while setting its {what}")
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
