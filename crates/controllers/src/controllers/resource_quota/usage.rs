//! What a quota's namespace uses: each evaluator the quota's limits call for measures the
//! objects of its resource, pods and claims from the shared caches, everything else listed
//! from the API server (metadata only where only a count matters).

use super::to_json;
use crate::manager::Context;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use rkube_machinery::quota::resource_list::ResourceList;
use rkube_machinery::quota::{Evaluator, scopes, usage_of};
use serde_json::Value;
use std::sync::Arc;

/// The usage of every resource the quota `quota` (JSON) limits in `ns`.
pub async fn measure(ctx: &Arc<Context>, ns: &str, quota: &Value) -> anyhow::Result<ResourceList> {
    let hard = rkube_machinery::quota::resource_list::from_json(&quota["spec"]["hard"]);
    let scopes = scopes::of_quota(quota);
    let now = jiff::Timestamp::now();
    let mut used = ResourceList::new();
    for evaluator in Evaluator::for_names(hard.keys()) {
        let objects = objects_of(ctx, ns, &evaluator).await?;
        used.extend(usage_of(&evaluator, &hard, &scopes, &objects, now));
    }
    Ok(used)
}

async fn objects_of(
    ctx: &Arc<Context>,
    ns: &str,
    evaluator: &Evaluator,
) -> anyhow::Result<Vec<Value>> {
    Ok(match evaluator {
        Evaluator::Pods => ctx
            .informers
            .pods
            .list_namespaced(ns)
            .iter()
            .map(|p| to_json(p.as_ref()))
            .collect(),
        Evaluator::PersistentVolumeClaims => ctx
            .informers
            .persistent_volume_claims
            .list_namespaced(ns)
            .iter()
            .map(|p| to_json(p.as_ref()))
            .collect(),
        Evaluator::Services => {
            let api: Api<Service> = Api::namespaced(ctx.client.clone(), ns);
            api.list(&ListParams::default())
                .await?
                .items
                .iter()
                .map(to_json)
                .collect()
        }
        Evaluator::ObjectCount { group, resource } => {
            let served = ctx.resources.resources().await?;
            let Some((ar, _)) = served
                .iter()
                .find(|(ar, _)| ar.group == *group && ar.plural == *resource)
            else {
                // Not served (yet): nothing of it exists.
                return Ok(Vec::new());
            };
            let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, ar);
            api.list_metadata(&ListParams::default())
                .await?
                .items
                .iter()
                .map(to_json)
                .collect()
        }
    })
}
