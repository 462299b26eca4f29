//! The disruption controller: PodDisruptionBudget status — how many matching pods are expected
//! (the scale of their controllers, see [`expected`]), healthy (Ready), desired healthy (from
//! minAvailable or maxUnavailable), and so how many disruptions (evictions, `kubectl drain`)
//! are allowed now. When the expected pods cannot be counted it fails safe: no disruption
//! allowed, condition reason `SyncFailed`.
//! Pods the eviction API has just granted (`status.disruptedPods`) are not counted healthy
//! until their deletion shows up or two minutes pass.

use crate::manager::Context;
use crate::ownership::selector_matches;
use crate::pods;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "disruption-controller";

mod expected;

/// How soon a budget whose sync failed is looked at again (its pods' controllers may just
/// not be in the caches yet).
const FAIL_SAFE_RECHECK: Duration = Duration::from_secs(10);

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.disruption_budgets, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    let budgets = ctx.informers.disruption_budgets.clone();
    forward(&ctx.informers.pods, queue.clone(), move |c| {
        let p = c.object();
        let ns = p.namespace().unwrap_or_default();
        budgets
            .list_namespaced(&ns)
            .iter()
            .filter(|b| {
                b.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .is_some_and(|s| selector_matches(s, p.labels()))
            })
            .map(|b| Key::of(b.as_ref()))
            .collect()
    });
    let ctx = ctx.clone();
    queue.run(COMPONENT, 2, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key).await }
    });
}

/// How long an eviction's entry in `status.disruptedPods` keeps its pod out of the healthy
/// count while the pod's deletion is on its way (upstream's `DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

async fn sync(ctx: &Context, key: &Key) -> anyhow::Result<Option<Duration>> {
    let Some(pdb) = ctx
        .informers
        .disruption_budgets
        .get(Some(&key.namespace), &key.name)
    else {
        return Ok(None);
    };
    let spec = pdb.spec.clone().unwrap_or_default();
    let Some(selector) = spec.selector.as_ref() else {
        return Ok(None);
    };
    let matched: Vec<Arc<Pod>> = ctx
        .informers
        .pods
        .list_namespaced(&key.namespace)
        .into_iter()
        .filter(|p| selector_matches(selector, p.labels()))
        .collect();
    let events = ctx.recorder.for_component(COMPONENT);
    let counted = match expected::expected_and_desired(ctx, &key.namespace, &spec, &matched).await {
        Ok(c) => c,
        Err(e) => {
            let message = format!("{e:#}");
            events.warning(
                pdb.as_ref(),
                "CalculateExpectedPodCountFailed",
                format!("Failed to calculate the number of expected pods: {message}"),
            );
            return fail_safe(ctx, &pdb, &message).await;
        }
    };
    if !counted.unmanaged.is_empty() {
        events.warning(
            pdb.as_ref(),
            "UnmanagedPods",
            format!(
                "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                expected::selector_string(selector)
            ),
        );
    }
    let (expected, desired) = (counted.expected, counted.desired_healthy);
    let current = pdb.status.clone().unwrap_or_default();

    // Evictions the API server granted whose pods are not yet being deleted: those pods no
    // longer count as healthy, until the deletion timeout says the eviction did not happen.
    let now = jiff::Timestamp::now();
    let timeout = jiff::SignedDuration::try_from(DELETION_TIMEOUT).unwrap_or_default();
    let mut disrupted: BTreeMap<String, Time> = BTreeMap::new();
    let mut recheck: Option<jiff::Timestamp> = None;
    if let Some(granted) = &current.disrupted_pods {
        for p in matched
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let Some(at) = granted.get(&p.name_any()) else {
                continue;
            };
            let expires = at.0.checked_add(timeout).unwrap_or(at.0);
            if expires > now {
                recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
                disrupted.insert(p.name_any(), at.clone());
            }
        }
    }
    let healthy = matched
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && !disrupted.contains_key(&p.name_any())
                && pods::is_ready(p)
        })
        .count() as i32;
    let allowed = if expected <= 0 {
        0
    } else {
        (healthy - desired).max(0)
    };
    let requeue =
        recheck.map(|r| Duration::from_millis(r.duration_since(now).as_millis().max(0) as u64));

    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let previous = current
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionAllowed");
    let same_condition = previous.is_some_and(|c| c.status == status && c.reason == reason);
    if current.current_healthy == healthy
        && current.desired_healthy == desired
        && current.expected_pods == expected
        && current.disruptions_allowed == allowed
        && current.observed_generation == pdb.metadata.generation
        && current.disrupted_pods.clone().unwrap_or_default() == disrupted
        && same_condition
    {
        return Ok(requeue);
    }
    let transition = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(now),
    };
    let mut updated = (*pdb).clone();
    updated.status = Some(PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        expected_pods: expected,
        disruptions_allowed: allowed,
        observed_generation: pdb.metadata.generation,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        conditions: Some(vec![Condition {
            type_: "DisruptionAllowed".into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: pdb.metadata.generation,
            last_transition_time: transition,
        }]),
    });
    // A guarded write (the informer's resourceVersion): an eviction that took a disruption
    // since this copy was read must not be overwritten.
    let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &key.namespace);
    match api
        .replace_status(&key.name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(requeue),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(Duration::from_millis(100))),
        Err(e) => Err(e.into()),
    }
}

/// Upstream's `failSafe`: when the expected pods cannot be counted, allow no disruption, with
/// the reason in the `DisruptionAllowed` condition (`SyncFailed`); the rest of the status stays.
async fn fail_safe(
    ctx: &Context,
    pdb: &PodDisruptionBudget,
    message: &str,
) -> anyhow::Result<Option<Duration>> {
    let mut updated = pdb.clone();
    let status = updated.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let condition = Condition {
        type_: "DisruptionAllowed".into(),
        status: "False".into(),
        reason: "SyncFailed".into(),
        message: message.to_string(),
        observed_generation: status.observed_generation,
        last_transition_time: Time(jiff::Timestamp::now()),
    };
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(c) => {
            let transition = if c.status == condition.status {
                c.last_transition_time.clone()
            } else {
                condition.last_transition_time.clone()
            };
            *c = Condition {
                last_transition_time: transition,
                ..condition
            };
        }
        None => conditions.push(condition),
    }
    status.disruptions_allowed = 0;
    if updated.status == pdb.status {
        return Ok(Some(FAIL_SAFE_RECHECK));
    }
    let api: Api<PodDisruptionBudget> =
        Api::namespaced(ctx.client.clone(), &pdb.namespace().unwrap_or_default());
    match api
        .replace_status(&pdb.name_any(), &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(Some(FAIL_SAFE_RECHECK)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(Duration::from_millis(100))),
        Err(e) => Err(e.into()),
    }
}
