//! Field-level validation errors, formatted exactly as upstream's `field.Error`.
//!
//! Upstream renders an error as `<path>: <type>[: <value>][: <detail>]`, for example
//! `metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain ...`, and
//! an [`ErrorList`] of several as `[e1, e2]`. kubectl prints these messages verbatim, so
//! users (and the acceptance scenarios) match on them.

use std::fmt;

/// A path to a field: `spec.containers[0].image`, `metadata.labels[app]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// A root path (`metadata`, `spec`).
    pub fn new(root: &str) -> Self {
        Self(root.to_string())
    }

    /// `path.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{}", self.0, name))
        }
    }

    /// `path[i]`.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{}]", self.0, i))
    }

    /// `path[key]`.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{}]", self.0, key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The offending value of an error, printed as Go's `%#v`/`%q` would print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No value is printed.
    Omitted,
    /// Printed quoted: `"Bad_Name"`.
    Str(String),
    /// Printed bare: `-1`.
    Int(i64),
    Bool(bool),
    /// Printed as given (already in Go syntax, e.g. `map[string]string{"a":"c"}`).
    Raw(String),
}

impl Value {
    /// Go's `%q` quoting of a string.
    pub fn quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Go's `%#v` of a `map[string]string`, keys sorted.
    pub fn string_map<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let mut pairs: Vec<_> = entries.into_iter().collect();
        pairs.sort();
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", Self::quote(k), Self::quote(v)))
            .collect();
        Value::Raw(format!("map[string]string{{{}}}", body.join(", ")))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Omitted => Ok(()),
            Value::Str(s) => f.write_str(&Value::quote(s)),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Raw(s) => f.write_str(s),
        }
    }
}

/// The kind of a field error; decides the `Status` cause reason and the message's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorKind {
    /// `Status.details.causes[].reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human text of the type: `Invalid value`, `Required value`, ...
    pub fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
            Self::TypeInvalid => "Invalid value",
        }
    }

    /// Upstream prints the bad value for these kinds only.
    fn shows_value(self) -> bool {
        !matches!(
            self,
            Self::Required | Self::Forbidden | Self::TooLong | Self::Internal | Self::TooMany
        )
    }
}

/// One validation failure at one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: ErrorKind,
    pub field: FieldPath,
    pub value: Value,
    pub detail: String,
}

impl FieldError {
    pub fn new(kind: ErrorKind, field: FieldPath, value: Value, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field,
            value,
            detail: detail.into(),
        }
    }
    pub fn required(field: FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Required, field, Value::Omitted, detail)
    }
    pub fn invalid(field: FieldPath, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, field, value.into(), detail)
    }
    /// `Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"`.
    pub fn not_supported(field: FieldPath, value: impl Into<Value>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| Value::quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorKind::NotSupported, field, value.into(), detail)
    }
    pub fn forbidden(field: FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, field, Value::Omitted, detail)
    }
    pub fn duplicate(field: FieldPath, value: impl Into<Value>) -> Self {
        Self::new(ErrorKind::Duplicate, field, value.into(), "")
    }
    pub fn not_found(field: FieldPath, value: impl Into<Value>) -> Self {
        Self::new(ErrorKind::NotFound, field, value.into(), "")
    }
    /// `Too long: may not be more than N bytes`.
    pub fn too_long(field: FieldPath, max: usize) -> Self {
        Self::new(
            ErrorKind::TooLong,
            field,
            Value::Omitted,
            format!("may not be more than {max} bytes"),
        )
    }
    pub fn too_many(field: FieldPath, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorKind::TooMany,
            field,
            Value::Omitted,
            format!("must have at most {max} items (has {actual})"),
        )
    }
    pub fn internal(field: FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, field, Value::Omitted, detail)
    }

    /// The message without the field: `Invalid value: "x": detail`.
    pub fn body(&self) -> String {
        let mut s = self.kind.text().to_string();
        if self.kind.shows_value() && self.value != Value::Omitted {
            s.push_str(": ");
            s.push_str(&self.value.to_string());
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// The validation errors of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorList(Vec<FieldError>);

impl ErrorList {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    pub fn extend(&mut self, other: ErrorList) {
        self.0.extend(other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Upstream's aggregate message: the single message, or `[m1, m2]` with duplicates removed.
    pub fn aggregate_message(&self) -> String {
        let mut seen = Vec::<String>::new();
        for e in &self.0 {
            let m = e.to_string();
            if !seen.contains(&m) {
                seen.push(m);
            }
        }
        if seen.len() == 1 {
            seen.remove(0)
        } else {
            format!("[{}]", seen.join(", "))
        }
    }
}

impl From<Vec<FieldError>> for ErrorList {
    fn from(v: Vec<FieldError>) -> Self {
        Self(v)
    }
}

impl IntoIterator for ErrorList {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_upstream() {
        let e = FieldError::not_supported(
            FieldPath::new("spec")
                .child("ingress")
                .index(0)
                .child("protocol"),
            "tcp",
            &["SCTP", "TCP", "UDP"],
        );
        assert_eq!(
            e.to_string(),
            r#"spec.ingress[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP""#
        );
        let e = FieldError::invalid(
            FieldPath::new("spec").child("replicas"),
            -1i64,
            "must be greater than or equal to 0",
        );
        assert_eq!(
            e.to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let mut l = ErrorList::new();
        l.push(e.clone());
        l.push(e);
        assert_eq!(
            l.aggregate_message(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }
}
