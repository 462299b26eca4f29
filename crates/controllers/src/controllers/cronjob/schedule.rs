//! Cron schedules as CronJobs use them: five fields (minute, hour, day of month, month, day of
//! week) with `*`, `?`, lists, ranges, steps and month/day names, the `@hourly`-style
//! descriptors, and an optional `TZ=`/`CRON_TZ=` prefix. Day of month and day of week combine
//! as in cron: if either is a wildcard both must match, otherwise either may.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Day of month or day of week was a wildcard.
    day_wildcard: bool,
    /// A `TZ=` prefix inside the schedule.
    pub time_zone: Option<String>,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(
    expr: &str,
    min: u32,
    max: u32,
    names: &[&str],
    names_from: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in expr.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("step of zero in {part:?}"));
        }
        let value = |s: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                return Ok(i as u32 + names_from);
            }
            s.parse::<u32>()
                .map_err(|_| format!("failed to parse {s:?}"))
        };
        let (lo, hi) = if range == "*" || range == "?" {
            star = true;
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("value out of range in {part:?}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut spec = spec.trim();
        let mut time_zone = None;
        if let Some(rest) = spec
            .strip_prefix("TZ=")
            .or_else(|| spec.strip_prefix("CRON_TZ="))
        {
            let (tz, rest) = rest
                .split_once(' ')
                .ok_or("missing schedule after the time zone")?;
            time_zone = Some(tz.to_string());
            spec = rest.trim();
        }
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("expected exactly 5 fields, found {}", fields.len()));
        }
        let (minutes, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hours, _) = field(fields[1], 0, 23, &[], 0)?;
        let (days_of_month, dom_star) = field(fields[2], 1, 31, &[], 0)?;
        let (months, _) = field(fields[3], 1, 12, MONTHS, 1)?;
        let (mut days_of_week, dow_star) = field(fields[4], 0, 7, DAYS, 0)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(Self {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            day_wildcard: dom_star || dow_star,
            time_zone,
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = self.days_of_month & (1 << d.day()) != 0;
        let dow = self.days_of_week & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.day_wildcard {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first activation strictly after `after`, in `tz`; none within five years.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone());
        let mut t: DateTime = start.datetime().round(jiff::Unit::Minute).ok()?;
        if t <= start.datetime() {
            t = t.checked_add(1.minute()).ok()?;
        }
        let t0 = t;
        let limit = t0.checked_add(5.years()).ok()?;
        while t < limit {
            if self.months & (1 << t.month()) == 0 {
                let first = Date::new(t.year(), t.month(), 1).ok()?;
                t = first
                    .checked_add(1.month())
                    .ok()?
                    .to_datetime(jiff::civil::time(0, 0, 0, 0));
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t
                    .date()
                    .checked_add(1.day())
                    .ok()?
                    .to_datetime(jiff::civil::time(0, 0, 0, 0));
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                let h = t.date().to_datetime(jiff::civil::time(t.hour(), 0, 0, 0));
                t = h.checked_add(1.hour()).ok()?;
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            let z: Zoned = t.to_zoned(tz.clone()).ok()?;
            let ts = z.timestamp();
            if ts > after {
                return Some(ts);
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn every_five_minutes() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let next = s.next(ts("2025-01-01T10:02:30Z"), &TimeZone::UTC).unwrap();
        assert_eq!(next, ts("2025-01-01T10:05:00Z"));
        assert_eq!(
            s.next(next, &TimeZone::UTC).unwrap(),
            ts("2025-01-01T10:10:00Z")
        );
    }

    #[test]
    fn names_descriptors_and_day_rules() {
        let weekly = Schedule::parse("@weekly").unwrap();
        // 2025-01-01 is a Wednesday: next Sunday midnight is the 5th.
        assert_eq!(
            weekly
                .next(ts("2025-01-01T00:00:00Z"), &TimeZone::UTC)
                .unwrap(),
            ts("2025-01-05T00:00:00Z")
        );
        let s = Schedule::parse("30 9 * jan-mar mon-fri").unwrap();
        assert_eq!(
            s.next(ts("2025-01-04T12:00:00Z"), &TimeZone::UTC).unwrap(),
            ts("2025-01-06T09:30:00Z")
        );
        // Both days restricted: either matches (the 15th, or a Monday).
        let s = Schedule::parse("0 0 15 * 1").unwrap();
        assert_eq!(
            s.next(ts("2025-01-01T00:00:00Z"), &TimeZone::UTC).unwrap(),
            ts("2025-01-06T00:00:00Z")
        );
        assert!(Schedule::parse("* * *").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
    }

    #[test]
    fn time_zones() {
        let s = Schedule::parse("TZ=America/New_York 0 9 * * *").unwrap();
        let tz = TimeZone::get(s.time_zone.as_deref().unwrap()).unwrap();
        assert_eq!(
            s.next(ts("2025-01-01T00:00:00Z"), &tz).unwrap(),
            ts("2025-01-01T14:00:00Z")
        );
    }
}
