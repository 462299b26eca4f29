//! How many pods a budget expects and how many must stay healthy (upstream's
//! `getExpectedPodCount`). An integer minAvailable counts the matching pods. A percentage or
//! maxUnavailable needs the replica counts of the pods' controllers: ReplicationControllers,
//! Deployments (through their ReplicaSets), ReplicaSets and StatefulSets from the caches, any
//! other kind through its `/scale` subresource. Pods without a controller are left out (and
//! reported); a controller that cannot be found fails the sync, which then sets the budget to
//! allow no disruption.

use crate::manager::Context;
use crate::ownership::controller_of;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use kube::discovery::Scope;
use kube::{Api, ResourceExt};
use std::collections::HashMap;
use std::sync::Arc;

/// The outcome of counting.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub expected: i32,
    pub desired_healthy: i32,
    /// Matching pods without a controller, which percentages cannot account for.
    pub unmanaged: Vec<String>,
}

/// A percentage of `total`, rounded up, or the integer itself.
fn resolve(v: &IntOrString, total: i32) -> anyhow::Result<i32> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let p: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("invalid value for IntOrString: invalid value {s:?}")
                })?;
            Ok(((p * i64::from(total) + 99) / 100) as i32)
        }
    }
}

/// Upstream's `getExpectedPodCount`.
pub async fn expected_and_desired(
    ctx: &Context,
    ns: &str,
    spec: &PodDisruptionBudgetSpec,
    pods: &[Arc<Pod>],
) -> anyhow::Result<Expected> {
    match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => {
            let (expected, unmanaged) = expected_scale(ctx, ns, pods).await?;
            Ok(Expected {
                expected,
                desired_healthy: (expected - resolve(max, expected)?).max(0),
                unmanaged,
            })
        }
        (None, Some(IntOrString::Int(min))) => Ok(Expected {
            expected: pods.len() as i32,
            desired_healthy: *min,
            unmanaged: vec![],
        }),
        (None, Some(min)) => {
            let (expected, unmanaged) = expected_scale(ctx, ns, pods).await?;
            Ok(Expected {
                expected,
                desired_healthy: resolve(min, expected)?,
                unmanaged,
            })
        }
        (None, None) => Ok(Expected::default()),
    }
}

/// The sum of the scales of the pods' controllers, and the pods without one.
async fn expected_scale(
    ctx: &Context,
    ns: &str,
    pods: &[Arc<Pod>],
) -> anyhow::Result<(i32, Vec<String>)> {
    let mut scales: HashMap<String, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(r) = controller_of(&pod.metadata) else {
            unmanaged.push(pod.name_any());
            continue;
        };
        if scales.contains_key(&r.uid) {
            continue;
        }
        let found = match cached_scale(ctx, ns, r) {
            Some(found) => Some(found),
            None => scale_subresource(ctx, ns, r).await?,
        };
        let Some((uid, replicas)) = found else {
            anyhow::bail!("found no controllers for pod {:?}", pod.name_any());
        };
        scales.insert(uid, replicas);
    }
    Ok((scales.values().sum(), unmanaged))
}

fn group_of(r: &OwnerReference) -> &str {
    r.api_version.split_once('/').map_or("", |(g, _)| g)
}

/// The built-in controllers, from the caches: the controller's uid and replicas.
fn cached_scale(ctx: &Context, ns: &str, r: &OwnerReference) -> Option<(String, i32)> {
    let group = group_of(r);
    let apps = |g: &str| matches!(g, "apps" | "extensions");
    let replicas = match r.kind.as_str() {
        "ReplicationController" if group.is_empty() => {
            let rc = ctx
                .informers
                .replication_controllers
                .get(Some(ns), &r.name)
                .filter(|rc| rc.uid().as_deref() == Some(&r.uid))?;
            rc.spec.as_ref()?.replicas
        }
        "ReplicaSet" if apps(group) => {
            let rs = ctx
                .informers
                .replica_sets
                .get(Some(ns), &r.name)
                .filter(|rs| rs.uid().as_deref() == Some(&r.uid))?;
            // A Deployment's ReplicaSet counts as its Deployment.
            if let Some(d) = controller_of(&rs.metadata).filter(|d| d.kind == "Deployment") {
                if !apps(group_of(d)) {
                    return None;
                }
                let dep = ctx
                    .informers
                    .deployments
                    .get(Some(ns), &d.name)
                    .filter(|dep| dep.uid().as_deref() == Some(&d.uid))?;
                return Some((d.uid.clone(), dep.spec.as_ref()?.replicas.unwrap_or(1)));
            }
            rs.spec.as_ref()?.replicas
        }
        "StatefulSet" if group == "apps" => {
            let set = ctx
                .informers
                .stateful_sets
                .get(Some(ns), &r.name)
                .filter(|set| set.uid().as_deref() == Some(&r.uid))?;
            set.spec.as_ref()?.replicas
        }
        _ => return None,
    };
    Some((r.uid.clone(), replicas.unwrap_or(1)))
}

/// Any other controller (or a built-in one the caches do not have yet): its `/scale`
/// subresource, as upstream's `getScaleController`.
async fn scale_subresource(
    ctx: &Context,
    ns: &str,
    r: &OwnerReference,
) -> anyhow::Result<Option<(String, i32)>> {
    let group = group_of(r);
    let Some((ar, caps)) = ctx.resources.resolve(&r.api_version, &r.kind).await? else {
        anyhow::bail!(
            "no matches for kind {:?} in version {:?}",
            r.kind,
            r.api_version
        );
    };
    let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
        Api::namespaced_with(ctx.client.clone(), ns, &ar)
    } else {
        Api::all_with(ctx.client.clone(), &ar)
    };
    let scale = match api.get_subresource("scale", &r.name).await {
        Ok(s) => s,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            if !caps
                .subresources
                .iter()
                .any(|(sub, _)| sub.plural == "scale")
            {
                let resource = if group.is_empty() {
                    ar.plural.clone()
                } else {
                    format!("{}.{group}", ar.plural)
                };
                anyhow::bail!("{resource} does not implement the scale subresource");
            }
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if scale.metadata.uid.as_deref() != Some(&r.uid) {
        return Ok(None);
    }
    let replicas = scale
        .data
        .pointer("/spec/replicas")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    Ok(Some((r.uid.clone(), replicas as i32)))
}

/// A label selector as upstream's events print it (Go's generated `String()`).
pub fn selector_string(s: &LabelSelector) -> String {
    let labels: String = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = s
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                e.key,
                e.operator,
                e.values.clone().unwrap_or_default().join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn percentages_round_up() {
        assert_eq!(resolve(&IntOrString::String("50%".into()), 3).unwrap(), 2);
        assert_eq!(resolve(&IntOrString::Int(2), 3).unwrap(), 2);
        assert!(resolve(&IntOrString::String("half".into()), 3).is_err());
    }

    #[test]
    fn selectors_print_like_go() {
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        assert_eq!(
            selector_string(&s),
            "&LabelSelector{MatchLabels:map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}"
        );
    }
}
