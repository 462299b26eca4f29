//! WATCH: a stream of `{"type":...,"object":...}` lines from the watch cache.

use super::read::{filter_of, parse_rv};
use super::{Api, ApiRequest};
use crate::watchcache::{CacheEvent, EventType, Filter};
use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use rkube_machinery::ApiError;
use rkube_store::Revision;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often a watch asking for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// Upstream's default watch length is randomised in [30, 60) minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

pub async fn watch(api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let filter = filter_of(req)?;
    // A watch on one object: `fieldSelector=metadata.name=x` is what clients send, but the
    // deprecated `/watch/.../name` path names it too.
    let mut filter = filter;
    if let Some(name) = req.info.name.as_deref() {
        filter
            .fields
            .requirements
            .push(rkube_machinery::selector::FieldRequirement {
                field: "metadata.name".into(),
                operator: rkube_machinery::selector::FieldOperator::Equals,
                value: name.to_string(),
            });
    }
    let cache = api
        .caches
        .get(req.resource)
        .ok_or_else(|| ApiError::internal("no watch cache for resource"))?
        .clone();
    let send_initial = req.query.flag("sendInitialEvents");
    let from = match req.query.get("resourceVersion").filter(|r| !r.is_empty()) {
        None => None,
        Some("0") => None,
        Some(rv) if send_initial => {
            api.caches.wait_for(parse_rv(rv)?).await?;
            None
        }
        Some(rv) => {
            let rv = parse_rv(rv)?;
            api.caches.wait_for(rv).await?;
            Some(rv)
        }
    };
    if from.is_none() && !send_initial && req.query.get("resourceVersion").is_none() {
        // No resourceVersion: start from the latest state, consistently.
        api.caches.sync().await?;
    }
    let start = match cache.watch(from) {
        Ok(start) => start,
        // As upstream's cacher does: once the request is accepted, a resourceVersion older than
        // the window is an ERROR event in a 200 stream, not an HTTP error. That is where
        // client-go's reflector and kube-rs's watcher look for 410 before they list again.
        Err(err) if err.code == 410 => return Ok(error_stream(&err)),
        Err(err) => return Err(err),
    };
    let timeout = req
        .query
        .int("timeoutSeconds")?
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = req.query.flag("allowWatchBookmarks");
    let kind = req.resource.kind;
    let api_version = req.resource.api_version();
    let table = crate::table::wants_table(&req.headers);
    let info = req.resource;

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut last_rev: Revision = start.revision;
        for e in &start.initial {
            if let Some(line) = render(&filter, e, table, info)
                && tx.send(Ok(line)).await.is_err()
            {
                return;
            }
        }
        if send_initial && bookmarks {
            let line = bookmark(kind, &api_version, start.revision, true);
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let mut live = start.live;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(Ok(bookmark(kind, &api_version, last_rev, false))).await.is_err() { return; }
                }
                ev = live.recv() => match ev {
                    Ok(e) => {
                        if e.revision <= start.revision { continue; }
                        last_rev = e.revision;
                        if let Some(line) = render(&filter, &e, table, info)
                            && tx.send(Ok(line)).await.is_err() { return; }
                    }
                    // Too slow: end the stream; the client resumes from its last revision.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|r| r);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::TRANSFER_ENCODING,
        http::HeaderValue::from_static("chunked"),
    );
    Ok(resp)
}

/// A watch that reports one ERROR event carrying `err`'s Status and ends.
fn error_stream(err: &ApiError) -> Response {
    let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": err.to_status()}))
        .expect("JSON values always serialize");
    line.push(b'\n');
    let mut resp = Response::new(Body::from(line));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// One event line, if the watcher's filter lets it through.
fn render(
    filter: &Filter,
    e: &Arc<CacheEvent>,
    table: bool,
    info: &'static rkube_registry::ResourceInfo,
) -> Option<Bytes> {
    let kind = filter.view(e)?;
    let json = crate::storage::bytes_for(&e.object.json, info);
    if table {
        let obj: serde_json::Value = serde_json::from_slice(&json).ok()?;
        let t = crate::table::event_table(info, &obj);
        let line = json!({"type": kind.as_str(), "object": t});
        let mut b = serde_json::to_vec(&line).ok()?;
        b.push(b'\n');
        return Some(Bytes::from(b));
    }
    Some(event_line(kind, &json))
}

/// `{"type":"ADDED","object":<json>}\n`.
pub fn event_line(kind: EventType, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(kind.as_str().as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

/// A BOOKMARK event: an object of the resource's kind carrying only the revision.
fn bookmark(kind: &str, api_version: &str, rev: Revision, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rev.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let line = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}});
    let mut b = serde_json::to_vec(&line).expect("JSON values always serialize");
    b.push(b'\n');
    Bytes::from(b)
}
