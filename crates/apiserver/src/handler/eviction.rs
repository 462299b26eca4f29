//! `pods/eviction`: a pod delete that honours PodDisruptionBudgets (upstream's `EvictionREST`),
//! what `kubectl drain` and node-maintenance tools call.
//!
//! A pod that is not running (Pending, Succeeded, Failed) or already being deleted is deleted
//! at once. Otherwise the pod's one budget (more than one is refused) must allow a disruption:
//! the handler takes one from `status.disruptionsAllowed` with a guarded write and records the
//! pod in `status.disruptedPods`, so the disruption controller does not count it healthy while
//! the deletion is on its way. A budget at zero answers 429, which drain retries.
//!
//! Every eviction that deletes marks the pod first with the `DisruptionTarget` condition
//! (reason `EvictionByEvictionAPI`), through the pod's status, as upstream does since 1.26.

use super::create::Tracking;
use super::delete::{DeleteOptions, delete_object};
use super::update::{Target, guaranteed_update};
use super::{Api, ApiRequest};
use crate::object;
use axum::response::Response;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rkube_machinery::{ApiError, GroupResource, StatusReason};
use rkube_registry::ResourceInfo;
use serde_json::{Value, json};

/// Upstream's `MaxDisruptedPodSize`: beyond this many evictions the disruption controller has
/// not confirmed, further evictions under the budget are refused.
const MAX_DISRUPTED_PODS: usize = 2000;

/// Upstream retries conflicting pod or budget writes 20 times.
const RETRIES: usize = 20;

/// The `Status.details.causes[].reason` of a budget refusal (`policyv1.DisruptionBudgetCause`).
const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";

