//! Subresources: `status`, `scale`, `pods/binding`, `pods/eviction`, `namespaces/finalize`.

use super::create::Tracking;
use super::update::{Target, guaranteed_update, parse_patch};
use super::{Api, ApiRequest};
use crate::object;
use axum::response::Response;
use rkube_machinery::ApiError;
use serde_json::{Value, json};

pub async fn handle(api: &Api, req: ApiRequest, sub: &str) -> Result<Response, ApiError> {
    let Some(sub_info) = req.resource.subresource(sub) else {
        return Err(ApiError::unknown_resource());
    };
    let verb = req.info.verb.as_str();
    let allowed =
        sub_info.verbs.contains(&verb) || (verb == "create" && sub_info.verbs.contains(&"create"));
    if !allowed {
        return Err(ApiError::method_not_supported(&req.gr(), verb));
    }
    match (sub, verb) {
        ("status", "get") => super::read::get(api, &req).await,
        ("status", "update") => super::update::replace(api, &req, Target::Status).await,
        ("status", "patch") => super::update::patch(api, &req, Target::Status).await,
        ("scale", _) => scale(api, &req, verb).await,
        ("binding", "create") => super::binding::bind(api, &req).await,
        ("eviction", "create") => super::eviction::evict(api, &req).await,
        ("finalize", "update") => finalize(api, &req).await,
        _ => Err(ApiError::service_unavailable(format!(
            "the {sub} subresource of {} is not available yet: it needs a node agent",
            req.resource.plural
        ))),
    }
}

/// The label selector of a workload, as the string a Scale carries.
fn selector_string(obj: &Value) -> String {
    let sel = obj.get("spec").and_then(|s| s.get("selector"));
    let labels = sel
        .and_then(|s| s.get("matchLabels"))
        .or(sel)
        .and_then(Value::as_object);
    let mut parts: Vec<String> = labels
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(exprs) = sel
        .and_then(|s| s.get("matchExpressions"))
        .and_then(Value::as_array)
    {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.sort();
    parts.join(",")
}

/// The `autoscaling/v1` Scale view of a workload.
fn to_scale(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_default();
    let mut m = serde_json::Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    let replicas = obj
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status_replicas = obj
        .get("status")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": m,
           "spec": {"replicas": replicas}, "status": {"replicas": status_replicas, "selector": selector_string(obj)}})
}

async fn scale(api: &Api, req: &ApiRequest, verb: &str) -> Result<Response, ApiError> {
    if verb == "get" {
        let current = api
            .store
            .get(&req.key(), req.resource, req.name())
            .await?
            .ok_or_else(|| ApiError::not_found(&req.gr(), req.name()))?;
        return Ok(crate::http::json(200, &to_scale(&current.object)));
    }
    // update or patch: compute the wanted replicas from the Scale, then write the workload.
    let change = |current: &Value| -> Result<Value, ApiError> {
        let scale = to_scale(current);
        let wanted = if verb == "patch" {
            let (kind, patch) = parse_patch(req)?;
            crate::patch::apply(kind, &patch, &scale, ("autoscaling", "v1", "Scale"))?
        } else {
            serde_json::from_slice::<Value>(&req.body)
                .map_err(|e| ApiError::bad_request(format!("unable to decode Scale: {e}")))?
        };
        let replicas = wanted
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .cloned()
            .unwrap_or(json!(0));
        if let Some(rv) = object::meta_str(&wanted, "resourceVersion")
            && Some(rv) != object::meta_str(current, "resourceVersion")
        {
            return Err(ApiError::modified(&req.gr(), req.name()));
        }
        let mut next = current.clone();
        next["spec"]["replicas"] = replicas;
        Ok(next)
    };
    let written = guaranteed_update(api, req, Target::Main, None, Tracking::Update, change)
        .await
        .map_err(|mut e| {
            // Validation of replicas reports against the Scale, as upstream.
            if e.code == 422 {
                e.message = e.message.replacen(
                    &format!("{}.{} ", req.resource.kind, req.resource.group),
                    "Scale.autoscaling ",
                    1,
                );
            }
            e
        })?;
    Ok(crate::http::json(200, &to_scale(&written)))
}

/// `pods/binding`: assign a pending pod to a node (what the scheduler does).
/// `namespaces/finalize`: replace `spec.finalizers` (the namespace controller's last step).
async fn finalize(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("unable to decode Namespace: {e}")))?;
    let finalizers = body
        .get("spec")
        .and_then(|s| s.get("finalizers"))
        .cloned()
        .unwrap_or(json!([]));
    let dry_run = req.query.dry_run()?;
    let gr = req.gr();
    let key = req.key();
    loop {
        let current = api
            .store
            .get(&key, req.resource, req.name())
            .await?
            .ok_or_else(|| ApiError::not_found(&gr, req.name()))?;
        let mut ns = current.object;
        ns["spec"]["finalizers"] = finalizers.clone();
        if dry_run {
            return Ok(crate::http::json(200, &ns));
        }
        let done = finalizers.as_array().is_none_or(|a| a.is_empty())
            && object::deletion_timestamp(&ns).is_some()
            && object::finalizers(&ns).is_empty();
        if done {
            if let Some(deleted) = api
                .store
                .delete(&key, current.revision, req.resource, req.name())
                .await?
            {
                return Ok(crate::http::json(200, &deleted));
            }
        } else if let Some(written) = api
            .store
            .update(&key, ns, current.revision, None, req.resource, req.name())
            .await?
        {
            return Ok(crate::http::json(200, &written));
        }
    }
}
