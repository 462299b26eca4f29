//! podFailurePolicy: the first rule that matches a failed pod decides whether the failure
//! counts towards the limits, is ignored, fails its index or fails the whole Job.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::ResourceExt;

/// What a matching rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Counts towards backoffLimit (also what happens when no rule matches).
    Count,
    /// Does not count at all.
    Ignore,
    /// Fail the whole Job.
    FailJob,
    /// Fail the pod's index at once (Indexed Jobs with backoffLimitPerIndex).
    FailIndex,
}

/// How one failed pod is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The action of the matching rule, if a rule matched.
    pub action: Option<Action>,
    /// For FailJob: the message the Job's failure conditions carry.
    pub fail_job_message: Option<String>,
}

impl Verdict {
    /// Whether the failure counts towards backoffLimit / backoffLimitPerIndex.
    pub fn counts(&self) -> bool {
        self.action != Some(Action::Ignore)
    }
}

/// Judge a failed pod against the Job's policy (no policy: every failure counts).
pub fn evaluate(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Verdict {
    let none = Verdict {
        action: None,
        fail_job_message: None,
    };
    let Some(policy) = policy else {
        return none;
    };
    let status = pod.status.clone().unwrap_or_default();
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    for (i, rule) in policy.rules.iter().enumerate() {
        let action = match rule.action.as_str() {
            "Ignore" => Action::Ignore,
            "FailJob" => Action::FailJob,
            "FailIndex" => Action::FailIndex,
            _ => Action::Count,
        };
        let message = if let Some(req) = &rule.on_exit_codes {
            let statuses = status.container_statuses.iter().flatten();
            let init = status.init_container_statuses.iter().flatten();
            let Some((cs, code)) = statuses.chain(init).find_map(|cs| exit_code_match(cs, req))
            else {
                continue;
            };
            format!(
                "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}",
                cs.name, rule.action
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let hit = status.conditions.iter().flatten().find(|c| {
                patterns
                    .iter()
                    .any(|p| p.type_ == c.type_ && p.status == c.status)
            });
            let Some(cond) = hit else {
                continue;
            };
            format!(
                "Pod {ns}/{name} has condition {} matching {} rule at index {i}",
                cond.type_, rule.action
            )
        } else {
            continue;
        };
        return Verdict {
            action: Some(action),
            fail_job_message: (action == Action::FailJob).then_some(message),
        };
    }
    none
}

/// A terminated container with a non-zero exit code the requirement matches.
fn exit_code_match<'a>(
    cs: &'a ContainerStatus,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<(&'a ContainerStatus, i32)> {
    let code = cs.state.as_ref()?.terminated.as_ref()?.exit_code;
    if code == 0 || req.container_name.as_ref().is_some_and(|n| n != &cs.name) {
        return None;
    }
    let listed = req.values.contains(&code);
    let hit = match req.operator.as_str() {
        "In" => listed,
        "NotIn" => !listed,
        _ => false,
    };
    hit.then_some((cs, code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "ns"}, "status": status}),
        )
        .unwrap()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let p = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "FailIndex", "onExitCodes": {"operator": "NotIn", "values": [42]}},
        ]));
        let exit = |code: i32| {
            pod(
                json!({"phase": "Failed", "containerStatuses": [{"name": "c", "ready": false,
                "restartCount": 0, "image": "i", "imageID": "",
                "state": {"terminated": {"exitCode": code}}}]}),
            )
        };
        let v = evaluate(Some(&p), &exit(42));
        assert_eq!(v.action, Some(Action::FailJob));
        assert_eq!(
            v.fail_job_message.as_deref(),
            Some(
                "Container c for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
            )
        );
        assert_eq!(evaluate(Some(&p), &exit(3)).action, Some(Action::FailIndex));
        let disrupted = pod(json!({"phase": "Failed", "conditions": [
            {"type": "DisruptionTarget", "status": "True"}]}));
        assert!(!evaluate(Some(&p), &disrupted).counts());
        assert_eq!(evaluate(None, &exit(42)).action, None);
    }
}
