//! The status conditions a terminating namespace carries, as upstream's namespace deleter sets
//! them after each pass: five types, each True with what went wrong (discovery failed, content
//! could not be deleted, resources or finalizers remain) or False with its "all good" reason,
//! so `kubectl describe namespace` shows why a namespace is stuck in Terminating.

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

/// The condition types the namespace controller maintains, in upstream's order, with the
/// reason and message of their healthy (False) variant.
const HEALTHY: [(&str, &str, &str); 5] = [
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
];

/// What one pass over a terminating namespace's content found.
#[derive(Debug, Default)]
pub struct DeletionReport {
    /// Discovery failed: the error's message.
    pub discovery_error: Option<String>,
    /// Per resource type whose content could not be deleted: the error's message.
    pub content_errors: Vec<String>,
    /// Objects still present after the pass, per (resource, group).
    pub remaining: BTreeMap<(String, String), usize>,
    /// Objects still present, per finalizer they carry.
    pub finalizers: BTreeMap<String, usize>,
}

impl DeletionReport {
    /// Whether the pass failed (the sync should be retried with backoff).
    pub fn failure(&self) -> Option<String> {
        let all: Vec<&str> = self
            .discovery_error
            .iter()
            .chain(&self.content_errors)
            .map(String::as_str)
            .collect();
        (!all.is_empty()).then(|| all.join("; "))
    }

    /// The failing conditions this pass calls for, as (type, reason, message).
    fn failing(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut out = Vec::new();
        if let Some(e) = &self.discovery_error {
            out.push((
                "NamespaceDeletionDiscoveryFailure",
                "DiscoveryFailed",
                e.clone(),
            ));
        }
        if !self.content_errors.is_empty() {
            let mut msgs = self.content_errors.clone();
            msgs.sort();
            out.push((
                "NamespaceDeletionContentFailure",
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    msgs.len(),
                    msgs.join(", ")
                ),
            ));
        }
        let resources: Vec<String> = self
            .remaining
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|((resource, group), n)| format!("{resource}.{group} has {n} resource instances"))
            .collect();
        if !resources.is_empty() {
            out.push((
                "NamespaceContentRemaining",
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", sorted(resources)),
            ));
        }
        let finalizers: Vec<String> = self
            .finalizers
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        if !finalizers.is_empty() {
            out.push((
                "NamespaceFinalizersRemaining",
                "SomeFinalizerRemain",
                format!("Some finalizers are remaining: {}", sorted(finalizers)),
            ));
        }
        out
    }

    /// Bring `conditions` up to date with this pass: every maintained type present, with its
    /// failing or healthy variant; a transition time moves only when the status flips. Returns
    /// whether anything changed.
    pub fn apply(&self, conditions: &mut Vec<NamespaceCondition>, now: jiff::Timestamp) -> bool {
        let failing = self.failing();
        let mut changed = false;
        for (type_, ok_reason, ok_message) in HEALTHY {
            let (status, reason, message) = match failing.iter().find(|f| f.0 == type_) {
                Some((_, reason, message)) => ("True", *reason, message.clone()),
                None => ("False", ok_reason, ok_message.to_string()),
            };
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                None => {
                    conditions.push(NamespaceCondition {
                        type_: type_.into(),
                        status: status.into(),
                        reason: Some(reason.into()),
                        message: Some(message),
                        last_transition_time: Some(Time(now)),
                    });
                    changed = true;
                }
                Some(c)
                    if c.status != status
                        || c.reason.as_deref() != Some(reason)
                        || c.message.as_deref() != Some(message.as_str()) =>
                {
                    if c.status != status {
                        c.last_transition_time = Some(Time(now));
                    }
                    c.status = status.into();
                    c.reason = Some(reason.into());
                    c.message = Some(message);
                    changed = true;
                }
                Some(_) => {}
            }
        }
        changed
    }
}

fn sorted(mut v: Vec<String>) -> String {
    v.sort();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn by_type(c: &[NamespaceCondition]) -> Vec<(String, String, String)> {
        c.iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn a_clean_pass_sets_every_condition_false_once() {
        let mut c = vec![];
        assert!(DeletionReport::default().apply(&mut c, now()));
        assert_eq!(
            by_type(&c),
            HEALTHY
                .iter()
                .map(|(t, r, _)| (t.to_string(), "False".to_string(), r.to_string()))
                .collect::<Vec<_>>()
        );
        assert!(!DeletionReport::default().apply(&mut c, now()), "no change");
    }

    #[test]
    fn failures_and_leftovers_are_reported_sorted() {
        let mut report = DeletionReport {
            discovery_error: Some("Discovery failed for some groups, 1 failing: boom".into()),
            content_errors: vec!["b failed".into(), "a failed".into()],
            ..Default::default()
        };
        report
            .remaining
            .insert(("widgets".into(), "example.com".into()), 2);
        report.remaining.insert(("configmaps".into(), "".into()), 1);
        report.finalizers.insert("example.com/hold".into(), 2);
        let mut c = vec![];
        report.apply(&mut c, now());
        let msg = |t: &str| {
            c.iter()
                .find(|c| c.type_ == t)
                .map(|c| (c.status.clone(), c.message.clone().unwrap()))
                .unwrap()
        };
        assert_eq!(msg("NamespaceDeletionDiscoveryFailure").0, "True");
        assert_eq!(
            msg("NamespaceDeletionContentFailure").1,
            "Failed to delete all resource types, 2 remaining: a failed, b failed"
        );
        assert_eq!(
            msg("NamespaceContentRemaining").1,
            "Some resources are remaining: configmaps. has 1 resource instances, widgets.example.com has 2 resource instances"
        );
        assert_eq!(
            msg("NamespaceFinalizersRemaining").1,
            "Some finalizers are remaining: example.com/hold in 2 resource instances"
        );
        assert_eq!(
            msg("NamespaceDeletionGroupVersionParsingFailure").0,
            "False"
        );

        // Fixed later: back to False, with a new transition time.
        let later: jiff::Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        assert!(DeletionReport::default().apply(&mut c, later));
        let discovery = c
            .iter()
            .find(|c| c.type_ == "NamespaceDeletionDiscoveryFailure")
            .unwrap();
        assert_eq!(discovery.status, "False");
        assert_eq!(discovery.last_transition_time, Some(Time(later)));
    }
}
