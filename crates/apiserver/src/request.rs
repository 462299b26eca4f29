//! What a request asks for, from its method, path and query (upstream's `RequestInfo`).
//!
//! Resource paths look like `/api/v1/namespaces/{ns}/pods/{name}/status` or
//! `/apis/{group}/{version}/{resource}`; the parser turns them into group, version, namespace,
//! resource, name and subresource plus the API verb (`get`, `list`, `watch`, `create`, ...),
//! which authorization and the generic handler both use.

use http::Method;

/// A parsed resource request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The API verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
}

/// Query flags that change the verb (`?watch=1`, `?watch=true`, `?watch=True`).
pub fn is_watch_query(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "watch")
        .is_some_and(|(_, v)| crate::http::query_bool(&v))
}

/// Parse a resource path. Returns `None` for paths that are not resource requests (discovery,
/// health, version).
pub fn parse(method: &Method, path: &str, query: &str) -> Option<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => {
            (String::new(), version.to_string(), rest)
        }
        ["apis", group, version, rest @ ..] if !rest.is_empty() => {
            (group.to_string(), version.to_string(), rest)
        }
        _ => return None,
    };
    let mut info = RequestInfo {
        group,
        version,
        ..Default::default()
    };
    let mut rest: Vec<&str> = rest.to_vec();
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        // Deprecated `/watch/` paths: still served by upstream.
        watch_path = true;
        rest.remove(0);
    }
    // `namespaces/{ns}/{resource}...` is namespaced; `namespaces/{ns}` alone is the namespace object.
    // (`namespaces/{ns}/status` and `/finalize` are subresources of the namespace itself.)
    if rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"))
    {
        info.namespace = Some(rest[1].to_string());
        rest.drain(0..2);
    }
    match rest.as_slice() {
        [resource] => info.resource = resource.to_string(),
        [resource, name] => {
            info.resource = resource.to_string();
            info.name = Some(name.to_string());
        }
        [resource, name, sub] => {
            info.resource = resource.to_string();
            info.name = Some(name.to_string());
            info.subresource = Some(sub.to_string());
        }
        _ => return None,
    }
    if info.resource.is_empty() || info.name.as_deref() == Some("") {
        return None;
    }
    let collection = info.name.is_none();
    info.verb = match *method {
        Method::GET | Method::HEAD if watch_path || is_watch_query(query) => "watch",
        Method::GET | Method::HEAD if collection => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    }
    .to_string();
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_flag_reads_like_upstream_booleans() {
        for yes in [
            "watch=1",
            "watch=true",
            "watch=True",
            "watch=TRUE",
            "watch=",
            "a=b&watch=yes",
        ] {
            assert!(is_watch_query(yes), "{yes}");
        }
        for no in [
            "",
            "watch=0",
            "watch=false",
            "watch=False",
            "watched=true",
            "watch=0&watch=1",
        ] {
            assert!(!is_watch_query(no), "{no}");
        }
    }

    #[test]
    fn parses_resource_paths() {
        let i = parse(
            &Method::GET,
            "/api/v1/namespaces/default/pods/web/status",
            "",
        )
        .unwrap();
        assert_eq!(
            (
                i.namespace.as_deref(),
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref(),
                i.verb.as_str()
            ),
            (Some("default"), "pods", Some("web"), Some("status"), "get")
        );
        let i = parse(&Method::GET, "/apis/apps/v1/deployments", "watch=true").unwrap();
        assert_eq!(
            (i.group.as_str(), i.resource.as_str(), i.verb.as_str()),
            ("apps", "deployments", "watch")
        );
        let i = parse(&Method::GET, "/api/v1/namespaces/kube-system", "").unwrap();
        assert_eq!(
            (i.resource.as_str(), i.name.as_deref(), i.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let i = parse(&Method::DELETE, "/api/v1/namespaces/x/configmaps", "").unwrap();
        assert_eq!(i.verb, "deletecollection");
        let i = parse(&Method::PUT, "/api/v1/namespaces/x/finalize", "").unwrap();
        assert_eq!(
            (
                i.namespace,
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            (None, "namespaces", Some("x"), Some("finalize"))
        );
        assert!(parse(&Method::GET, "/api/v1", "").is_none());
        assert!(parse(&Method::GET, "/apis/apps", "").is_none());
    }
}
