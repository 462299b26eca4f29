//! PUT and PATCH: the guaranteed-update loop shared by the main resource and `/status`.

use super::create::{
    Tracking, create_object, decode_object, field_validation, schema_of, ttl_of, with_warnings,
    writer,
};
use super::{Api, ApiRequest};
use crate::object;
use crate::patch::PatchKind;
use crate::storage::Stored;
use axum::response::Response;
use rkube_machinery::ApiError;
use rkube_registry::Generation;
use serde_json::Value;

/// Which part of the object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main resource: everything but `status` (for resources with a status subresource).
    Main,
    /// The `status` subresource: only `status`.
    Status,
}

/// How many times an unconditional update retries after losing a race.
const MAX_RETRIES: usize = 16;

/// PUT: replace the object with the body.
pub async fn replace(api: &Api, req: &ApiRequest, target: Target) -> Result<Response, ApiError> {
    let (mut body, unknown) = decode_object(req)?;
    let mut warnings = field_validation(req, &unknown)?;
    warnings.extend(super::owner_refs::dedup(
        &mut body,
        super::owner_refs::Found::InBody,
    ));
    let body_name = object::name(&body);
    if body_name != req.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            req.name()
        )));
    }
    if let (Some(ns), Some(body_ns)) = (req.namespace(), object::namespace(&body))
        && ns != body_ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let precondition = object::meta_str(&body, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let obj = guaranteed_update(
        api,
        req,
        target,
        precondition.as_deref(),
        Tracking::Update,
        |_| Ok(body.clone()),
    )
    .await?;
    Ok(with_warnings(
        crate::table::respond_object(req, &obj),
        &warnings,
    ))
}

/// PATCH: apply a JSON patch, merge patch or strategic merge patch; or server-side apply, which
/// creates the object when it does not exist yet.
pub async fn patch(api: &Api, req: &ApiRequest, target: Target) -> Result<Response, ApiError> {
    let (kind, patch) = parse_patch(req)?;
    if kind == PatchKind::Apply {
        return server_side_apply(api, req, target, &patch).await;
    }
    let mut precondition = None;
    if matches!(kind, PatchKind::Merge | PatchKind::Strategic) {
        precondition = patch
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    // The warnings of the attempt that was written (the loop may patch more than once).
    let warnings = std::sync::Mutex::new(Vec::new());
    let obj = guaranteed_update(
        api,
        req,
        target,
        precondition.as_deref(),
        Tracking::Update,
        |current| {
            let patched = crate::patch::apply(kind, &patch, current, kind_of(req))?;
            let (mut obj, mut found) = super::patch_validation::check(req, kind, &patch, patched)?;
            found.extend(super::owner_refs::dedup(
                &mut obj,
                super::owner_refs::Found::AfterPatch,
            ));
            *warnings.lock().unwrap_or_else(|p| p.into_inner()) = found;
            Ok(obj)
        },
    )
    .await?;
    let warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(with_warnings(
        crate::table::respond_object(req, &obj),
        &warnings,
    ))
}

/// `application/apply-patch+yaml`: merge the configuration as its field manager (required, as
/// upstream), refusing to change others' fields unless `force=true`.
async fn server_side_apply(
    api: &Api,
    req: &ApiRequest,
    target: Target,
    config: &Value,
) -> Result<Response, ApiError> {
    if req.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PATCH requests of type apply must have fieldManager",
        ));
    }
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply configuration must be an object",
        ));
    }
    let force = req.query.get("force") == Some("true");
    let w = writer(req, target == Target::Status);
    let schema = schema_of(req);
    if let Some(path) = crate::fieldmanager::first_undeclared(config, schema) {
        return Err(undeclared_field(config, &path));
    }
    let applied = guaranteed_update(api, req, target, None, Tracking::Applied, |current| {
        crate::fieldmanager::apply(Some(current), config, &w, force, schema)
    })
    .await;
    match applied {
        Ok(obj) => Ok(crate::table::respond_object(req, &obj)),
        Err(e) if e.code == 404 && target == Target::Main => {
            let mut obj = crate::fieldmanager::apply(None, config, &w, force, schema)?;
            if object::name(&obj).is_empty() {
                object::set_meta(&mut obj, "name", Value::String(req.name().to_string()));
            }
            create_object(api, req, obj, Vec::new(), Tracking::Applied).await
        }
        Err(e) => Err(e),
    }
}

