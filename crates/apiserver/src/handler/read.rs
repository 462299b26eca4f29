//! GET and LIST.
//!
//! A GET reads the store (a quorum read, as upstream). A LIST without `limit` is served from the
//! watch cache once it has caught up with the store (or immediately for `resourceVersion=0`); a
//! paged LIST reads the store at one revision, page by page, with upstream's continue tokens.

use super::{Api, ApiRequest};
use crate::watchcache::{CachedObject, Filter};
use axum::response::Response;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use rkube_machinery::ApiError;
use rkube_machinery::selector::{FieldSelector, LabelSelector};
use rkube_store::{RangeRequest, Revision};
use serde_json::{Value, json};

pub async fn get(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    match api.store.get(&req.key(), req.resource, req.name()).await? {
        Some(s) => Ok(crate::table::respond_object(req, &s.object)),
        None => Err(ApiError::not_found(&req.gr(), req.name())),
    }
}

/// The filter of a list or watch request, with selectors checked against what the resource
/// supports (upstream's 400 for unknown field selectors).
pub fn filter_of(req: &ApiRequest) -> Result<Filter, ApiError> {
    let labels = match req.query.get("labelSelector") {
        Some(s) if !s.is_empty() => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
        _ => LabelSelector::default(),
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) if !s.is_empty() => FieldSelector::parse(s).map_err(ApiError::bad_request)?,
        _ => FieldSelector::default(),
    };
    let strategy = req.strategy()?;
    for r in &fields.requirements {
        if !strategy.supports_field(&r.field) {
            let msg = if resource_has_custom_fields(req) {
                format!("field label not supported: {}", r.field)
            } else {
                format!(
                    "{:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                    r.field
                )
            };
            return Err(ApiError::bad_request(msg));
        }
    }
    Ok(Filter {
        namespace: req.namespace().map(str::to_string),
        labels,
        fields,
    })
}

/// Resources with field selectors beyond metadata answer upstream's per-resource message.
fn resource_has_custom_fields(req: &ApiRequest) -> bool {
    let Some(s) = req.strategy.as_ref() else {
        return false;
    };
    [
        "spec.nodeName",
        "status.phase",
        "type",
        "involvedObject.name",
        "spec.unschedulable",
        "spec.signerName",
        "status.successful",
    ]
    .iter()
    .any(|f| s.supports_field(f))
}

pub async fn list(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let filter = filter_of(req)?;
    let limit = req.query.int("limit")?.unwrap_or(0).max(0) as usize;
    let cont = req.query.get("continue").filter(|c| !c.is_empty());
    let rv = req.query.get("resourceVersion").filter(|r| !r.is_empty());
    let rv_match = req.query.get("resourceVersionMatch").unwrap_or("");
    if (limit > 0 || cont.is_some()) && rv != Some("0") || rv_match == "Exact" {
        return list_from_store(api, req, &filter, limit, cont, rv, rv_match).await;
    }
    let cache = api
        .caches
        .get(req.resource)
        .ok_or_else(|| ApiError::internal("no watch cache for resource"))?;
    match rv {
        None => {
            api.caches.sync().await?;
        }
        Some("0") => {}
        Some(r) => {
            let r = parse_rv(r)?;
            api.caches.wait_for(r).await?;
        }
    }
    let snapshot = cache.list(&filter);
    Ok(list_response(
        req,
        snapshot
            .items
            .iter()
            .map(|o| crate::storage::bytes_for(&o.json, req.resource)),
        snapshot.revision,
        None,
        None,
    ))
}

pub fn parse_rv(s: &str) -> Result<Revision, ApiError> {
    s.parse::<Revision>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

/// A continue token: the revision of the list and the key to resume after, as upstream encodes
/// them (base64 JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"<key suffix>"}`).
fn encode_continue(rev: Revision, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_string();
    Ok((rev, start))
}

async fn list_from_store(
    api: &Api,
    req: &ApiRequest,
    filter: &Filter,
    limit: usize,
    cont: Option<&str>,
    rv: Option<&str>,
    rv_match: &str,
) -> Result<Response, ApiError> {
    let info = req.resource;
    let strategy = req.strategy()?.clone();
    let base = match req.namespace() {
        Some(ns) => format!("{}{}/", info.storage_prefix(), ns),
        None => info.storage_prefix(),
    };
    let end = rkube_store::prefix_end(&base);
    let (mut revision, mut start) = match cont {
        Some(token) => {
            let (rev, suffix) = decode_continue(token)?;
            (rev, format!("{base}{suffix}"))
        }
        None => (
            if rv_match == "Exact" {
                parse_rv(rv.unwrap_or("0"))?
            } else {
                0
            },
            base.clone(),
        ),
    };
    let mut items: Vec<Bytes> = Vec::new();
    let mut next: Option<String> = None;
    let mut remaining = None;
    loop {
        let want = if limit == 0 { 0 } else { limit - items.len() };
        let page = api
            .store
            .store
            .range(RangeRequest { start: start.clone(), end: end.clone(), limit: want.max(if limit == 0 { 0 } else { 1 }), revision })
            .await
            .map_err(|e| match e {
                rkube_store::StoreError::Compacted { .. } if cont.is_some() => ApiError::resource_expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ),
                e => crate::storage::api_error(e, &req.gr(), ""),
            })?;
        revision = page.revision;
        let last_key = page.kvs.last().map(|kv| kv.key.clone());
        for kv in &page.kvs {
            let Some(obj) = serde_json::from_slice::<Value>(&kv.value)
                .ok()
                .and_then(|o| crate::storage::from_storage(o, info).ok())
            else {
                continue;
            };
            let cached = CachedObject::from_store(&kv.key, obj, kv.mod_revision, strategy.as_ref());
            if filter.matches(&cached) {
                items.push(cached.json.clone());
            }
        }
        match last_key {
            Some(k) if page.more => {
                start = format!("{k}\0");
                if limit > 0 && items.len() >= limit {
                    next = Some(encode_continue(revision, &start[base.len()..]));
                    if filter.labels.is_empty() && filter.fields.is_empty() {
                        remaining = Some(page.remaining);
                    }
                    break;
                }
            }
            _ => break,
        }
    }
    Ok(list_response(
        req,
        items.into_iter(),
        revision,
        next,
        remaining,
    ))
}

/// A `<Kind>List` (or a Table of it) from pre-serialized items.
pub fn list_response(
    req: &ApiRequest,
    items: impl Iterator<Item = Bytes>,
    revision: Revision,
    cont: Option<String>,
    remaining: Option<u64>,
) -> Response {
    if crate::table::wants_table(&req.headers) {
        return crate::table::list_table(req, items, revision, cont);
    }
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        meta["continue"] = Value::String(c);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = Value::from(r);
    }
    let head = json!({"kind": format!("{}List", req.resource.kind), "apiVersion": req.resource.api_version(), "metadata": meta});
    let head = serde_json::to_vec(&head).expect("JSON values always serialize");
    let mut out = BytesMut::with_capacity(head.len() + 64);
    out.put_slice(&head[..head.len() - 1]);
    out.put_slice(b",\"items\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&item);
    }
    out.put_slice(b"]}");
    crate::http::json_bytes(200, out.freeze())
}
