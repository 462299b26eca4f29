//! The front door: routes every HTTP request, and runs authentication, impersonation and
//! authorization before the generic handler.

use crate::authn::{Authenticator, UserInfo};
use crate::authz::{Attributes, Authorizer, Decision, forbidden_reason};
use crate::handler::{Api, ApiRequest};
use crate::http::{Query, json, read_body};
use crate::serve::ConnInfo;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;
use rkube_machinery::{ApiError, GroupResource};
use rkube_registry::{catalog, discovery, openapi};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The version rkube reports: the Kubernetes API version it serves.
pub const KUBERNETES_VERSION: &str = "v1.33.1";

/// Shared state of the HTTP server.
pub struct App {
    pub api: Arc<Api>,
    pub authn: Authenticator,
    pub authz: Arc<dyn Authorizer>,
    /// The address clients should use (`/api`'s serverAddressByClientCIDRs).
    pub advertise_address: String,
    /// Set once bootstrap objects exist; `/readyz` answers 200 after.
    pub ready: AtomicBool,
    /// In-process components' health, for `componentstatuses`.
    pub components: Arc<crate::componentstatus::Components>,
}

/// The router: one fallback handler, since Kubernetes paths are parsed by [`crate::request`].
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(entry).with_state(app)
}

async fn entry(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let conn = parts.extensions.get::<Arc<ConnInfo>>().cloned();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();

    // Authentication: an invalid token is 401; no credentials is system:anonymous.
    let user = match conn.as_deref() {
        Some(c) => match app.authn.authenticate_request(c, &parts.headers) {
            Ok(u) => u,
            Err(_) => return crate::http::error(&ApiError::unauthorized()),
        },
        None => UserInfo::anonymous(),
    };
    let user = match crate::authn::impersonate(&user, &parts.headers) {
        Ok(Some(target)) => {
            // Impersonation itself needs the `impersonate` verb on users/groups.
            let attrs = Attributes {
                verb: "impersonate".into(),
                resource: "users".into(),
                name: target.name.clone(),
                ..Default::default()
            };
            if app.authz.authorize(&user, &attrs) != Decision::Allow {
                let gr = GroupResource::new("", "users");
                return crate::http::error(&ApiError::forbidden(
                    &gr,
                    &target.name,
                    &format!(
                        "User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                        user.name
                    ),
                ));
            }
            target
        }
        Ok(None) => user,
        Err(e) => return crate::http::error(&ApiError::bad_request(e)),
    };

    if let Some(info) = crate::request::parse(&parts.method, &path, &query) {
        return resource_request(&app, info, parts, body, query, user).await;
    }
    // Non-resource paths.
    let verb = match parts.method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::DELETE => "delete",
        _ => "unknown",
    };
    let attrs = Attributes {
        verb: verb.into(),
        path: Some(path.clone()),
        ..Default::default()
    };
    if let Decision::Deny(_) = app.authz.authorize(&user, &attrs) {
        return crate::http::error(&forbidden_path(&user, &attrs));
    }
    non_resource(&app, &path, &query, &parts.headers)
}

fn forbidden_path(user: &UserInfo, attrs: &Attributes) -> ApiError {
    ApiError::new(
        403,
        rkube_machinery::StatusReason::Forbidden,
        format!("forbidden: {}", forbidden_reason(user, attrs)),
    )
}

fn text(code: u16, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "X-Content-Type-Options",
        http::HeaderValue::from_static("nosniff"),
    );
    r
}

/// Health checks with upstream's `?verbose` listing.
fn health(app: &App, name: &str, query: &str) -> Response {
    let ready = name != "readyz" || app.ready.load(Ordering::SeqCst);
    let checks = [
        ("ping", true),
        ("etcd", true),
        ("poststarthook/bootstrap-controller", ready),
    ];
    let verbose = Query::parse(query).get("verbose").is_some();
    if verbose {
        let mut out = String::new();
        for (c, ok) in checks {
            out.push_str(&format!(
                "[{}]{c} {}\n",
                if ok { "+" } else { "-" },
                if ok { "ok" } else { "failed: not finished" }
            ));
        }
        out.push_str(&format!(
            "{name} check {}\n",
            if ready { "passed" } else { "failed" }
        ));
        return text(if ready { 200 } else { 500 }, out);
    }
    if ready {
        text(200, "ok".into())
    } else {
        text(
            500,
            format!(
                "[-]poststarthook/bootstrap-controller failed: reason withheld\n{name} check failed\n"
            ),
        )
    }
}

/// The version document (`/version`).
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
        "gitVersion": KUBERNETES_VERSION, "gitCommit": env!("CARGO_PKG_VERSION"), "gitTreeState": "clean",
        "buildDate": "2026-11-22T00:00:00Z", "goVersion": "rust", "compiler": "rustc", "platform": "linux/amd64"
    })
}

fn aggregated_version(headers: &http::HeaderMap) -> Option<discovery::AggregatedVersion> {
    let accept = headers.get(http::header::ACCEPT)?.to_str().ok()?;
    for part in accept.split(',') {
        if part.contains("as=APIGroupDiscoveryList") {
            let v = part.split(';').find_map(|p| p.trim().strip_prefix("v="))?;
            return discovery::AggregatedVersion::from_param(v);
        }
    }
    None
}

fn aggregated_response(doc: Value, version: discovery::AggregatedVersion) -> Response {
    let mut r = json(200, &doc);
    let v = version.api_version().rsplit('/').next().unwrap_or("v2");
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList");
    if let Ok(v) = http::HeaderValue::from_str(&ct) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert("Vary", http::HeaderValue::from_static("Accept"));
    r
}

