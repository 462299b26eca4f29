//! API machinery shared by the server pieces of rkube.
//!
//! This crate has no knowledge of HTTP or storage. It holds the vocabulary every layer speaks:
//! the `Status` errors the API returns ([`status`]), field-level validation errors with upstream's
//! message format ([`field`]), the name, label and annotation rules ([`validation`]), label and
//! field selectors ([`selector`]), and resource quantities ([`quantity`]).

pub mod field;
pub mod quantity;
pub mod quota;
pub mod selector;
pub mod status;
pub mod time;
pub mod validation;

pub use field::{ErrorList, FieldError, FieldPath, Value};
pub use status::{ApiError, GroupResource, StatusReason};
