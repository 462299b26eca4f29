//! Requests the server makes to itself (bootstrap objects) go through the
//! same generic handler as client requests, as the `system:apiserver` user.

use crate::authn::UserInfo;
use crate::handler::{Api, ApiRequest};
use crate::http::Query;
use bytes::Bytes;
use http::Method;
use rkube_machinery::ApiError;
use rkube_registry::catalog;
use serde_json::Value;

/// The identity of the server's own requests.
pub fn system_user() -> UserInfo {
    UserInfo {
        name: "system:apiserver".into(),
        uid: String::new(),
        groups: vec!["system:masters".into()],
        extra: Default::default(),
    }
}

impl Api {
    /// Run one request through the handler and decode its JSON answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let info =
            crate::request::parse(&method, path, query).ok_or_else(ApiError::unknown_resource)?;
        let resource = catalog::find(&info.group, &info.version, &info.resource)
            .ok_or_else(ApiError::unknown_resource)?;
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/merge-patch+json"),
        );
        // The server's own writes are managed by `kube-apiserver`, as upstream's are.
        if let Ok(agent) = http::HeaderValue::from_str(&format!(
            "kube-apiserver/{}",
            crate::server::KUBERNETES_VERSION
        )) {
            headers.insert(http::header::USER_AGENT, agent);
        }
        let req = ApiRequest {
            strategy: self.strategy(resource),
            info,
            resource,
            query: Query::parse(query),
            headers,
            body: body
                .map(|b| Bytes::from(serde_json::to_vec(b).expect("JSON values always serialize")))
                .unwrap_or_default(),
            user: system_user(),
        };
        let resp = self.handle(req).await;
        let code = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(ApiError::internal)?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if code >= 400 {
            let reason = value
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("InternalError");
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let reason = match reason {
                "AlreadyExists" => rkube_machinery::StatusReason::AlreadyExists,
                "NotFound" => rkube_machinery::StatusReason::NotFound,
                "Conflict" => rkube_machinery::StatusReason::Conflict,
                "Invalid" => rkube_machinery::StatusReason::Invalid,
                _ => rkube_machinery::StatusReason::InternalError,
            };
            return Err(ApiError::new(code, reason, message));
        }
        Ok(value)
    }

    /// Create unless it exists.
    pub async fn ensure(&self, collection_path: &str, obj: Value) -> Result<(), ApiError> {
        match self
            .call(Method::POST, collection_path, "", Some(&obj))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}