fn non_resource(app: &App, path: &str, query: &str, headers: &http::HeaderMap) -> Response {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/healthz" | "/livez" | "/readyz" => return health(app, &trimmed[1..], query),
        "/version" => return json(200, &version()),
        "/api" => {
            if let Some(v) = aggregated_version(headers) {
                return aggregated_response(discovery::aggregated_core(v), v);
            }
            return json(200, &discovery::api_versions(&app.advertise_address));
        }
        "/apis" => {
            if let Some(v) = aggregated_version(headers) {
                return aggregated_response(discovery::aggregated_apis(v), v);
            }
            return json(200, &discovery::api_group_list());
        }
        _ => {}
    }
    for check in ["/healthz/", "/livez/", "/readyz/"] {
        if trimmed.starts_with(check) {
            return text(200, "ok".into());
        }
    }
    let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let doc = match parts.as_slice() {
        ["openapi", "v2"] => {
            let accept = headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            if accept.is_some_and(openapi::v2::wants_protobuf) {
                let pb = openapi::v2::protobuf();
                return openapi_response(pb, openapi::v2::PROTOBUF_CONTENT_TYPE, headers);
            }
            return openapi_response(openapi::v2::json(), "application/json", headers);
        }
        ["openapi", "v3"] => Some(openapi::v3::index()),
        ["openapi", "v3", "api", version] => {
            return openapi_document(openapi::v3::document("", version), headers);
        }
        ["openapi", "v3", "apis", group, version] => {
            return openapi_document(openapi::v3::document(group, version), headers);
        }
        ["api", version] => discovery::resource_list("", version),
        ["apis", group] => discovery::api_group(group),
        ["apis", group, version] => discovery::resource_list(group, version),
        _ => None,
    };
    match doc {
        Some(d) => json(200, &d),
        None => crate::http::error(&ApiError::unknown_resource()),
    }
}

fn openapi_document(doc: Option<&'static openapi::Served>, headers: &http::HeaderMap) -> Response {
    match doc {
        Some(d) => openapi_response(d, "application/json", headers),
        None => crate::http::error(&ApiError::unknown_resource()),
    }
}

/// A cached OpenAPI document with its ETag; `304 Not Modified` when the client has it already.
fn openapi_response(
    doc: &'static openapi::Served,
    content_type: &'static str,
    headers: &http::HeaderMap,
) -> Response {
    let etag = doc.etag();
    let fresh = headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = http::StatusCode::NOT_MODIFIED;
        r
    } else {
        crate::http::json_bytes(200, bytes::Bytes::from_static(&doc.body))
    };
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        h.insert(http::header::ETAG, v);
    }
    h.insert("Vary", http::HeaderValue::from_static("Accept"));
    r
}

async fn resource_request(
    app: &App,
    info: crate::request::RequestInfo,
    parts: http::request::Parts,
    body: Body,
    query: String,
    user: UserInfo,
) -> Response {
    let Some(resource) = catalog::find(&info.group, &info.version, &info.resource) else {
        return crate::http::error(&ApiError::unknown_resource());
    };
    // A cluster-scoped resource under a namespace path, or the reverse, is not a resource.
    if info.namespace.is_some() && !resource.namespaced {
        return crate::http::error(&ApiError::unknown_resource());
    }
    let attrs = Attributes {
        verb: info.verb.clone(),
        group: info.group.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone().unwrap_or_default(),
        namespace: info.namespace.clone().unwrap_or_default(),
        name: info.name.clone().unwrap_or_default(),
        path: None,
    };
    if let Decision::Deny(_) = app.authz.authorize(&user, &attrs) {
        let gr = GroupResource::new(resource.group, resource.plural);
        let mut why = forbidden_reason(&user, &attrs);
        if user.is_anonymous() {
            why = forbidden_reason(&user, &attrs);
        }
        return crate::http::error(&ApiError::forbidden(
            &gr,
            info.name.as_deref().unwrap_or(""),
            &why,
        ));
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return crate::http::error(&e),
    };
    // kubectl sends Kubernetes protobuf for typed requests; every path below works on JSON.
    let mut headers = parts.headers;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = if rkube_protobuf::is_protobuf(&content_type) && !body.is_empty() {
        match rkube_protobuf::decode(&body) {
            Ok((_, _, obj)) => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                bytes::Bytes::from(serde_json::to_vec(&obj).expect("JSON values always serialize"))
            }
            Err(e) => {
                return crate::http::error(&ApiError::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): {e}",
                    resource.kind
                )));
            }
        }
    } else {
        body
    };
    // Virtual resources answered by the server itself.
    if matches!(
        resource.group,
        "authorization.k8s.io" | "authentication.k8s.io"
    ) && info.verb == "create"
    {
        return match crate::reviews::review(
            app.authz.as_ref(),
            resource.plural,
            &user,
            info.namespace.as_deref(),
            &body,
        ) {
            Ok(v) => json(201, &v),
            Err(e) => crate::http::error(&e),
        };
    }
    let req = ApiRequest {
        strategy: app.api.strategy(resource),
        info,
        resource,
        query: Query::parse(&query),
        headers,
        body,
        user,
    };
    // Probed on request, never stored.
    if req.resource.group.is_empty() && req.resource.plural == "componentstatuses" {
        return crate::componentstatus::handle(&app.components, &app.api, req).await;
    }
    if req.info.verb == "create" && req.info.subresource.is_none() && req.info.name.is_some() {
        return crate::http::error(&ApiError::method_not_supported(&req.gr(), "create"));
    }
    app.api.handle(req).await
}
