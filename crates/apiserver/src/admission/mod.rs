//! Admission: changes and checks upstream's default admission plugins make to objects being
//! created, after the resource's own defaulting and validation and before storage.
//!
//! Pods ([`pod`]): ServiceAccount (the account and its API token volume),
//! DefaultTolerationSeconds and Priority. PersistentVolumeClaims ([`storage_class`]):
//! DefaultStorageClass.

mod pod;
pub mod storage_class;

use crate::handler::{Api, ApiRequest};
use rkube_machinery::ApiError;
use serde_json::Value;

/// Run the admission plugins that apply to creating `obj` through `req`.
pub async fn admit_create(api: &Api, req: &ApiRequest, obj: &mut Value) -> Result<(), ApiError> {
    let r = req.resource;
    if r.group.is_empty() && r.plural == "pods" {
        pod::admit(api, req, obj).await?;
    }
    if r.group.is_empty() && r.plural == "persistentvolumeclaims" {
        storage_class::admit(api, obj)?;
    }
    Ok(())
}
