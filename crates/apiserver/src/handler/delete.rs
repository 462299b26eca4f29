//! DELETE: immediate deletion, graceful deletion (pods), finalizers and propagation policy.

use super::{Api, ApiRequest};
use crate::object;
use axum::response::Response;
use rkube_machinery::ApiError;
use serde_json::{Value, json};

/// Resources whose delete answers with the deleted object instead of a success `Status`
/// (upstream's stores with `ReturnDeletedObject`, which its OpenAPI and clients expect: the
/// Python client decodes a Service delete's answer as a Service).
const RETURN_DELETED_OBJECT: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "podtemplates"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "resourcequotas"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("resource.k8s.io", "deviceclasses"),
    ("resource.k8s.io", "devicetaintrules"),
    ("resource.k8s.io", "resourceclaims"),
    ("resource.k8s.io", "resourceclaimtemplates"),
    ("resource.k8s.io", "resourceslices"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "storageclasses"),
    ("storage.k8s.io", "volumeattachments"),
    ("storage.k8s.io", "volumeattributesclasses"),
];

fn returns_deleted_object(group: &str, plural: &str) -> bool {
    RETURN_DELETED_OBJECT.contains(&(group, plural))
}

/// The options of a delete, from the body (`DeleteOptions`) and the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// The options a `DeleteOptions` object carries (a delete's body, or an Eviction's
    /// `deleteOptions`).
    pub fn from_body(body: &Value) -> Self {
        let mut o = DeleteOptions {
            grace_period: body.get("gracePeriodSeconds").and_then(Value::as_i64),
            propagation: body
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..Default::default()
        };
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true)
            && o.propagation.is_none()
        {
            o.propagation = Some("Orphan".into());
        }
        if let Some(p) = body.get("preconditions") {
            o.precondition_uid = p.get("uid").and_then(Value::as_str).map(str::to_string);
            o.precondition_rv = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        o.dry_run = body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
        o
    }

    pub fn from_request(req: &ApiRequest) -> Result<Self, ApiError> {
        let mut o = if req.body.is_empty() {
            DeleteOptions::default()
        } else {
            let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
                ApiError::bad_request(format!("unable to decode DeleteOptions: {e}"))
            })?;
            DeleteOptions::from_body(&body)
        };
        o.dry_run |= req.query.dry_run()?;
        if let Some(g) = req.query.int("gracePeriodSeconds")? {
            o.grace_period = Some(g);
        }
        if let Some(p) = req.query.get("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if req.query.get("orphanDependents") == Some("true") && o.propagation.is_none() {
            o.propagation = Some("Orphan".into());
        }
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Orphan" | "Foreground" | "Background")
        {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        Ok(o)
    }
}

/// Namespaces the cluster needs; upstream's lifecycle admission refuses to delete them.
const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub async fn delete(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let opts = DeleteOptions::from_request(req)?;
    let (code, body) = delete_object(api, req, req.name(), &opts).await?;
    Ok(crate::http::json(code, &body))
}

