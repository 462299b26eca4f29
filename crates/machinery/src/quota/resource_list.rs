//! Resource lists (`{"cpu": "500m", "pods": "2"}`) and the arithmetic quota needs on them,
//! as upstream's `k8s.io/apiserver/pkg/quota/v1` helpers do it: sums keep upstream's notation
//! rules, masks keep a subset of names, comparisons report which names exceed a limit.

use crate::quantity::Quantity;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Quantities by resource name, sorted by name (the order upstream prints them in).
pub type ResourceList = BTreeMap<String, Quantity>;

/// Read a JSON resource list; entries that are not quantities are left out (validation
/// refused them when the object was written).
pub fn from_json(v: &Value) -> ResourceList {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, q)| {
            let q = match q {
                Value::String(s) => Quantity::parse(s).ok()?,
                Value::Number(n) => Quantity::parse(&n.to_string()).ok()?,
                _ => return None,
            };
            Some((k.clone(), q))
        })
        .collect()
}

/// Write a resource list as JSON, each quantity in its canonical form.
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, q)| (k.clone(), Value::String(q.canonical())))
            .collect::<Map<String, Value>>(),
    )
}

/// `a + b`, name by name (names in either list).
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        let sum = out.get(k).map_or(*q, |have| have.plus(q));
        out.insert(k.clone(), sum);
    }
    out
}

/// `a - b` with every result below zero raised to zero (upstream's
/// `SubtractWithNonNegativeResult`), over the names of `a`.
pub fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        let diff = out.get(k).copied().unwrap_or(Quantity::ZERO).minus(q);
        out.insert(
            k.clone(),
            if diff.is_negative() {
                Quantity::ZERO
            } else {
                diff
            },
        );
    }
    out
}

/// The entries of `list` whose names are in `names`.
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|n| list.get(n).map(|q| (n.clone(), *q)))
        .collect()
}

/// `list` without its zero entries.
pub fn remove_zeros(list: &ResourceList) -> ResourceList {
    list.iter()
        .filter(|(_, q)| !q.is_zero())
        .map(|(k, q)| (k.clone(), *q))
        .collect()
}

/// The names whose value in `a` exceeds the value in `limits` (names `limits` lacks are not
/// limited).
pub fn exceeding(a: &ResourceList, limits: &ResourceList) -> Vec<String> {
    a.iter()
        .filter(|(k, q)| limits.get(*k).is_some_and(|l| *q > l))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Whether both lists hold the same names with equal values.
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(k, q)| b.get(k) == Some(q))
}

/// Upstream's `prettyPrint`: `name=value` pairs sorted by name, comma separated.
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, q)| format!("{k}={}", q.canonical()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A list with one entry.
pub fn single(name: &str, q: Quantity) -> ResourceList {
    BTreeMap::from([(name.to_string(), q)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sums_take_the_notation_of_the_first_non_zero_term() {
        let used = from_json(&json!({"requests.memory": "0", "requests.cpu": "500m"}));
        let more = from_json(&json!({"requests.memory": "20Mi", "requests.cpu": "500m"}));
        let sum = add(&used, &more);
        assert_eq!(
            to_json(&sum),
            json!({"requests.memory": "20Mi", "requests.cpu": "1"})
        );
        assert_eq!(pretty_print(&sum), "requests.cpu=1,requests.memory=20Mi");
    }

    #[test]
    fn exceeding_names_only_limited_resources() {
        let want = from_json(&json!({"pods": "3", "cpu": "1"}));
        let hard = from_json(&json!({"pods": "2"}));
        assert_eq!(exceeding(&want, &hard), vec!["pods".to_string()]);
        let back = subtract_non_negative(&from_json(&json!({"pods": "1"})), &want);
        assert_eq!(to_json(&back), json!({"pods": "0", "cpu": "0"}));
    }
}
