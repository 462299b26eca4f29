//! JSON forms of meta/v1 Time, MicroTime and Duration, as Go's encoders write them.

/// Seconds from the Unix epoch of Go's zero `time.Time` (0001-01-01T00:00:00Z), which
/// `metav1.Time` marshals to JSON `null`.
const GO_ZERO_SECONDS: i128 = -62_135_596_800;

/// Why a timestamp has no RFC 3339 form.
#[derive(Debug)]
pub(crate) struct OutOfRange;

/// RFC 3339 in UTC, whole seconds (`metav1.Time`) or microseconds (`metav1.MicroTime`).
/// `Ok(None)` is Go's zero time, whose JSON form is `null`. Like Go, years outside 0..=9999
/// are refused rather than written in a form RFC 3339 does not have.
pub(crate) fn rfc3339(
    seconds: i64,
    nanos: i32,
    micros: bool,
) -> Result<Option<String>, OutOfRange> {
    // Normalise nanos into [0, 1e9) the way time.Unix does, in i128 so nothing overflows.
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let secs = total.div_euclid(1_000_000_000);
    let nanos = total.rem_euclid(1_000_000_000);
    if secs == GO_ZERO_SECONDS && nanos == 0 {
        return Ok(None);
    }
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(OutOfRange);
    }
    let (h, m, s) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    Ok(Some(if micros {
        let us = nanos / 1000;
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }))
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01, by shifting to
/// years that start on March 1st so that leap days fall at the end of a 400-year era.
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// A Go `time.Duration` string: `0s`, `1.5µs`, `100ms`, `1m30s`, `1h0m0s`.
pub(crate) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (scale, unit) = match n {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{sign}{}{unit}", decimal(n, scale));
    }
    let secs = n / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&decimal(n % 60_000_000_000, 1_000_000_000));
    out.push('s');
    out
}

/// `value / scale` with the shortest exact decimal fraction (`scale` a power of ten).
fn decimal(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            rfc3339(0, 0, false).unwrap().unwrap(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(1_704_164_645, 123_456_789, false).unwrap().unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339(1_704_164_645, 123_456_789, true).unwrap().unwrap(),
            "2024-01-02T03:04:05.123456Z"
        );
        // Leap day and end of century rules.
        assert_eq!(
            rfc3339(951_782_400, 0, false).unwrap().unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(4_107_542_399, 0, false).unwrap().unwrap(),
            "2100-02-28T23:59:59Z"
        );
        assert_eq!(
            rfc3339(-1, 0, true).unwrap().unwrap(),
            "1969-12-31T23:59:59.000000Z"
        );
        assert_eq!(rfc3339(-62_135_596_800, 0, false).unwrap(), None);
        assert!(rfc3339(i64::MAX, 0, false).is_err());
        assert!(rfc3339(i64::MIN, i32::MIN, false).is_err());
        assert!(rfc3339(253_402_300_800, 0, false).is_err()); // year 10000
    }

    #[test]
    fn durations() {
        let s = 1_000_000_000;
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(2), "2ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(100_000_000), "100ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90 * s), "1m30s");
        assert_eq!(go_duration(3600 * s), "1h0m0s");
        assert_eq!(go_duration(-(3661 * s + 1)), "-1h1m1.000000001s");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
