//! Admission: changes and checks upstream's default admission plugins make to objects being
//! created, after the resource's own defaulting and validation and before storage.
//!
//! Pods ([`pod`]): ServiceAccount (the account and its API token volume),
//! DefaultTolerationSeconds and Priority; then LimitRanger ([`limit_ranger`]: defaults and
//! bounds from the namespace's LimitRanges). PersistentVolumeClaims ([`storage_class`]):
//! DefaultStorageClass, then LimitRanger's storage bounds. Last, for every namespaced
//! resource, ResourceQuota ([`resource_quota`]) checks and charges the namespace's quotas.
//! Updates ([`admit_update`]) are checked for what quota charges on update: service type and
//! port changes, and claims whose storage request changes.

pub mod limit_ranger;
mod pod;
mod resource_quota;
pub mod storage_class;

use crate::handler::{Api, ApiRequest};
use rkube_machinery::ApiError;
use serde_json::Value;

/// Run the admission plugins that apply to creating `obj` through `req`.
pub async fn admit_create(api: &Api, req: &ApiRequest, obj: &mut Value) -> Result<(), ApiError> {
    let r = req.resource;
    if r.group.is_empty() && r.plural == "pods" {
        pod::admit(api, req, obj).await?;
        limit_ranger::admit_pod(api, req, obj).await?;
    }
    if r.group.is_empty() && r.plural == "persistentvolumeclaims" {
        storage_class::admit(api, obj)?;
        limit_ranger::admit_claim(api, req, obj).await?;
    }
    resource_quota::admit(api, req, obj, None).await
}

/// Run the admission plugins that apply to replacing `old` with `obj` through `req` (the main
/// resource, not a subresource): quota for services (type and port changes) and for claims
/// whose storage request changed, which LimitRanger also bounds.
pub async fn admit_update(
    api: &Api,
    req: &ApiRequest,
    obj: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    let r = req.resource;
    if !r.group.is_empty() {
        return Ok(());
    }
    match r.plural {
        "services" => resource_quota::admit(api, req, obj, Some(old)).await,
        "persistentvolumeclaims" => {
            let storage = |o: &Value| o["spec"]["resources"]["requests"]["storage"].clone();
            if storage(obj) == storage(old) {
                return Ok(());
            }
            limit_ranger::admit_claim(api, req, obj).await?;
            resource_quota::admit(api, req, obj, Some(old)).await
        }
        _ => Ok(()),
    }
}

/// The cached objects of a core/v1 resource in one namespace, from the watch cache (as
/// upstream's plugins read them from informers).
fn cached_in_namespace(
    api: &Api,
    plural: &str,
    ns: &str,
) -> Result<Vec<std::sync::Arc<crate::watchcache::CachedObject>>, ApiError> {
    let info = rkube_registry::catalog::find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not in the catalog")))?;
    let cache = api
        .caches
        .get(info)
        .ok_or_else(|| ApiError::internal(format!("{plural} have no watch cache")))?;
    let filter = crate::watchcache::Filter {
        namespace: Some(ns.to_string()),
        labels: Default::default(),
        fields: Default::default(),
    };
    Ok(cache.list(&filter).items)
}

/// The objects of a core/v1 resource in one namespace, decoded.
fn namespace_objects(api: &Api, plural: &str, ns: &str) -> Result<Vec<Value>, ApiError> {
    cached_in_namespace(api, plural, ns)?
        .iter()
        .map(|o| serde_json::from_slice(&o.json).map_err(ApiError::internal))
        .collect()
}
