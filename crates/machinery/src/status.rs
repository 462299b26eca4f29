//! `Status` errors as the Kubernetes API returns them.
//!
//! Every failure the API reports is an [`ApiError`]; [`ApiError::to_status`] renders upstream's
//! `Status` object (kind, apiVersion, status `Failure`, message, reason, details, code), so clients
//! such as kubectl print the same text they print against upstream.

use crate::field::ErrorList;
use serde_json::{Map, Value, json};

/// The machine-readable reason of a failed request (`Status.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    Invalid,
    MethodNotAllowed,
    NotAcceptable,
    UnsupportedMediaType,
    RequestEntityTooLarge,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
    /// No reason: what upstream sends for errors its handlers did not classify (a 500 whose
    /// `Status` has no `reason`; kubectl prints "Error from server: <message>").
    Unknown,
}

impl StatusReason {
    /// The reason as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Gone => "Gone",
            Self::Expired => "Expired",
            Self::Invalid => "Invalid",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotAcceptable => "NotAcceptable",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Timeout => "Timeout",
            Self::Unknown => "",
        }
    }
}

/// A group and a (plural) resource, as error messages name them: `configmaps`,
/// `deployments.apps`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// One `Status.details.causes` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// `Status.details`: which object the failure is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: String,
    pub group: String,
    /// The kind (for Invalid) or the plural resource (for NotFound, AlreadyExists, Conflict), as
    /// upstream fills it.
    pub kind: String,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<i64>,
}