/// Upstream's answer to an applied field the type does not declare: an unclassified 500 naming
/// the object (`<namespace>/<name>; <group>/<version>, Kind=<kind>`) and the field.
fn undeclared_field(config: &Value, path: &str) -> ApiError {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let meta = config.get("metadata");
    let api_version = s(config.get("apiVersion"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    ApiError::new(
        500,
        rkube_machinery::StatusReason::Unknown,
        format!(
            "failed to create typed patch object ({}/{}; {group}/{version}, Kind={}): {path}: field not declared in schema",
            s(meta.and_then(|m| m.get("namespace"))),
            s(meta.and_then(|m| m.get("name"))),
            s(config.get("kind")),
        ),
    )
}

/// The (group, version, kind) whose schema a strategic merge patch of `req` follows.
pub fn kind_of(req: &ApiRequest) -> (&'static str, &'static str, &'static str) {
    (req.resource.group, req.resource.version, req.resource.kind)
}

/// Parse a PATCH body into its kind and document.
pub fn parse_patch(req: &ApiRequest) -> Result<(PatchKind, Value), ApiError> {
    let content_type = req
        .content_type()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let kind = PatchKind::from_content_type(&content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(&content_type))?;
    let patch: Value = if kind == PatchKind::Apply {
        serde_norway::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    Ok((kind, patch))
}

/// Read, change, validate and write back, retrying when another writer got there first (unless
/// the client named the resourceVersion it expects: then a stale one is a 409).
pub async fn guaranteed_update(
    api: &Api,
    req: &ApiRequest,
    target: Target,
    precondition: Option<&str>,
    tracking: Tracking,
    change: impl Fn(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let gr = req.gr();
    let key = req.key();
    let strategy = req.strategy()?.clone();
    let info = req.resource;
    let dry_run = req.query.dry_run()?;
    // Services may take node ports on the way: one allocation at a time, over a synced cache.
    let is_service = info.group.is_empty() && info.plural == "services";
    let _allocating = if is_service {
        api.caches.sync().await?;
        Some(api.services.lock().await)
    } else {
        None
    };
    for _ in 0..MAX_RETRIES {
        let Some(Stored {
            object: old,
            revision,
        }) = api.store.get(&key, info, req.name()).await?
        else {
            return Err(ApiError::not_found(&gr, req.name()));
        };
        if let Some(rv) = precondition
            && rv != revision.to_string()
        {
            return Err(ApiError::modified(&gr, req.name()));
        }
        let mut new = change(&old)?;
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the patched object is not a JSON object",
            ));
        }
        new["apiVersion"] = Value::String(info.api_version());
        new["kind"] = Value::String(info.kind.to_string());
        // Whatever the patch did to identity, the object stays the one at this URL.
        if object::name(&new) != req.name() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                object::name(&new),
                req.name()
            )));
        }
        keep_system_fields(&mut new, &old);
        match target {
            Target::Main if info.has_status_subresource() => copy_field(&mut new, &old, "status"),
            Target::Main => {}
            Target::Status => {
                let status = new.get("status").cloned();
                // Upstream's Deployment status strategy keeps annotation changes (it resets only
                // spec and labels): the deployment controller writes the revision annotation
                // through /status so the generation does not move.
                let annotations = (info.group == "apps" && info.plural == "deployments")
                    .then(|| new.pointer("/metadata/annotations").cloned())
                    .flatten();
                new = old.clone();
                if let Some(a) = annotations {
                    new["metadata"]["annotations"] = a;
                }
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
        }
        if is_service && target == Target::Main {
            crate::services::allocate_on_update(api, req, &mut new, &old)?;
        }
        // The writer owns what it sent (with the decoder's defaults), not what the strategy adds.
        let mut managed = None;
        let errors = if tracking == Tracking::Update {
            let w = super::create::writer(req, target == Target::Status);
            let schema = schema_of(req);
            let old = &old;
            strategy.update(
                &mut new,
                old,
                Some(&mut |sent: &Value| {
                    managed = Some(crate::fieldmanager::managed_fields_of_update(
                        Some(old),
                        sent,
                        &w,
                        schema,
                    ));
                }),
            )
        } else {
            strategy.update(&mut new, &old, None)
        };
        if let Some(fields) = managed {
            crate::fieldmanager::store_managed_fields(&mut new, fields);
        }
        object::drop_empty_meta_collections(&mut new);
        if !errors.is_empty() {
            return Err(ApiError::invalid(
                info.kind,
                info.group,
                req.name(),
                &errors,
            ));
        }
        // Status writes never move the generation (they may carry Deployment annotations).
        if !matches!(target, Target::Status) {
            bump_generation(&mut new, &old, strategy.generation());
        }
        if object::same_content(&new, &old) {
            return Ok(old);
        }
        if target == Target::Main {
            crate::admission::admit_update(api, req, &new, &old).await?;
        }
        if dry_run {
            // Nothing is written, so the object is still at the revision it was read at (as
            // upstream answers: `kubectl diff` then shows no resourceVersion change).
            object::set_meta(&mut new, "resourceVersion", revision.to_string().into());
            return Ok(new);
        }
        // An object being deleted goes once its last finalizer is removed.
        if object::deletion_timestamp(&new).is_some()
            && object::finalizers(&new).is_empty()
            && !graceful_pending(&new, info)
            && !namespace_finalizers_pending(&new, info)
        {
            return match api.store.delete(&key, revision, info, req.name()).await? {
                Some(deleted) => Ok(deleted),
                None if precondition.is_some() => Err(ApiError::modified(&gr, req.name())),
                None => continue,
            };
        }
        match api
            .store
            .update(&key, new, revision, ttl_of(info), info, req.name())
            .await?
        {
            Some(written) => return Ok(written),
            None if precondition.is_some() => return Err(ApiError::modified(&gr, req.name())),
            None => continue,
        }
    }
    Err(ApiError::conflict(
        &gr,
        req.name(),
        "too many concurrent updates; please try again",
    ))
}

