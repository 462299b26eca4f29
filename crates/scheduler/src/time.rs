//! Timestamps in the API's format.

/// `metav1.Time`: RFC 3339 with whole seconds.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{}", now.round(jiff::Unit::Second).unwrap_or(now))
}
