//! Completion indexes of Indexed Jobs, and their text form in status (`"0-2,5"`).

use std::collections::BTreeSet;

/// Parse `"1,3-5"` into {1,3,4,5}; bad parts are skipped.
pub fn parse(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}

/// The indexes below `completions` (indexes beyond a Job's completions do not count).
pub fn parse_below(s: &str, completions: i32) -> BTreeSet<i32> {
    parse(s).into_iter().filter(|i| *i < completions).collect()
}

/// Format indexes as upstream: ascending, runs of three or more joined with `-` (a pair is
/// written `1,2`).
pub fn format(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(match end - start {
            0 => start.to_string(),
            1 => format!("{start},{end}"),
            _ => format!("{start}-{end}"),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = parse("0-2,5,7-8");
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            vec![0, 1, 2, 5, 7, 8]
        );
        assert_eq!(format(&s), "0-2,5,7,8");
        assert_eq!(format(&parse("1-2")), "1,2");
        assert_eq!(format(&parse_below("0-4,7", 3)), "0-2");
        assert_eq!(format(&BTreeSet::new()), "");
    }
}
