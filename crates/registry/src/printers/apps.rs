//! Rows of `apps/v1` resources.

use super::format::{containers, label_selector_string, set_selector};
use super::{age_of, i, name, text};
use crate::catalog::ResourceInfo;
use serde_json::{Value, json};

pub(super) fn cells(info: &ResourceInfo, o: &Value) -> Option<Vec<Value>> {
    if info.group != "apps" {
        return None;
    }
    let spec = &o["spec"];
    let status = &o["status"];
    let (names, images) = containers(&spec["template"]["spec"]);
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    let selector = || text(label_selector_string(&spec["selector"]));
    Some(match info.plural {
        "deployments" => vec![
            name(o),
            text(format!("{}/{replicas}", i(&status["readyReplicas"]))),
            json!(i(&status["updatedReplicas"])),
            json!(i(&status["availableReplicas"])),
            age_of(o),
            text(names),
            text(images),
            selector(),
        ],
        "replicasets" => vec![
            name(o),
            json!(replicas),
            json!(i(&status["replicas"])),
            json!(i(&status["readyReplicas"])),
            age_of(o),
            text(names),
            text(images),
            selector(),
        ],
        "statefulsets" => vec![
            name(o),
            text(format!("{}/{replicas}", i(&status["readyReplicas"]))),
            age_of(o),
            text(names),
            text(images),
        ],
        "daemonsets" => {
            let node_selector = set_selector(&spec["template"]["spec"]["nodeSelector"]);
            vec![
                name(o),
                json!(i(&status["desiredNumberScheduled"])),
                json!(i(&status["currentNumberScheduled"])),
                json!(i(&status["numberReady"])),
                json!(i(&status["updatedNumberScheduled"])),
                json!(i(&status["numberAvailable"])),
                text(if node_selector.is_empty() {
                    "<none>".to_string()
                } else {
                    node_selector
                }),
                age_of(o),
                text(names),
                text(images),
                selector(),
            ]
        }
        "controllerrevisions" => {
            let owner = o["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["controller"] == true);
            let controller = match owner {
                Some(r) => {
                    let api_version = r["apiVersion"].as_str().unwrap_or_default();
                    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                    let kind = r["kind"].as_str().unwrap_or_default().to_lowercase();
                    let kind = if group.is_empty() {
                        kind
                    } else {
                        format!("{kind}.{group}")
                    };
                    format!("{kind}/{}", r["name"].as_str().unwrap_or_default())
                }
                None => "<none>".into(),
            };
            vec![
                name(o),
                text(controller),
                json!(i(&o["revision"])),
                age_of(o),
            ]
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;

    #[test]
    fn deployment_row() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let row = cells(find("apps", "v1", "deployments").unwrap(), &d).unwrap();
        assert_eq!(row[1], "2/3");
        assert_eq!(row[2], 3);
        assert_eq!(row[5], "nginx,side");
        assert_eq!(row[6], "nginx:1.27,busybox");
        assert_eq!(row[7], "app=web");
    }
}
