//! Authorization: the seam in front of every request.
//!
//! An [`Authorizer`] decides whether a user may perform a verb on a resource or a non-resource
//! path. Until RBAC lands, [`Bootstrap`] implements upstream's fixed policy for the built-in
//! groups: `system:masters` may do anything, everyone may read the health and version endpoints
//! and review themselves, and everything else is denied.

use crate::authn::UserInfo;

/// What a request wants to do (upstream's `authorizer.Attributes`).
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// For non-resource requests: the URL path.
    pub path: Option<String>,
}

/// The answer of an authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// Decides what users may do.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision;
}

/// Upstream's fixed bootstrap policy (before RBAC objects are consulted).
pub struct Bootstrap;

/// Paths every client, even unauthenticated, may read (`system:public-info-viewer`).
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];

impl Authorizer for Bootstrap {
    fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Decision::Allow;
        }
        if let Some(path) = &attrs.path {
            let public = PUBLIC_PATHS
                .iter()
                .any(|p| path == p || path.starts_with(&format!("{p}/")));
            if public && attrs.verb == "get" {
                return Decision::Allow;
            }
            // `system:discovery` and `system:basic-user`: authenticated users may discover.
            let discovery = path == "/api"
                || path == "/apis"
                || path.starts_with("/api/")
                || path.starts_with("/apis/")
                || path.starts_with("/openapi");
            if discovery && attrs.verb == "get" && !user.is_anonymous() {
                return Decision::Allow;
            }
            return Decision::Deny(String::new());
        }
        // Self reviews are open to every authenticated user (`system:basic-user`).
        let self_review = matches!(
            attrs.resource.as_str(),
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews" | "selfsubjectreviews"
        );
        if self_review && attrs.verb == "create" && !user.is_anonymous() {
            return Decision::Allow;
        }
        Decision::Deny(String::new())
    }
}

/// Upstream's message for a denied request: `User "x" cannot list resource "pods" in API group ""
/// in the namespace "default"`.
pub fn forbidden_reason(user: &UserInfo, attrs: &Attributes) -> String {
    if let Some(path) = &attrs.path {
        return format!(
            "User \"{}\" cannot {} path \"{}\"",
            user.name, attrs.verb, path
        );
    }
    let resource = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let mut s = format!(
        "User \"{}\" cannot {} resource \"{}\" in API group \"{}\"",
        user.name, attrs.verb, resource, attrs.group
    );
    if attrs.namespace.is_empty() {
        s.push_str(" at the cluster scope");
    } else {
        s.push_str(&format!(" in the namespace \"{}\"", attrs.namespace));
    }
    s
}
