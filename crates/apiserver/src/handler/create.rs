//! POST: create an object.

use super::{Api, ApiRequest};
use crate::object;
use axum::response::Response;
use rkube_machinery::ApiError;
use rkube_registry::Generation;
use serde_json::Value;
use std::time::Duration;

/// Events expire an hour after their last write (upstream's `--event-ttl`).
pub const EVENT_TTL: Duration = Duration::from_secs(3600);

/// The TTL of objects of a resource.
pub fn ttl_of(info: &rkube_registry::ResourceInfo) -> Option<Duration> {
    (info.kind == "Event").then_some(EVENT_TTL)
}

/// Decode the body of a write and check its apiVersion and kind against the URL.
pub fn decode_object(req: &ApiRequest) -> Result<(Value, Vec<String>), ApiError> {
    let info = req.resource;
    let mut obj = crate::http::decode_body(&req.body, req.content_type(), info.kind)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: expected an object",
            info.kind
        )));
    }
    let api_version = info.api_version();
    let body_kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let body_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !body_kind.is_empty() && body_kind != info.kind {
        let v = if body_version.is_empty() {
            api_version.clone()
        } else {
            body_version.clone()
        };
        return Err(ApiError::bad_request(format!(
            "{body_kind} in version \"{}\" cannot be handled as a {}: converting ({}.{body_kind}) to ({}.{}): unknown conversion",
            v.rsplit('/').next().unwrap_or(&v),
            info.kind,
            v.rsplit('/').next().unwrap_or(&v),
            if info.group.is_empty() {
                "core"
            } else {
                info.group.split('.').next().unwrap_or(info.group)
            },
            info.kind
        )));
    }
    if !body_version.is_empty() && body_version != api_version {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: no kind \"{}\" is registered for version \"{}\"",
            info.kind, body_version, info.kind, info.kind, body_version
        )));
    }
    obj["apiVersion"] = Value::String(api_version);
    obj["kind"] = Value::String(info.kind.to_string());
    let decoded = req.strategy()?.decode(obj).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            info.kind, info.version, info.kind
        ))
    })?;
    Ok((decoded.object, decoded.unknown_fields))
}

/// Apply `fieldValidation`: Strict refuses unknown fields, Warn reports them, Ignore drops them.
/// Returns the warnings to send.
pub fn field_validation(req: &ApiRequest, unknown: &[String]) -> Result<Vec<String>, ApiError> {
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let list = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect::<Vec<_>>();
    match req.query.get("fieldValidation").unwrap_or("") {
        "Strict" => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            req.resource.kind,
            req.resource.version,
            req.resource.kind,
            list.join(", ")
        ))),
        // Warn is the default since v1.23 (kubectl itself asks for Strict).
        "" | "Warn" => Ok(list),
        "Ignore" => Ok(Vec::new()),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation invalid value: {other:?}: must be one of Ignore, Warn, Strict"
        ))),
    }
}

/// A random suffix for `generateName` (upstream's alphabet avoids vowels and confusable digits).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(5)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub async fn create(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let (mut obj, unknown) = decode_object(req)?;
    let mut warnings = field_validation(req, &unknown)?;
    warnings.extend(super::owner_refs::dedup(
        &mut obj,
        super::owner_refs::Found::InBody,
    ));
    create_object(api, req, obj, warnings, Tracking::Update).await
}

/// How a create records its managed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// A plain create: the creator owns what it set (operation `Update`).
    Update,
    /// Server-side apply created the object and recorded its fields already.
    Applied,
}

/// The writer of a request, for managed fields.
pub fn writer<'a>(req: &'a ApiRequest, status: bool) -> crate::fieldmanager::Writer<'a> {
    let user_agent = req
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    crate::fieldmanager::Writer {
        manager: crate::fieldmanager::manager_name(req.query.get("fieldManager"), user_agent),
        subresource: status.then_some("status"),
        api_version: req.resource.api_version(),
        has_status_subresource: req.resource.has_status_subresource(),
    }
}

/// The schema managed fields and strategic merge patch follow for `req`'s resource.
pub fn schema_of(req: &ApiRequest) -> Option<rkube_registry::patch_meta::Node> {
    let r = req.resource;
    rkube_registry::patch_meta::Node::of_kind(r.group, r.version, r.kind)
}

/// Create `obj` (decoded from the request, or built by server-side apply).
pub async fn create_object(
    api: &Api,
    req: &ApiRequest,
    mut obj: Value,
    warnings: Vec<String>,
    tracking: Tracking,
) -> Result<Response, ApiError> {
    let dry_run = req.query.dry_run()?;
    let info = req.resource;
    let strategy = req.strategy()?.clone();

    // The namespace comes from the URL; a different one in the body is an error.
    if let Some(ns) = req.namespace() {
        match object::namespace(&obj) {
            Some(body_ns) if body_ns != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => object::set_meta(&mut obj, "namespace", Value::String(ns.to_string())),
        }
    } else if !info.namespaced {
        object::remove_meta(&mut obj, "namespace");
    }
    if object::meta_str(&obj, "resourceVersion").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if object::name(&obj).is_empty()
        && let Some(prefix) = object::meta_str(&obj, "generateName").filter(|p| !p.is_empty())
    {
        let name = format!("{prefix}{}", random_suffix());
        object::set_meta(&mut obj, "name", Value::String(name));
    }
    // System fields.
    let meta = object::meta_mut(&mut obj);
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert(
        "creationTimestamp".into(),
        Value::String(object::now_rfc3339()),
    );
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if strategy.generation() != Generation::None {
        meta.insert("generation".into(), Value::from(1));
    } else {
        meta.remove("generation");
    }
    if info.has_status_subresource()
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }

    api.check_namespace_writable(req).await?;
    // The creator owns what it sent (with the decoder's defaults), not what the strategy and
    // the REST layer add afterwards.
    let mut managed = None;
    let errors = if tracking == Tracking::Update {
        let w = writer(req, false);
        let schema = schema_of(req);
        strategy.create(
            &mut obj,
            Some(&mut |sent: &Value| {
                managed = Some(crate::fieldmanager::managed_fields_of_update(
                    None, sent, &w, schema,
                ));
            }),
        )
    } else {
        strategy.create(&mut obj, None)
    };
    if let Some(fields) = managed {
        crate::fieldmanager::store_managed_fields(&mut obj, fields);
    }
    object::drop_empty_meta_collections(&mut obj);
    let name = object::name(&obj).to_string();
    if !errors.is_empty() {
        return Err(ApiError::invalid(info.kind, info.group, &name, &errors));
    }
    let key = info.storage_key(req.namespace(), &name);
    crate::admission::admit_create(api, req, &mut obj).await?;

    if info.group.is_empty() && info.plural == "services" {
        return crate::services::create_service(api, req, obj, &key, dry_run, warnings).await;
    }
    if dry_run {
        return Ok(with_warnings(crate::http::json(201, &obj), &warnings));
    }
    let created = api
        .store
        .create(&key, obj, ttl_of(info), info, &name)
        .await?;
    Ok(with_warnings(crate::http::json(201, &created), &warnings))
}

/// Add `Warning: 299 - "<text>"` headers, which kubectl prints.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}
