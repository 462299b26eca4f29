//! Timestamps in the API's two formats, as upstream writes them: `metav1.Time` keeps whole
//! seconds (truncated, never rounded up: a time written now is never in the future), and
//! `metav1.MicroTime` keeps microseconds.

/// Now, truncated to the second.
pub fn now_seconds() -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// `metav1.Time` now: `2026-01-02T03:04:05Z`.
pub fn now_rfc3339() -> String {
    now_seconds().to_string()
}

/// `metav1.MicroTime` now: `2026-01-02T03:04:05.123456Z`.
pub fn now_micro() -> String {
    let now = jiff::Timestamp::now();
    let micros = now.subsec_microsecond();
    let whole = now_rfc3339();
    format!("{}.{micros:06}Z", whole.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_truncate_to_the_second() {
        let before = jiff::Timestamp::now().as_second();
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.len() == 20, "{t}");
        assert!(t.parse::<jiff::Timestamp>().unwrap().as_second() >= before);
        assert!(now_seconds() <= jiff::Timestamp::now());
        let m = now_micro();
        assert!(m.ends_with('Z') && m.len() == 27, "{m}");
    }
}
