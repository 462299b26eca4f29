//! Reviews answered by the server itself: `SelfSubjectAccessReview` (`kubectl auth can-i`),
//! `SubjectAccessReview`, `LocalSubjectAccessReview`, `SelfSubjectReview` (`kubectl auth whoami`).

use crate::authn::UserInfo;
use crate::authz::{Attributes, Authorizer, Decision};
use rkube_machinery::ApiError;
use serde_json::{Value, json};

fn attributes_of(spec: &Value, namespace_override: Option<&str>) -> Attributes {
    if let Some(r) = spec.get("resourceAttributes") {
        let s = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        Attributes {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: namespace_override
                .map(str::to_string)
                .unwrap_or_else(|| s("namespace")),
            name: s("name"),
            path: None,
        }
    } else {
        let n = spec
            .get("nonResourceAttributes")
            .cloned()
            .unwrap_or_default();
        Attributes {
            verb: n
                .get("verb")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            path: Some(
                n.get("path")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            ..Default::default()
        }
    }
}

fn decide(authz: &dyn Authorizer, user: &UserInfo, attrs: &Attributes) -> Value {
    match authz.authorize(user, attrs) {
        Decision::Allow => json!({"allowed": true}),
        Decision::Deny(reason) if reason.is_empty() => json!({"allowed": false}),
        Decision::Deny(reason) => json!({"allowed": false, "reason": reason}),
    }
}

/// Answer a review of kind `resource` created by `user`.
pub fn review(
    authz: &dyn Authorizer,
    resource: &str,
    user: &UserInfo,
    namespace: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("unable to decode review: {e}")))?;
    let spec = obj.get("spec").cloned().unwrap_or_default();
    let status = match resource {
        "selfsubjectaccessreviews" => decide(authz, user, &attributes_of(&spec, None)),
        "localsubjectaccessreviews" | "subjectaccessreviews" => {
            let subject = UserInfo {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                uid: spec
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                extra: Default::default(),
            };
            decide(authz, &subject, &attributes_of(&spec, namespace))
        }
        "selfsubjectreviews" => {
            let mut info = json!({"username": user.name, "groups": user.groups});
            if !user.uid.is_empty() {
                info["uid"] = Value::String(user.uid.clone());
            }
            if !user.extra.is_empty() {
                info["extra"] = json!(user.extra);
            }
            json!({"userInfo": info})
        }
        "selfsubjectrulesreviews" => {
            let all = user.groups.iter().any(|g| g == "system:masters");
            let rules = if all {
                json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}])
            } else {
                json!([])
            };
            let nonres = if all {
                json!([{"verbs": ["*"], "nonResourceURLs": ["*"]}])
            } else {
                json!([])
            };
            json!({"resourceRules": rules, "nonResourceRules": nonres, "incomplete": false})
        }
        other => {
            return Err(ApiError::method_not_supported(
                &rkube_machinery::GroupResource::new("", other),
                "create",
            ));
        }
    };
    obj["status"] = status;
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    Ok(obj)
}
