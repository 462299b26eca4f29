//! HTTP plumbing shared by every endpoint: JSON responses, `Status` errors, request bodies
//! (JSON or YAML, at most 3 MiB) and query parameters.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use rkube_machinery::ApiError;
use serde_json::Value;

/// Upstream's request body limit (`--max-request-bytes` default for objects: 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A JSON response.
pub fn json(code: u16, value: &Value) -> Response {
    json_bytes(
        code,
        Bytes::from(serde_json::to_vec(value).expect("JSON values always serialize")),
    )
}

/// A response whose body is already JSON.
pub fn json_bytes(code: u16, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The `Status` response of an error.
///
/// Like upstream, a retry delay in the details is also sent as `Retry-After`, which client-go
/// honours by retrying the request itself.
pub fn error(e: &ApiError) -> Response {
    let mut resp = json(e.code, &e.to_status());
    if let Some(secs) = e.details.as_ref().and_then(|d| d.retry_after_seconds)
        && secs > 0
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Lets handlers return `Result<Response, ErrorResponse>` with `?`.
pub struct ErrorResponse(pub ApiError);

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        error(&self.0)
    }
}

impl From<ApiError> for ErrorResponse {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

/// Read a request body, refusing more than [`MAX_BODY_BYTES`] with 413.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit exceeded"))
                || e.to_string().contains("length limit");
            if too_large {
                Err(ApiError::too_large(format!(
                    "Request entity too large: limit is {MAX_BODY_BYTES}"
                )))
            } else {
                Err(ApiError::bad_request(format!(
                    "unable to read the request body: {e}"
                )))
            }
        }
    }
}

/// Whether a content type is YAML.
fn is_yaml(content_type: &str) -> bool {
    content_type.contains("yaml")
}

/// Decode a body as JSON (or YAML when the content type says so). `kind` names the expected kind
/// in errors, as upstream's "the object provided is unrecognized (must be of type ConfigMap)".
pub fn decode_body(body: &[u8], content_type: &str, kind: &str) -> Result<Value, ApiError> {
    if rkube_protobuf::is_protobuf(content_type) {
        return rkube_protobuf::decode(body)
            .map(|(_, _, obj)| obj)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "the object provided is unrecognized (must be of type {kind}): {e}"
                ))
            });
    }
    if content_type.contains("cbor") {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    if is_yaml(content_type) && !content_type.contains("apply-patch") {
        return serde_norway::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("the object provided is unrecognized (must be of type {kind}): error converting YAML to JSON: {e}"))
        });
    }
    serde_json::from_slice::<Value>(body).map_err(|e| {
        let snippet: String = String::from_utf8_lossy(body).chars().take(30).collect();
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {} ({snippet} ...)",
            json_error_text(&e)
        ))
    })
}

/// serde_json's error in the words of Go's encoding/json where they differ in a way users see.
fn json_error_text(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        e.to_string()
    }
}

/// Parsed query parameters.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(q: &str) -> Self {
        Self {
            pairs: form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, read as upstream reads them: absent, `0` or `false` (any case) is
    /// false, anything else (`true`, `True`, `1`, even an empty value) is true.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(query_bool)
    }

    /// A non-negative integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?} is not an integer"))
            }),
        }
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        let mut dry = false;
        for v in self.get_all("dryRun") {
            match v {
                "All" => dry = true,
                "" => {}
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dry run value: {other:?}; only \"All\" is supported"
                    )));
                }
            }
        }
        Ok(dry)
    }
}

/// The value of a present boolean query parameter, as upstream's parameter codec reads it: only
/// `0` and `false` (in any case) are false. Python's client sends `watch=True`, for example.
pub fn query_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}
