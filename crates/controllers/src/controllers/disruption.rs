//! The disruption controller: PodDisruptionBudget status — how many matching pods are expected
//! (the scale of their controllers), healthy (Ready), desired healthy (from minAvailable or
//! maxUnavailable), and so how many disruptions (evictions, `kubectl drain`) are allowed now.

use crate::manager::Context;
use crate::ownership::{controller_of, selector_matches};
use crate::pods;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

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
        async move { sync(&ctx, &key).await.map(|_| None) }
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

async fn sync(ctx: &Context, key: &Key) -> anyhow::Result<()> {
    let Some(pdb) = ctx
        .informers
        .disruption_budgets
        .get(Some(&key.namespace), &key.name)
    else {
        return Ok(());
    };
    let spec = pdb.spec.clone().unwrap_or_default();
    let Some(selector) = spec.selector.as_ref() else {
        return Ok(());
    };
    let matched: Vec<Arc<Pod>> = ctx
        .informers
        .pods
        .list_namespaced(&key.namespace)
        .into_iter()
        .filter(|p| selector_matches(selector, p.labels()) && pods::is_active(p))
        .collect();
    let healthy = matched.iter().filter(|p| pods::is_ready(p)).count() as i32;
    let mut scales: HashMap<String, i32> = HashMap::new();
    let mut uncontrolled = 0;
    for p in &matched {
        match scale_of(ctx, &key.namespace, p) {
            Some((uid, n)) => {
                scales.insert(uid, n);
            }
            None => uncontrolled += 1,
        }
    }
    let expected = if scales.is_empty() {
        matched.len() as i32
    } else {
        scales.values().sum::<i32>() + uncontrolled
    };
    let desired = match (&spec.min_available, &spec.max_unavailable) {
        (Some(min), _) => resolve(min, expected),
        (None, Some(max)) => (expected - resolve(max, expected)).max(0),
        (None, None) => expected,
    };
    let allowed = (healthy - desired).max(0);
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let current = pdb.status.clone().unwrap_or_default();
    let same_condition = current
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "DisruptionAllowed" && c.status == status && c.reason == reason);
    if current.current_healthy == healthy
        && current.desired_healthy == desired
        && current.expected_pods == expected
        && current.disruptions_allowed == allowed
        && current.observed_generation == pdb.metadata.generation
        && same_condition
    {
        return Ok(());
    }
    let now = rkube_machinery::time::now_rfc3339();
    let body = json!({"status": {
        "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
        "disruptionsAllowed": allowed, "observedGeneration": pdb.metadata.generation,
        "conditions": [{"type": "DisruptionAllowed", "status": status, "reason": reason, "message": "",
                        "observedGeneration": pdb.metadata.generation, "lastTransitionTime": now}],
    }});
    let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &key.namespace);
    match api
        .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(body))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