/// A failed API request: HTTP code, reason, message and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: StatusReason,
    pub message: String,
    pub details: Option<Box<Details>>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.reason.as_str(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

fn resource_details(gr: &GroupResource, name: &str) -> Details {
    Details {
        name: name.to_string(),
        group: gr.group.clone(),
        kind: gr.resource.clone(),
        ..Default::default()
    }
}

impl ApiError {
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404: `configmaps "x" not found`.
    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self {
            code: 404,
            reason: StatusReason::NotFound,
            message: format!("{gr} \"{name}\" not found"),
            details: Some(Box::new(resource_details(gr, name))),
        }
    }

    /// 404 for a path that names no resource the server serves.
    pub fn unknown_resource() -> Self {
        Self {
            code: 404,
            reason: StatusReason::NotFound,
            message: "the server could not find the requested resource".into(),
            details: Some(Box::default()),
        }
    }

    /// 409: `configmaps "x" already exists`.
    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self {
            code: 409,
            reason: StatusReason::AlreadyExists,
            message: format!("{gr} \"{name}\" already exists"),
            details: Some(Box::new(resource_details(gr, name))),
        }
    }

    /// 409: `Operation cannot be fulfilled on configmaps "x": <why>`.
    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        Self {
            code: 409,
            reason: StatusReason::Conflict,
            message: format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
            details: Some(Box::new(resource_details(gr, name))),
        }
    }

    /// The optimistic-concurrency conflict of a stale resourceVersion.
    pub fn modified(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422: `Kind.group "name" is invalid: <errors>`, with one cause per field error.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &ErrorList) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let causes: Vec<Cause> = errors
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().to_string(),
                message: e.body(),
                field: e.field.to_string(),
            })
            .collect();
        Self {
            code: 422,
            reason: StatusReason::Invalid,
            message: format!(
                "{qualified} \"{name}\" is invalid: {}",
                errors.aggregate_message()
            ),
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes,
                retry_after_seconds: None,
            })),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, StatusReason::BadRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, StatusReason::Unauthorized, "Unauthorized")
    }

    /// 403: `pods "x" is forbidden: <why>`, or for collections `pods is forbidden: <why>`.
    pub fn forbidden(gr: &GroupResource, name: &str, why: &str) -> Self {
        let what = if name.is_empty() {
            format!("{gr}")
        } else {
            format!("{gr} \"{name}\"")
        };
        Self {
            code: 403,
            reason: StatusReason::Forbidden,
            message: format!("{what} is forbidden: {why}"),
            details: Some(Box::new(resource_details(gr, name))),
        }
    }

    pub fn method_not_supported(gr: &GroupResource, verb: &str) -> Self {
        Self {
            code: 405,
            reason: StatusReason::MethodNotAllowed,
            message: format!("{verb} is not supported on resources of kind \"{gr}\""),
            details: Some(Box::new(Details {
                group: gr.group.clone(),
                kind: gr.resource.clone(),
                ..Default::default()
            })),
        }
    }

    /// 410 Expired: the requested resourceVersion has been compacted away.
    pub fn resource_expired(message: impl Into<String>) -> Self {
        Self::new(410, StatusReason::Expired, message)
    }

    /// 410 Gone.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, StatusReason::Gone, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, StatusReason::RequestEntityTooLarge, message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            StatusReason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"
            ),
        )
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, StatusReason::NotAcceptable, message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            StatusReason::InternalError,
            format!("Internal error occurred: {message}"),
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, StatusReason::ServiceUnavailable, message)
    }

    /// 429 (upstream's `NewTooManyRequests`): the request may succeed later; clients honour a
    /// non-zero `retry_after` (sent as `Retry-After` too) by retrying on their own.
    pub fn too_many_requests(message: impl Into<String>, retry_after: i64) -> Self {
        let mut e = Self::new(429, StatusReason::TooManyRequests, message);
        e.details = Some(Box::new(Details {
            retry_after_seconds: (retry_after > 0).then_some(retry_after),
            ..Default::default()
        }));
        e
    }

    /// Ask the client to retry after `secs` seconds (`details.retryAfterSeconds`).
    pub fn with_retry_after(mut self, secs: i64) -> Self {
        self.details
            .get_or_insert_with(Default::default)
            .retry_after_seconds = Some(secs);
        self
    }

    /// Add a cause to `details` (creating them if needed).
    pub fn with_cause(mut self, reason: &str, message: impl Into<String>) -> Self {
        self.details
            .get_or_insert_with(Default::default)
            .causes
            .push(Cause {
                reason: reason.into(),
                message: message.into(),
                field: String::new(),
            });
        self
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, StatusReason::Timeout, message)
    }

    /// The `Status` object upstream would send for this error.
    pub fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), json!("Failure"));
        status.insert("message".into(), json!(self.message));
        if self.reason != StatusReason::Unknown {
            status.insert("reason".into(), json!(self.reason.as_str()));
        }
        if let Some(d) = &self.details {
            let mut details = Map::new();
            if !d.name.is_empty() {
                details.insert("name".into(), json!(d.name));
            }
            if !d.group.is_empty() {
                details.insert("group".into(), json!(d.group));
            }
            if !d.kind.is_empty() {
                details.insert("kind".into(), json!(d.kind));
            }
            if !d.causes.is_empty() {
                let causes: Vec<Value> = d
                    .causes
                    .iter()
                    .map(|c| {
                        // Each field is `omitempty` upstream.
                        let mut cause = Map::new();
                        for (k, v) in [
                            ("reason", &c.reason),
                            ("message", &c.message),
                            ("field", &c.field),
                        ] {
                            if !v.is_empty() {
                                cause.insert(k.into(), json!(v));
                            }
                        }
                        Value::Object(cause)
                    })
                    .collect();
                details.insert("causes".into(), Value::Array(causes));
            }
            if let Some(s) = d.retry_after_seconds {
                details.insert("retryAfterSeconds".into(), json!(s));
            }
            status.insert("details".into(), Value::Object(details));
        }
        status.insert("code".into(), json!(self.code));
        Value::Object(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldError, FieldPath};

    #[test]
    fn not_found_matches_upstream() {
        let e = ApiError::not_found(&GroupResource::new("", "configmaps"), "nope");
        assert_eq!(
            e.to_status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"configmaps \"nope\" not found","reason":"NotFound",
                   "details":{"name":"nope","kind":"configmaps"},"code":404})
        );
    }

    #[test]
    fn invalid_names_group_and_causes() {
        let mut errs = ErrorList::new();
        errs.push(FieldError::required(
            FieldPath::new("spec").child("containers"),
            "",
        ));
        let e = ApiError::invalid("Pod", "", "p", &errs);
        assert_eq!(
            e.message,
            "Pod \"p\" is invalid: spec.containers: Required value"
        );
        let s = e.to_status();
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(s["code"], 422);
        let e = ApiError::invalid("Deployment", "apps", "d", &errs);
        assert!(e.message.starts_with("Deployment.apps \"d\" is invalid"));
    }
}
