//! Objects in the store: encoding, versions, resourceVersion, and store errors as API errors.
//!
//! Objects are stored as JSON under upstream's key layout, in their resource's storage version:
//! callers hand in and get back objects in the version they serve (`res`), and the few resources
//! served in several versions (HPAs, Events) are converted here, on the way in and out. The store's mod revision is the
//! object's `resourceVersion`: it is never stored inside the value, but set on every object the
//! server hands out, as upstream's etcd3 storage does.

use bytes::Bytes;
use rkube_machinery::{ApiError, GroupResource};
use rkube_registry::ResourceInfo;
use rkube_registry::conversion;
use rkube_store::{KeyValue, Revision, Store, StoreError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The store, typed for objects.
#[derive(Clone)]
pub struct ObjectStore {
    pub store: Arc<dyn Store>,
}

/// An object read from the store with its mod revision.
#[derive(Debug, Clone)]
pub struct Stored {
    pub object: Value,
    pub revision: Revision,
}

/// Encode an object for storage: `resourceVersion` and `selfLink` are removed from it (the
/// caller stamps the new revision afterwards), so no copy of the object is made.
pub fn encode(obj: &mut Value) -> Bytes {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("resourceVersion");
        m.shift_remove("selfLink");
    }
    Bytes::from(serde_json::to_vec(&obj).expect("JSON values always serialize"))
}

/// Decode a stored value and stamp its resourceVersion.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(format!("stored object {} is not valid JSON: {e}", kv.key))
    })?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

pub fn set_resource_version(obj: &mut Value, rev: Revision) {
    crate::object::set_meta(obj, "resourceVersion", Value::String(rev.to_string()));
}

/// The group resource of `res`, for error messages.
fn gr_of(res: &ResourceInfo) -> GroupResource {
    GroupResource::new(res.group, res.plural)
}

/// An object of `res`'s version in its storage version.
fn to_storage(obj: Value, res: &'static ResourceInfo) -> Result<Value, ApiError> {
    if conversion::is_converted(res) {
        conversion::convert(obj, conversion::storage_resource(res))
    } else {
        Ok(obj)
    }
}

/// A stored object in `res`'s version.
pub fn from_storage(obj: Value, res: &'static ResourceInfo) -> Result<Value, ApiError> {
    if conversion::is_converted(res) {
        conversion::convert(obj, res)
    } else {
        Ok(obj)
    }
}

/// Pre-serialized stored objects (from the watch cache) in `res`'s version: the same bytes
/// unless `res` is served in a version other than its storage version.
pub fn bytes_for(json: &Bytes, res: &'static ResourceInfo) -> Bytes {
    if !conversion::is_converted(res) {
        return json.clone();
    }
    let converted = serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|v| conversion::convert(v, res).ok());
    match converted {
        Some(v) => Bytes::from(serde_json::to_vec(&v).expect("JSON values always serialize")),
        None => json.clone(),
    }
}

/// Map a store error on `gr`/`name` to the API's.
pub fn api_error(e: StoreError, gr: &GroupResource, name: &str) -> ApiError {
    match e {
        StoreError::AlreadyExists(_) => ApiError::already_exists(gr, name),
        StoreError::NotFound(_) => ApiError::not_found(gr, name),
        StoreError::Conflict { .. } => ApiError::modified(gr, name),
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::resource_expired(format!(
            "The resourceVersion for the provided list is too old. (requested {requested}, compacted {compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        StoreError::Backend(m) => ApiError::internal(m),
        StoreError::Closed => ApiError::service_unavailable("the server is shutting down"),
    }
}

impl ObjectStore {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Read one object of `res` (in `res`'s version).
    pub async fn get(
        &self,
        key: &str,
        res: &'static ResourceInfo,
        name: &str,
    ) -> Result<Option<Stored>, ApiError> {
        match self
            .store
            .get(key)
            .await
            .map_err(|e| api_error(e, &gr_of(res), name))?
        {
            Some(kv) => Ok(Some(Stored {
                object: from_storage(decode(&kv)?, res)?,
                revision: kv.mod_revision,
            })),
            None => Ok(None),
        }
    }

    /// Create; returns the stored object with its resourceVersion.
    pub async fn create(
        &self,
        key: &str,
        obj: Value,
        ttl: Option<Duration>,
        res: &'static ResourceInfo,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut stored = to_storage(obj, res)?;
        let rev = self
            .store
            .create(key, encode(&mut stored), ttl)
            .await
            .map_err(|e| api_error(e, &gr_of(res), name))?;
        set_resource_version(&mut stored, rev);
        from_storage(stored, res)
    }

    /// Replace if the key is still at `expected`. `Ok(None)` means someone else wrote first.
    pub async fn update(
        &self,
        key: &str,
        obj: Value,
        expected: Revision,
        ttl: Option<Duration>,
        res: &'static ResourceInfo,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let mut stored = to_storage(obj, res)?;
        match self
            .store
            .update(key, encode(&mut stored), expected, ttl)
            .await
        {
            Ok(rev) => {
                set_resource_version(&mut stored, rev);
                Ok(Some(from_storage(stored, res)?))
            }
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(api_error(e, &gr_of(res), name)),
        }
    }

    /// Update with a value the caller encoded itself (an edit of the stored bytes, as
    /// `pods/binding` makes), guarded like [`ObjectStore::update`]; `Ok(None)` means someone
    /// else wrote first. Only for resources stored in the version they are served in.
    pub async fn update_encoded(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        res: &'static ResourceInfo,
        name: &str,
    ) -> Result<Option<Revision>, ApiError> {
        debug_assert!(!conversion::is_converted(res));
        match self.store.update(key, value, expected, None).await {
            Ok(rev) => Ok(Some(rev)),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(api_error(e, &gr_of(res), name)),
        }
    }

    /// Delete if the key is still at `expected`. `Ok(None)` means someone else wrote first.
    pub async fn delete(
        &self,
        key: &str,
        expected: Revision,
        res: &'static ResourceInfo,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        match self.store.delete(key, expected).await {
            Ok((rev, kv)) => {
                let mut obj = decode(&kv)?;
                set_resource_version(&mut obj, rev);
                Ok(Some(from_storage(obj, res)?))
            }
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(api_error(e, &gr_of(res), name)),
        }
    }
}
