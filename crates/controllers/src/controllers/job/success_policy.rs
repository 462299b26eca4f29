//! successPolicy of Indexed Jobs: the Job succeeds as soon as one rule is met, a rule naming
//! indexes (all of them succeeded, or at least `succeededCount` of them) or only a count of
//! succeeded indexes.

use super::indexes;
use k8s_openapi::api::batch::v1::SuccessPolicy;
use std::collections::BTreeSet;

/// The message of the SuccessCriteriaMet condition when a rule is met.
pub fn matched(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &BTreeSet<i32>,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    policy.rules.iter().enumerate().find_map(|(i, rule)| {
        let met = match &rule.succeeded_indexes {
            Some(wanted) => {
                let wanted = indexes::parse_below(wanted, completions);
                if wanted.is_empty() {
                    return None;
                }
                let done = wanted.intersection(succeeded).count();
                done == wanted.len()
                    || rule
                        .succeeded_count
                        .is_some_and(|c| done as i64 >= i64::from(c))
            }
            None => rule
                .succeeded_count
                .is_some_and(|c| succeeded.len() as i64 >= i64::from(c)),
        };
        met.then(|| format!("Matched rules at index {i}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rules: serde_json::Value) -> SuccessPolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    #[test]
    fn rules_by_indexes_and_by_count() {
        let p = policy(json!([
            {"succeededIndexes": "0,2-3"},
            {"succeededIndexes": "4-9", "succeededCount": 2},
            {"succeededCount": 4},
        ]));
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        assert_eq!(matched(Some(&p), 10, &set(&[0, 2])), None);
        assert_eq!(
            matched(Some(&p), 10, &set(&[0, 2, 3])).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(
            matched(Some(&p), 10, &set(&[5, 8])).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(
            matched(Some(&p), 10, &set(&[0, 1, 2, 5])).as_deref(),
            Some("Matched rules at index 2")
        );
        assert_eq!(matched(None, 10, &set(&[0, 1, 2, 3])), None);
    }
}
