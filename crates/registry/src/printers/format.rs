//! How upstream's printers render values: ages, selectors, label sets, container lists.

use serde_json::Value;

/// Upstream's age of a timestamp (`5s`, `3m`, `2d4h`), `<unknown>` when absent.
pub fn age(created: Option<&str>) -> String {
    match created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) {
        Some(ts) => human_duration((jiff::Timestamp::now().as_second() - ts.as_second()).max(0)),
        None => "<unknown>".into(),
    }
}

/// The age of a timestamp field (`translateTimestampSince`).
pub(super) fn since(v: &Value) -> String {
    age(v.as_str())
}

/// Seconds between two timestamp fields, if both parse.
pub(super) fn seconds_between(from: &Value, to: &Value) -> Option<i64> {
    let a = from.as_str()?.parse::<jiff::Timestamp>().ok()?;
    let b = to.as_str()?.parse::<jiff::Timestamp>().ok()?;
    Some((b.as_second() - a.as_second()).max(0))
}

/// kubectl's `HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    let two = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        two(m, "m", secs % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        two(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        two(d, "d", h % 24, "h")
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        two(d / 365, "y", d % 365, "d")
    } else {
        format!("{}y", d / 365)
    }
}

/// A `LabelSelector` object as upstream's selector string (`app=web,tier in (a,b),!gone`):
/// requirements sorted by key. An absent selector selects nothing and prints as `<none>`.
pub fn label_selector_string(sel: &Value) -> String {
    if sel.is_null() {
        return "<none>".into();
    }
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel["matchLabels"].as_object() {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        let text = match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            op => format!("{key} {op} ({})", values.join(",")),
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// A label map as `k=v,k2=v2` sorted by key (`labels.FormatLabels`), `<none>` when empty.
pub(super) fn format_labels(m: &Value) -> String {
    let Some(m) = m.as_object().filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A label map as a selector string (`labels.SelectorFromSet(..).String()`): `""` when empty.
pub(super) fn set_selector(m: &Value) -> String {
    match m.as_object() {
        Some(m) if !m.is_empty() => format_labels(&Value::Object(m.clone())),
        _ => String::new(),
    }
}

/// The names and images of a pod spec's containers, comma-separated.
pub(super) fn containers(pod_spec: &Value) -> (String, String) {
    let list = pod_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = list.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = list.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

/// The first `max` items joined with `sep`, then ` + N more...`.
pub(super) fn truncated(items: &[String], max: usize, sep: &str) -> String {
    if items.len() > max {
        format!("{} + {} more...", items[..max].join(sep), items.len() - max)
    } else {
        items.join(sep)
    }
}

/// `True`, `False` or `<unset>`, as upstream prints optional booleans.
pub(super) fn bool_ptr(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_durations_match_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(50 * 3600), "2d2h");
    }

    #[test]
    fn selectors_print_like_upstream() {
        let sel = json!({"matchLabels": {"tier": "web", "app": "x"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(
            label_selector_string(&sel),
            "app=x,env in (dev,prod),!gone,tier=web"
        );
        assert_eq!(label_selector_string(&Value::Null), "<none>");
        assert_eq!(format_labels(&json!({})), "<none>");
        assert_eq!(format_labels(&json!({"b": "2", "a": "1"})), "a=1,b=2");
    }
}
