//! Timestamps in the API's two formats.

/// `metav1.Time`: RFC 3339 with whole seconds.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{}", now.round(jiff::Unit::Second).unwrap_or(now))
}

/// `metav1.MicroTime`: RFC 3339 with six fractional digits.
pub fn now_micro() -> String {
    let now = jiff::Timestamp::now();
    let secs = now.as_second();
    let micros = now.subsec_microsecond();
    let whole = jiff::Timestamp::from_second(secs).unwrap_or(now);
    let s = format!("{whole}");
    format!("{}.{micros:06}Z", s.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        let t = super::now_rfc3339();
        assert!(t.ends_with('Z') && t.len() == 20, "{t}");
        let m = super::now_micro();
        assert!(m.ends_with('Z') && m.len() == 27, "{m}");
    }
}