/// A pod in graceful deletion stays until its kubelet deletes it with grace period 0.
fn graceful_pending(obj: &Value, info: &rkube_registry::ResourceInfo) -> bool {
    info.group.is_empty()
        && info.plural == "pods"
        && obj
            .get("metadata")
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
}

/// A namespace also waits for its spec finalizers (the namespace controller's `kubernetes`),
/// which only `/finalize` removes: a status write to a terminating namespace must not delete
/// it (upstream's ShouldDeleteNamespaceDuringUpdate).
fn namespace_finalizers_pending(obj: &Value, info: &rkube_registry::ResourceInfo) -> bool {
    info.group.is_empty()
        && info.plural == "namespaces"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

fn copy_field(new: &mut Value, old: &Value, field: &str) {
    match old.get(field) {
        Some(v) => new[field] = v.clone(),
        None => {
            new.as_object_mut().map(|m| m.remove(field));
        }
    }
}

/// Fields only the server sets survive every update unchanged.
fn keep_system_fields(new: &mut Value, old: &Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or_default();
    let meta = object::meta_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                meta.insert(f.to_string(), v.clone());
            }
            None => {
                meta.remove(f);
            }
        }
    }
    meta.remove("selfLink");
    meta.remove("resourceVersion");
}

/// Bump `metadata.generation` when the spec (and for some resources the annotations) changed.
fn bump_generation(new: &mut Value, old: &Value, policy: Generation) {
    if policy == Generation::None {
        return;
    }
    let mut changed = object::spec_part(new) != object::spec_part(old);
    if policy == Generation::SpecAndAnnotations {
        let ann = |v: &Value| {
            v.get("metadata")
                .and_then(|m| m.get("annotations"))
                .cloned()
                .unwrap_or_default()
        };
        changed |= ann(new) != ann(old);
    }
    let old_gen = old
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let next = if changed { old_gen + 1 } else { old_gen };
    object::set_meta(new, "generation", Value::from(next));
}
