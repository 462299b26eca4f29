//! When a simulated container exits, and with which code.
//!
//! The convention (documented for users of `rkube sim-nodes`):
//! - `sim.rkube.io/exit-after: <duration>` (`500ms`, `2s`, `1m`, `1h`, or plain seconds) makes the
//!   pod's containers exit that long after they started, with `sim.rkube.io/exit-code` (default 0).
//! - Without the annotation, pods with `restartPolicy: Always` run until deleted.
//! - Pods with `restartPolicy: Never` or `OnFailure` behave like their command: `sleep infinity`
//!   never exits, `sleep N` exits after N seconds, anything else exits after 1 second; the code
//!   is that of an `exit N` in the command (default 0).

use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// Annotation: how long the containers run before exiting.
pub const EXIT_AFTER: &str = "sim.rkube.io/exit-after";
/// Annotation: the exit code of the containers.
pub const EXIT_CODE: &str = "sim.rkube.io/exit-code";

/// What the containers of a pod will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    RunForever,
    ExitAfter { after: Duration, code: i32 },
}

/// Parse `500ms`, `2s`, `1m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs))
}

/// The plan for `pod`.
pub fn plan(pod: &Pod) -> Plan {
    let annotations = pod.metadata.annotations.as_ref();
    let code = annotations
        .and_then(|a| a.get(EXIT_CODE))
        .and_then(|c| c.trim().parse().ok());
    if let Some(after) = annotations
        .and_then(|a| a.get(EXIT_AFTER))
        .and_then(|d| parse_duration(d))
    {
        return Plan::ExitAfter {
            after,
            code: code.unwrap_or(0),
        };
    }
    let spec = match &pod.spec {
        Some(s) => s,
        None => return Plan::RunForever,
    };
    if spec.restart_policy.as_deref().unwrap_or("Always") == "Always" {
        return Plan::RunForever;
    }
    let words: Vec<&str> = spec
        .containers
        .iter()
        .flat_map(|c| c.command.iter().flatten().chain(c.args.iter().flatten()))
        .flat_map(|w| w.split(|c: char| c.is_whitespace() || c == ';' || c == '&'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut after = Duration::from_secs(1);
    let mut exit_code = code.unwrap_or(0);
    for pair in words.windows(2) {
        match pair[0] {
            "sleep" if pair[1] == "infinity" || pair[1] == "inf" => return Plan::RunForever,
            "sleep" => {
                if let Some(d) = parse_duration(pair[1]) {
                    after = d;
                }
            }
            "exit" if code.is_none() => {
                if let Ok(c) = pair[1].parse() {
                    exit_code = c;
                }
            }
            _ => {}
        }
    }
    Plan::ExitAfter {
        after,
        code: exit_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn plans() {
        let long =
            pod(json!({"spec": {"containers": [{"name": "c", "command": ["sleep", "3600"]}]}}));
        assert_eq!(plan(&long), Plan::RunForever);
        let job = pod(
            json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "command": ["sh", "-c", "echo finished"]}]}}),
        );
        assert_eq!(
            plan(&job),
            Plan::ExitAfter {
                after: Duration::from_secs(1),
                code: 0
            }
        );
        let failing = pod(
            json!({"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "command": ["sh", "-c", "sleep 2; exit 3"]}]}}),
        );
        assert_eq!(
            plan(&failing),
            Plan::ExitAfter {
                after: Duration::from_secs(2),
                code: 3
            }
        );
        let forever = pod(
            json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "command": ["sleep"], "args": ["infinity"]}]}}),
        );
        assert_eq!(plan(&forever), Plan::RunForever);
        let annotated = pod(
            json!({"metadata": {"annotations": {EXIT_AFTER: "500ms", EXIT_CODE: "1"}}, "spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(
            plan(&annotated),
            Plan::ExitAfter {
                after: Duration::from_millis(500),
                code: 1
            }
        );
    }
}