/// Delete one object; returns the HTTP code and body (the object while it waits for
/// finalizers or its grace period, a success `Status` once gone).
pub async fn delete_object(
    api: &Api,
    req: &ApiRequest,
    name: &str,
    opts: &DeleteOptions,
) -> Result<(u16, Value), ApiError> {
    let info = req.resource;
    let gr = req.gr();
    let key = info.storage_key(req.namespace(), name);
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    let is_pod = info.group.is_empty() && info.plural == "pods";
    let answer_object = returns_deleted_object(info.group, info.plural);
    if is_namespace && IMMORTAL_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(
            &gr,
            name,
            "this namespace may not be deleted",
        ));
    }
    for _ in 0..16 {
        let Some(current) = api.store.get(&key, req.resource, name).await? else {
            return Err(ApiError::not_found(&gr, name));
        };
        let obj = current.object;
        if let Some(uid) = &opts.precondition_uid {
            let actual = object::meta_str(&obj, "uid").unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(
                    &gr,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.precondition_rv
            && *rv != current.revision.to_string()
        {
            return Err(ApiError::conflict(
                &gr,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    current.revision
                ),
            ));
        }
        let mut finalizers = object::finalizers(&obj);
        match opts.propagation.as_deref() {
            Some("Orphan") => add_finalizer(&mut finalizers, "orphan"),
            Some("Foreground") => add_finalizer(&mut finalizers, "foregroundDeletion"),
            _ => {}
        }
        let grace = if is_pod {
            pod_grace(&obj, opts.grace_period)
        } else {
            0
        };
        let ns_finalizers = is_namespace
            && obj
                .get("spec")
                .and_then(|s| s.get("finalizers"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        let already_deleting = object::deletion_timestamp(&obj).is_some();

        if finalizers.is_empty() && grace == 0 && !ns_finalizers {
            if opts.dry_run {
                // What the deletion would answer: the object for pods and the resources upstream
                // answers with, a Status for the rest.
                return Ok((
                    200,
                    if answer_object {
                        obj
                    } else {
                        success(&gr, name, &obj)
                    },
                ));
            }
            match api
                .store
                .delete(&key, current.revision, req.resource, name)
                .await?
            {
                Some(deleted) => {
                    return Ok((
                        200,
                        if answer_object {
                            deleted
                        } else {
                            success(&gr, name, &deleted)
                        },
                    ));
                }
                None => continue,
            }
        }
        // Graceful: mark the object and leave it to finalizers, the kubelet or the namespace
        // controller.
        let mut new = obj.clone();
        if already_deleting {
            let current_grace = obj
                .get("metadata")
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64);
            let shorter = is_pod && current_grace.is_some_and(|g| grace < g);
            let more_finalizers = finalizers != object::finalizers(&obj);
            if !shorter && !more_finalizers {
                return Ok((200, obj));
            }
        }
        if !already_deleting || is_pod {
            object::set_meta(
                &mut new,
                "deletionTimestamp",
                Value::String(object::rfc3339_in(grace)),
            );
            object::set_meta(&mut new, "deletionGracePeriodSeconds", Value::from(grace));
        }
        object::set_finalizers(&mut new, &finalizers);
        if is_namespace {
            new["status"]["phase"] = Value::String("Terminating".into());
        }
        if opts.dry_run {
            return Ok((200, new));
        }
        match api
            .store
            .update(&key, new, current.revision, None, req.resource, name)
            .await?
        {
            Some(written) => return Ok((200, written)),
            None => continue,
        }
    }
    Err(ApiError::conflict(
        &gr,
        name,
        "too many concurrent updates; please try again",
    ))
}

fn add_finalizer(list: &mut Vec<String>, f: &str) {
    if !list.iter().any(|x| x == f) {
        list.push(f.to_string());
    }
}

/// A pod's grace period: 0 when it never ran (unscheduled or finished), else the request's,
/// else its spec's (default 30 s).
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let scheduled = pod
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = pod
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !scheduled || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let spec_grace = pod
        .get("spec")
        .and_then(|s| s.get("terminationGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(30);
    requested.unwrap_or(spec_grace).max(0)
}

/// A success `Status` naming the deleted object.
fn success(gr: &rkube_machinery::GroupResource, name: &str, obj: &Value) -> Value {
    let mut details = json!({"name": name, "kind": gr.resource});
    if !gr.group.is_empty() {
        details["group"] = Value::String(gr.group.clone());
    }
    if let Some(uid) = object::meta_str(obj, "uid") {
        details["uid"] = Value::String(uid.to_string());
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

pub async fn delete_collection(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let opts = DeleteOptions::from_request(req)?;
    let filter = super::read::filter_of(req)?;
    let cache = api
        .caches
        .get(req.resource)
        .ok_or_else(|| ApiError::internal("no watch cache for resource"))?;
    api.caches.sync().await?;
    let snapshot = cache.list(&filter);
    // Upstream answers with the list it deleted from: the objects as they were listed.
    let mut deleted = Vec::new();
    for o in &snapshot.items {
        match delete_object(api, req, &o.name, &opts).await {
            Ok(_) => deleted.push(
                serde_json::from_slice::<Value>(&o.json)
                    .map_err(|e| ApiError::internal(format!("decoding a cached object: {e}")))?,
            ),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({"kind": format!("{}List", req.resource.kind), "apiVersion": req.resource.api_version(),
                      "metadata": {"resourceVersion": snapshot.revision.to_string()}, "items": deleted});
    Ok(crate::http::json(200, &list))
}
