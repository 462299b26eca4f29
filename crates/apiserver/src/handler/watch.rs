//! WATCH: a stream of `{"type":...,"object":...}` lines from the watch cache.

use super::read::{filter_of, parse_rv};
use super::{Api, ApiRequest};
use crate::watchcache::{CacheEvent, Filter, event_line};
use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use rkube_machinery::ApiError;
use rkube_store::Revision;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::TryRecvError;

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

    let state = WatchState {
        filter,
        table,
        info,
        initial: start.initial.into_iter(),
        initial_end: (send_initial && bookmarks).then_some(start.revision),
        live: start.live,
        start_rev: start.revision,
        last_rev: start.revision,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        bookmarks: bookmarks.then(|| {
            let mut ticker = tokio::time::interval_at(
                tokio::time::Instant::now() + BOOKMARK_INTERVAL,
                BOOKMARK_INTERVAL,
            );
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker
        }),
        kind,
        api_version,
    };
    // The response body pulls events straight from the cache's broadcast: no task or channel
    // per watcher, and the connection's writer is woken once per batch of events.
    let stream = futures::stream::unfold(state, |mut st| async move {
        let chunk = st.next_chunk().await?;
        Some((Ok::<_, std::io::Error>(chunk), st))
    });
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

/// Largest body chunk built from events that are ready at once.
const MAX_CHUNK: usize = 64 * 1024;

/// Where one watch stands: initial events still to send, then the live events.
struct WatchState {
    filter: Filter,
    table: bool,
    info: &'static rkube_registry::ResourceInfo,
    initial: std::vec::IntoIter<Arc<CacheEvent>>,
    /// The revision of the `initial-events-end` bookmark still to send, if one was asked for.
    initial_end: Option<Revision>,
    live: broadcast::Receiver<Arc<CacheEvent>>,
    start_rev: Revision,
    last_rev: Revision,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    bookmarks: Option<tokio::time::Interval>,
    kind: &'static str,
    api_version: String,
}

impl WatchState {
    /// The next piece of the body: as many ready events as fit in one chunk, a bookmark, or
    /// `None` when the watch ends (timeout, or the watcher fell too far behind and must resume).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let mut batch = Batch::default();
        for e in self.initial.by_ref() {
            if let Some(line) = render(&self.filter, &e, self.table, self.info) {
                batch.push(line);
                if batch.len >= MAX_CHUNK {
                    return Some(batch.finish());
                }
            }
        }
        if let Some(rev) = self.initial_end.take() {
            batch.push(bookmark(self.kind, &self.api_version, rev, true));
        }
        if batch.len > 0 {
            return Some(batch.finish());
        }
        loop {
            // Events already waiting go out without touching the timers (which cost more than
            // the event when a thousand watchers wake together); the deadline still holds.
            if tokio::time::Instant::now() >= self.deadline.deadline() {
                return None;
            }
            if self.drain_ready(&mut batch) {
                return Some(batch.finish());
            }
            let bookmarks = &mut self.bookmarks;
            let ticker = async {
                match bookmarks.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut self.deadline => return None,
                _ = ticker => {
                    return Some(bookmark(self.kind, &self.api_version, self.last_rev, false));
                }
                ev = self.live.recv() => {
                    self.take(ev.ok()?, &mut batch);
                    // Whatever else is already waiting goes out in the same chunk.
                    self.drain_ready(&mut batch);
                    if batch.len > 0 {
                        return Some(batch.finish());
                    }
                }
            }
        }
    }

    /// Add the events already waiting to `batch` (up to a chunk); whether it holds any.
    fn drain_ready(&mut self, batch: &mut Batch) -> bool {
        while batch.len < MAX_CHUNK {
            match self.live.try_recv() {
                Ok(e) => self.take(e, batch),
                Err(TryRecvError::Empty) => break,
                // Too slow or closed: end the stream once this chunk is out; the client
                // resumes from its last revision.
                Err(_) => {
                    self.deadline = Box::pin(tokio::time::sleep(Duration::ZERO));
                    break;
                }
            }
        }
        batch.len > 0
    }

    fn take(&mut self, e: Arc<CacheEvent>, batch: &mut Batch) {
        if e.revision <= self.start_rev {
            return;
        }
        self.last_rev = e.revision;
        if let Some(line) = render(&self.filter, &e, self.table, self.info) {
            batch.push(line);
        }
    }
}

/// Event lines gathered into one body chunk; a single line is passed on without copying.
#[derive(Default)]
struct Batch {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    len: usize,
}

impl Batch {
    fn push(&mut self, line: Bytes) {
        self.len += line.len();
        match (&self.first, &mut self.rest) {
            (None, _) => self.first = Some(line),
            (Some(first), None) => {
                let mut buf = BytesMut::with_capacity(first.len() + line.len() * 4);
                buf.put_slice(first);
                buf.put_slice(&line);
                self.rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.put_slice(&line),
        }
    }

    fn finish(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(buf)) => buf.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

/// One event line, if the watcher's filter lets it through.
fn render(
    filter: &Filter,
    e: &Arc<CacheEvent>,
    table: bool,
    info: &'static rkube_registry::ResourceInfo,
) -> Option<Bytes> {
    let kind = filter.view(e)?;
    if table {
        let json = crate::storage::bytes_for(&e.object.json, info);
        let obj: serde_json::Value = serde_json::from_slice(&json).ok()?;
        let t = crate::table::event_table(info, &obj);
        let line = json!({"type": kind.as_str(), "object": t});
        let mut b = serde_json::to_vec(&line).ok()?;
        b.push(b'\n');
        return Some(Bytes::from(b));
    }
    if rkube_registry::conversion::is_converted(info) {
        let json = crate::storage::bytes_for(&e.object.json, info);
        return Some(event_line(kind, &json));
    }
    Some(e.line(kind))
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
