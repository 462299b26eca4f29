//! podFailurePolicy: the first rule that matches a failed pod decides whether the failure
//! counts, is ignored, or fails the whole Job.

use k8s_openapi::api::batch::v1::PodFailurePolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

/// What to do with one failed pod.
pub enum Action {
    /// Counts towards backoffLimit (also when no rule matches).
    Count,
    /// Does not count.
    Ignore,
    /// Fail the Job, with this message.
    FailJob(String),
}

pub fn evaluate(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Action {
    let Some(policy) = policy else {
        return Action::Count;
    };
    let status = pod.status.clone().unwrap_or_default();
    for (i, rule) in policy.rules.iter().enumerate() {
        let mut matched: Option<String> = None;
        if let Some(req) = &rule.on_exit_codes {
            for cs in status.container_statuses.iter().flatten() {
                if req.container_name.as_ref().is_some_and(|n| n != &cs.name) {
                    continue;
                }
                let Some(code) = cs
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| t.exit_code)
                else {
                    continue;
                };
                if code == 0 {
                    continue;
                }
                let listed = req.values.contains(&code);
                let hit = match req.operator.as_str() {
                    "In" => listed,
                    "NotIn" => !listed,
                    _ => false,
                };
                if hit {
                    matched = Some(format!(
                        "Container {} for pod {}/{} failed with exit code {} matching {} rule at index {}",
                        cs.name,
                        pod.namespace().unwrap_or_default(),
                        pod.name_any(),
                        code,
                        rule.action,
                        i
                    ));
                    break;
                }
            }
        }
        for req in rule.on_pod_conditions.iter().flatten() {
            let hit = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == req.type_ && c.status == req.status);
            if hit {
                matched = Some(format!(
                    "Pod {}/{} has condition {} matching {} rule at index {}",
                    pod.namespace().unwrap_or_default(),
                    pod.name_any(),
                    req.type_,
                    rule.action,
                    i
                ));
                break;
            }
        }
        if let Some(msg) = matched {
            return match rule.action.as_str() {
                "Ignore" => Action::Ignore,
                "FailJob" => Action::FailJob(msg),
                _ => Action::Count,
            };
        }
    }
    Action::Count
}