pub async fn evict(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let eviction: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("unable to decode Eviction: {e}")))?;
    if object::name(&eviction) != req.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let mut opts = eviction
        .get("deleteOptions")
        .map(DeleteOptions::from_body)
        .unwrap_or_default();
    opts.dry_run |= req.query.dry_run()?;

    let Some(pod) = delete_if_budget_does_not_apply(api, req, &opts).await? else {
        return Ok(success());
    };

    let budgets = budgets_of(api, &pod).await?;
    let mut delete_opts = opts.clone();
    let mut guarded_by_us = false;
    let budget_name = match budgets.as_slice() {
        [] => String::new(),
        [only] => {
            let name = only.0.metadata.name.clone().unwrap_or_default();
            let status = only.0.status.clone().unwrap_or_default();
            let always_allow = only
                .0
                .spec
                .as_ref()
                .and_then(|s| s.unhealthy_pod_eviction_policy.as_deref())
                == Some("AlwaysAllow");
            let enough_healthy =
                status.current_healthy >= status.desired_healthy && status.desired_healthy > 0;
            if !is_ready(&pod) && (always_allow || enough_healthy) {
                // An unready pod does not count as healthy: evicting it costs the budget
                // nothing, as long as it does not turn ready before the delete lands.
                if delete_opts.precondition_rv.is_none() {
                    delete_opts.precondition_rv =
                        object::meta_str(&pod, "resourceVersion").map(str::to_string);
                    guarded_by_us = true;
                }
            } else {
                take_one_disruption(api, &pod, only.clone(), opts.dry_run).await?;
            }
            name
        }
        _ => {
            return Err(ApiError::new(
                500,
                StatusReason::Unknown,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
    };

    match mark_and_delete(api, req, &delete_opts).await {
        Ok(_) => Ok(success()),
        Err(e) if e.code == 409 && guarded_by_us => Err(still_processing(&budget_name)),
        Err(e) => Err(e),
    }
}

/// Upstream's answer to a successful eviction (a created `Status`).
fn success() -> Response {
    crate::http::json(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

/// Delete the pod at once when no budget can apply to it (it is not running or already being
/// deleted); otherwise return it for the budget checks.
async fn delete_if_budget_does_not_apply(
    api: &Api,
    req: &ApiRequest,
    opts: &DeleteOptions,
) -> Result<Option<Value>, ApiError> {
    let key = req.key();
    for _ in 0..RETRIES {
        let pod = api
            .store
            .get(&key, req.resource, req.name())
            .await?
            .ok_or_else(|| ApiError::not_found(&req.gr(), req.name()))?
            .object;
        let phase = pod
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let deleting = object::deletion_timestamp(&pod).is_some();
        let terminal = matches!(phase, "Succeeded" | "Failed");
        if !(terminal || deleting || phase == "Pending") {
            return Ok(Some(pod));
        }
        let mut delete_opts = opts.clone();
        // A pending pod could turn running (and count towards a budget) meanwhile.
        let guard = !terminal && !deleting && opts.precondition_rv.is_none();
        if guard {
            delete_opts.precondition_rv =
                object::meta_str(&pod, "resourceVersion").map(str::to_string);
        }
        match mark_and_delete(api, req, &delete_opts).await {
            Ok(_) => return Ok(None),
            Err(e) if e.code == 409 && guard => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        &req.gr(),
        req.name(),
        "the pod kept changing while it was being evicted",
    ))
}

/// The `DisruptionTarget` condition the eviction API sets.
const DISRUPTION_TARGET_REASON: &str = "EvictionByEvictionAPI";
const DISRUPTION_TARGET_MESSAGE: &str = "Eviction API: evicting";

/// Upstream's `addConditionAndDeletePod`: unless this is a dry run, mark the latest pod
/// `DisruptionTarget` (honouring the delete preconditions, whose resourceVersion then moves to
/// the marked pod's), then delete it.
async fn mark_and_delete(
    api: &Api,
    req: &ApiRequest,
    opts: &DeleteOptions,
) -> Result<(u16, Value), ApiError> {
    let mut opts = opts.clone();
    if !opts.dry_run {
        let uid = opts.precondition_uid.clone();
        let marked = guaranteed_update(
            api,
            req,
            Target::Status,
            opts.precondition_rv.as_deref(),
            Tracking::Update,
            |pod| {
                let actual = object::meta_str(pod, "uid").unwrap_or("");
                if let Some(uid) = uid.as_deref().filter(|u| !u.is_empty() && *u != actual) {
                    return Err(ApiError::conflict(
                        &req.gr(),
                        req.name(),
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                        ),
                    ));
                }
                let mut pod = pod.clone();
                set_disruption_target(&mut pod, &object::now_rfc3339());
                Ok(pod)
            },
        )
        .await?;
        if opts.precondition_rv.is_some() {
            opts.precondition_rv = object::meta_str(&marked, "resourceVersion").map(str::to_string);
        }
    }
    delete_object(api, req, req.name(), &opts).await
}

/// Put `DisruptionTarget=True` in the pod's conditions as upstream's `UpdatePodCondition`
/// does: the transition time moves only when the status does.
fn set_disruption_target(pod: &mut Value, now: &str) {
    let Some(status) = pod
        .as_object_mut()
        .map(|p| p.entry("status").or_insert_with(|| json!({})))
    else {
        return;
    };
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    let mut condition = json!({
        "type": "DisruptionTarget", "status": "True",
        "reason": DISRUPTION_TARGET_REASON, "message": DISRUPTION_TARGET_MESSAGE,
        "lastTransitionTime": now,
    });
    match conditions
        .iter_mut()
        .find(|c| c.get("type") == Some(&json!("DisruptionTarget")))
    {
        Some(existing) => {
            if existing.get("status") == Some(&json!("True"))
                && let Some(t) = existing.get("lastTransitionTime")
            {
                condition["lastTransitionTime"] = t.clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

/// The Ready condition is True.
fn is_ready(pod: &Value) -> bool {
    pod.get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True")))
}

fn budgets_info() -> Result<&'static ResourceInfo, ApiError> {
    rkube_registry::catalog::find("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not in the catalog"))
}

/// A budget as typed fields (to read) and as stored JSON (to write back unchanged but for the
/// status), with the revision it was read at.
type Budget = (PodDisruptionBudget, Value, rkube_store::Revision);

fn budget_from_json(json: Value, revision: rkube_store::Revision) -> Result<Budget, ApiError> {
    let typed = serde_json::from_value(json.clone()).map_err(ApiError::internal)?;
    Ok((typed, json, revision))
}

/// The budgets in the pod's namespace whose (non-empty, valid) selector matches the pod.
async fn budgets_of(api: &Api, pod: &Value) -> Result<Vec<Budget>, ApiError> {
    let info = budgets_info()?;
    let Some(cache) = api.caches.get(info) else {
        return Err(ApiError::internal(
            "poddisruptionbudgets have no watch cache",
        ));
    };
    let labels = object::labels(pod);
    let filter = crate::watchcache::Filter {
        namespace: object::namespace(pod).map(str::to_string),
        labels: Default::default(),
        fields: Default::default(),
    };
    let mut out = Vec::new();
    for cached in cache.list(&filter).items {
        let json: Value = serde_json::from_slice(&cached.json).map_err(ApiError::internal)?;
        let budget = budget_from_json(json, cached.revision)?;
        let selector = budget
            .0
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(rkube_registry::meta::label_selector_of);
        // A missing or empty selector matches nothing here, unlike in list filters.
        if selector.is_some_and(|s| !s.is_empty() && s.matches(&labels)) {
            out.push(budget);
        }
    }
    Ok(out)
}

/// Upstream's `checkAndDecrement`, retried on conflicting writes with a fresh read of the
/// budget: refuse when the budget allows no disruption now, else take one.
async fn take_one_disruption(
    api: &Api,
    pod: &Value,
    mut budget: Budget,
    dry_run: bool,
) -> Result<(), ApiError> {
    let info = budgets_info()?;
    let namespace = object::namespace(pod).unwrap_or_default();
    let name = budget.0.metadata.name.clone().unwrap_or_default();
    let key = info.storage_key(Some(namespace), &name);
    for attempt in 0..RETRIES {
        if attempt > 0 {
            let fresh = api.store.get(&key, info, &name).await?.ok_or_else(|| {
                ApiError::not_found(&GroupResource::new("policy", "poddisruptionbudgets"), &name)
            })?;
            budget = budget_from_json(fresh.object, fresh.revision)?;
        }
        let (typed, mut json, revision) = budget.clone();
        let status = typed.status.clone().unwrap_or_default();
        check_allows_disruption(&typed, &name)?;
        let allowed = status.disruptions_allowed - 1;
        let st = json
            .as_object_mut()
            .ok_or_else(|| ApiError::internal("a stored budget is not an object"))?
            .entry("status")
            .or_insert_with(|| json!({}));
        st["disruptionsAllowed"] = json!(allowed);
        if allowed == 0 {
            set_disruption_not_allowed(st, status.observed_generation);
        }
        if dry_run {
            return Ok(());
        }
        let pod_name = object::name(pod).to_string();
        match st.get_mut("disruptedPods").and_then(Value::as_object_mut) {
            Some(m) => {
                m.insert(pod_name, json!(object::now_rfc3339()));
            }
            None => st["disruptedPods"] = json!({ pod_name: object::now_rfc3339() }),
        }
        if api
            .store
            .update(&key, json, revision, None, info, &name)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(ApiError::timeout(format!(
        "Timeout: couldn't update PodDisruptionBudget \"{name}\" due to conflicts"
    ))
    .with_retry_after(10))
}

/// The refusals of upstream's `checkAndDecrement`, in its order.
fn check_allows_disruption(budget: &PodDisruptionBudget, name: &str) -> Result<(), ApiError> {
    let status = budget.status.clone().unwrap_or_default();
    let gr = GroupResource::new("policy", "poddisruptionbudget");
    if status.observed_generation.unwrap_or(0) < budget.metadata.generation.unwrap_or(0) {
        return Err(still_processing(name));
    }
    if status.disruptions_allowed < 0 {
        return Err(ApiError::forbidden(
            &gr,
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    if status.disrupted_pods.as_ref().map_or(0, |m| m.len()) > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(
            &gr,
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if status.disruptions_allowed == 0 {
        return Err(refused().with_cause(
            DISRUPTION_BUDGET_CAUSE,
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status.desired_healthy, status.current_healthy
            ),
        ));
    }
    Ok(())
}

fn refused() -> ApiError {
    ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        0,
    )
}

/// The budget's status is behind its spec, or the pod changed under a guarded delete: the
/// client should try again shortly.
fn still_processing(name: &str) -> ApiError {
    ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        10,
    )
    .with_cause(
        DISRUPTION_BUDGET_CAUSE,
        format!("The disruption budget {name} is still being processed by the server."),
    )
}

/// Upstream's `UpdateDisruptionAllowedCondition` for a budget that has just run out.
fn set_disruption_not_allowed(status: &mut Value, observed_generation: Option<i64>) {
    let conditions = status
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(conditions)) = conditions else {
        return;
    };
    let mut condition = json!({
        "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
        "message": "", "lastTransitionTime": object::now_rfc3339(),
    });
    if let Some(g) = observed_generation {
        condition["observedGeneration"] = json!(g);
    }
    match conditions
        .iter_mut()
        .find(|c| c.get("type") == Some(&json!("DisruptionAllowed")))
    {
        Some(existing) => {
            if existing.get("status") == Some(&json!("False")) {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disruption_target_is_added_once() {
        let mut pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        set_disruption_target(&mut pod, "2025-01-01T00:00:00Z");
        set_disruption_target(&mut pod, "2025-01-01T00:05:00Z");
        assert_eq!(
            pod["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"},
                {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                 "message": "Eviction API: evicting", "lastTransitionTime": "2025-01-01T00:00:00Z"}])
        );
    }
}
