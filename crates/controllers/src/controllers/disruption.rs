//! The disruption controller: PodDisruptionBudget status — how many matching pods are expected
//! (the scale of their controllers), healthy (Ready), desired healthy (from minAvailable or
//! maxUnavailable), and so how many disruptions (evictions, `kubectl drain`) are allowed now.
//! Pods the eviction API has just granted (`status.disruptedPods`) are not counted healthy
//! until their deletion shows up or two minutes pass.

use crate::manager::Context;
use crate::ownership::{controller_of, selector_matches};
use crate::pods;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "disruption-controller";

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

fn resolve(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let p: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            ((p * i64::from(total) + 99) / 100) as i32
        }
    }
}

/// The replica count of the workload at the top of a pod's controller chain.
fn scale_of(ctx: &Context, ns: &str, pod: &Pod) -> Option<(String, i32)> {
    let r = controller_of(&pod.metadata)?;
    match r.kind.as_str() {
        "ReplicaSet" => {
            let rs: Arc<ReplicaSet> = ctx.informers.replica_sets.get(Some(ns), &r.name)?;
            if let Some(d) = controller_of(&rs.metadata).filter(|d| d.kind == "Deployment") {
                let dep: Arc<Deployment> = ctx.informers.deployments.get(Some(ns), &d.name)?;
                return Some((d.uid.clone(), dep.spec.as_ref()?.replicas.unwrap_or(1)));
            }
            Some((r.uid.clone(), rs.spec.as_ref()?.replicas.unwrap_or(1)))
        }
        "StatefulSet" => {
            let s: Arc<StatefulSet> = ctx.informers.stateful_sets.get(Some(ns), &r.name)?;
            Some((r.uid.clone(), s.spec.as_ref()?.replicas.unwrap_or(1)))
        }
        "ReplicationController" => {
            let rc = ctx
                .informers
                .replication_controllers
                .get(Some(ns), &r.name)?;
            Some((r.uid.clone(), rc.spec.as_ref()?.replicas.unwrap_or(1)))
        }
        _ => None,
    }
}

/// How long an eviction's entry in `status.disruptedPods` keeps its pod out of the healthy
/// count while the pod's deletion is on its way (upstream's `DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// The expected pod count and desired healthy count (upstream's `getExpectedPodCount`): an
/// integer minAvailable counts the matching pods; a percentage or maxUnavailable counts the
/// replicas their controllers want (pods without a controller are not expected).
fn expected_and_desired(
    ctx: &Context,
    ns: &str,
    spec: &PodDisruptionBudgetSpec,
    pods: &[Arc<Pod>],
) -> (i32, i32) {
    let scale = || {
        let mut scales: HashMap<String, i32> = HashMap::new();
        for p in pods {
            if let Some((uid, n)) = scale_of(ctx, ns, p) {
                scales.insert(uid, n);
            }
        }
        scales.values().sum::<i32>()
    };
    match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => {
            let expected = scale();
            (expected, (expected - resolve(max, expected)).max(0))
        }
        (None, Some(IntOrString::Int(min))) => (pods.len() as i32, *min),
        (None, Some(min)) => {
            let expected = scale();
            (expected, resolve(min, expected))
        }
        (None, None) => (0, 0),
    }
}

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
    let (expected, desired) = expected_and_desired(ctx, &key.namespace, &spec, &matched);
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
