//! PATCH documents: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes'
//! strategic merge patch, applied to the current object to produce the new one.

mod go_fmt;
mod merge;
mod shape;
mod strategic;

pub use merge::merge_patch;
pub use strategic::{SmpError, strategic_merge_patch};

use rkube_machinery::{ApiError, StatusReason};
use serde_json::Value;

/// The kinds of PATCH upstream accepts, by content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply)
    Apply,
}

impl PatchKind {
    /// The kind of a PATCH by its content type (without parameters).
    pub fn from_content_type(ct: &str) -> Option<PatchKind> {
        Some(match ct {
            "application/json-patch+json" => PatchKind::Json,
            "application/merge-patch+json" => PatchKind::Merge,
            "application/strategic-merge-patch+json" => PatchKind::Strategic,
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => PatchKind::Apply,
            _ => return None,
        })
    }
}

/// Apply `patch` of `kind` to a copy of `current`, an object of `kind_of` (group, version, kind)
/// whose schema tells strategic merge patch how to merge lists.
pub fn apply(
    kind: PatchKind,
    patch: &Value,
    current: &Value,
    kind_of: (&str, &str, &str),
) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Json => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the json patch is invalid: {e}")))?;
            // Upstream answers a failed operation with a generic 422 that names no operation
            // (kubectl: "The request is invalid: the server rejected our request due to an
            // error in our request"); the reason is only in the server's log.
            json_patch::patch(&mut doc, &p).map_err(|e| {
                tracing::debug!("json patch failed: {e}");
                let mut err = ApiError::new(
                    422,
                    StatusReason::Invalid,
                    "the server rejected our request due to an error in our request",
                );
                err.details = Some(Box::default());
                err
            })?;
            Ok(doc)
        }
        PatchKind::Merge | PatchKind::Apply => {
            merge_patch(&mut doc, patch);
            Ok(doc)
        }
        PatchKind::Strategic => {
            let (group, version, kind) = kind_of;
            let schema = rkube_registry::patch_meta::Node::of_kind(group, version, kind);
            let patched = strategic_merge_patch(&doc, patch, schema).map_err(smp_error)?;
            // Upstream converts the patched map into the typed object next; a value of the
            // wrong shape fails there, quoting the patch.
            if let Some(problem) = schema.and_then(|s| shape::first_mismatch(&patched, s)) {
                let mut errs = rkube_machinery::ErrorList::new();
                errs.push(rkube_machinery::FieldError::invalid(
                    rkube_machinery::FieldPath::new("patch"),
                    go_fmt::go_value(patch),
                    problem,
                ));
                return Err(ApiError::invalid("", "", "", &errs));
            }
            Ok(patched)
        }
    }
}

/// Upstream's answer to a strategic merge patch that cannot be applied.
fn smp_error(e: SmpError) -> ApiError {
    match e {
        SmpError::BadRequest(text) => ApiError::bad_request(text),
        SmpError::Rejected => {
            let mut err = ApiError::new(
                422,
                StatusReason::Invalid,
                "the server rejected our request due to an error in our request",
            );
            err.details = Some(Box::default());
            err
        }
        SmpError::Failed(text) => ApiError::new(500, StatusReason::Unknown, text),
    }
}
