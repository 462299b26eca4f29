//! Rows of `batch/v1` resources.

use super::format::{
    bool_ptr, containers, human_duration, label_selector_string, seconds_between, since,
};
use super::{age_of, i, name, s, text};
use crate::catalog::ResourceInfo;
use serde_json::{Value, json};

pub(super) fn cells(info: &ResourceInfo, o: &Value) -> Option<Vec<Value>> {
    if info.group != "batch" {
        return None;
    }
    Some(match info.plural {
        "jobs" => job(o),
        "cronjobs" => {
            let spec = &o["spec"];
            let job_spec = &spec["jobTemplate"]["spec"];
            let (names, images) = containers(&job_spec["template"]["spec"]);
            let last = &o["status"]["lastScheduleTime"];
            vec![
                name(o),
                text(s(&spec["schedule"])),
                text(if spec["timeZone"].is_string() {
                    s(&spec["timeZone"])
                } else {
                    "<none>"
                }),
                text(bool_ptr(&spec["suspend"])),
                json!(o["status"]["active"].as_array().map_or(0, Vec::len)),
                text(if last.is_string() {
                    since(last)
                } else {
                    "<none>".into()
                }),
                age_of(o),
                text(names),
                text(images),
                text(label_selector_string(&job_spec["selector"])),
            ]
        }
        _ => return None,
    })
}

fn job(o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let status = &o["status"];
    let has = |t: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    let state = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("Suspended") {
        "Suspended"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = i(&status["succeeded"]);
    let completions = match (spec["completions"].as_i64(), spec["parallelism"].as_i64()) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    };
    let duration = if !status["startTime"].is_string() {
        String::new()
    } else if status["completionTime"].is_string() {
        seconds_between(&status["startTime"], &status["completionTime"])
            .map(human_duration)
            .unwrap_or_default()
    } else {
        since(&status["startTime"])
    };
    let (names, images) = containers(&spec["template"]["spec"]);
    vec![
        name(o),
        text(state),
        text(completions),
        text(duration),
        age_of(o),
        text(names),
        text(images),
        text(label_selector_string(&spec["selector"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_rows() {
        let j = json!({"metadata": {"name": "pi"}, "spec": {"completions": 3, "parallelism": 2,
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
            "status": {"succeeded": 3, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:42Z",
                "conditions": [{"type": "Complete", "status": "True"}]}});
        let row = job(&j);
        assert_eq!(row[1], "Complete");
        assert_eq!(row[2], "3/3");
        assert_eq!(row[3], "42s");
        let running = json!({"metadata": {"name": "p"}, "spec": {"parallelism": 4}, "status": {}});
        let row = job(&running);
        assert_eq!(row[1], "Running");
        assert_eq!(row[2], "0/1 of 4");
        assert_eq!(row[3], "");
    }
}
