//! Rows of core (`v1`) resources.

use super::format::{containers, format_labels, set_selector, since, truncated};
use super::{age_of, created_at, i, name, or_none, s, text};
use crate::catalog::ResourceInfo;
use serde_json::{Value, json};

pub(super) fn cells(info: &ResourceInfo, o: &Value) -> Option<Vec<Value>> {
    if !info.group.is_empty() {
        return None;
    }
    let count = |v: &Value| v.as_object().map_or(0, |m| m.len());
    Some(match info.plural {
        "pods" => pod(o),
        "services" => service(o),
        "nodes" => node(o),
        "events" => event(o),
        "endpoints" => vec![name(o), text(endpoints(o)), age_of(o)],
        "namespaces" => vec![name(o), o["status"]["phase"].clone(), age_of(o)],
        "configmaps" => vec![
            name(o),
            json!(count(&o["data"]) + count(&o["binaryData"])),
            age_of(o),
        ],
        "secrets" => vec![
            name(o),
            o["type"].clone(),
            json!(count(&o["data"])),
            age_of(o),
        ],
        "serviceaccounts" => vec![
            name(o),
            json!(o["secrets"].as_array().map_or(0, Vec::len)),
            age_of(o),
        ],
        "replicationcontrollers" => {
            let (names, images) = containers(&o["spec"]["template"]["spec"]);
            vec![
                name(o),
                json!(o["spec"]["replicas"].as_i64().unwrap_or(1)),
                json!(i(&o["status"]["replicas"])),
                json!(i(&o["status"]["readyReplicas"])),
                age_of(o),
                text(names),
                text(images),
                text(set_selector(&o["spec"]["selector"])),
            ]
        }
        "persistentvolumeclaims" => pvc(o),
        "persistentvolumes" => pv(o),
        "resourcequotas" => resource_quota(o),
        "limitranges" => vec![name(o), created_at(o)],
        "componentstatuses" => {
            let healthy = o["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Healthy");
            let (status, message, error) = match healthy {
                Some(c) => (
                    if c["status"] == "True" {
                        "Healthy"
                    } else {
                        "Unhealthy"
                    },
                    s(&c["message"]),
                    s(&c["error"]),
                ),
                None => ("Unknown", "", ""),
            };
            vec![name(o), text(status), text(message), text(error)]
        }
        "podtemplates" => {
            let (names, images) = containers(&o["template"]["spec"]);
            vec![
                name(o),
                text(names),
                text(images),
                text(format_labels(&o["template"]["metadata"]["labels"])),
            ]
        }
        _ => return None,
    })
}

/// The latest `finishedAt` of a container's last termination, if later than `latest`.
fn later_restart(latest: &mut Option<String>, status: &Value) {
    if let Some(t) = status["lastState"]["terminated"]["finishedAt"].as_str()
        && latest.as_deref().is_none_or(|l| t > l)
    {
        *latest = Some(t.to_string());
    }
}

/// Upstream's pod row: READY, STATUS with its reasons, RESTARTS with the last restart's age.
fn pod(o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let status = &o["status"];
    let phase = s(&status["phase"]);
    let mut reason = if s(&status["reason"]).is_empty() {
        phase.to_string()
    } else {
        s(&status["reason"]).to_string()
    };
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let condition = |t: &str| conditions.iter().find(|c| c["type"] == t);
    if condition("PodScheduled").is_some_and(|c| c["reason"] == "SchedulingGated") {
        reason = "SchedulingGated".into();
    }
    let init_specs = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let mut total = spec["containers"].as_array().map_or(0, Vec::len);
    total += init_specs
        .iter()
        .filter(|c| c["restartPolicy"] == "Always")
        .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart: Option<String> = None;
    let mut last_sidecar_restart: Option<String> = None;
    let mut initializing = false;
    let init_statuses = status["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (idx, c) in init_statuses.iter().enumerate() {
        restarts += i(&c["restartCount"]);
        later_restart(&mut last_restart, c);
        let is_sidecar = sidecar(s(&c["name"]));
        if is_sidecar {
            sidecar_restarts += i(&c["restartCount"]);
            later_restart(&mut last_sidecar_restart, c);
        }
        let terminated = &c["state"]["terminated"];
        let waiting = &c["state"]["waiting"];
        if terminated.is_object() && i(&terminated["exitCode"]) == 0 {
            continue;
        }
        if is_sidecar && c["started"] == true {
            if c["ready"] == true {
                ready += 1;
            }
            continue;
        }
        reason = if terminated.is_object() {
            if !s(&terminated["reason"]).is_empty() {
                format!("Init:{}", s(&terminated["reason"]))
            } else if i(&terminated["signal"]) != 0 {
                format!("Init:Signal:{}", i(&terminated["signal"]))
            } else {
                format!("Init:ExitCode:{}", i(&terminated["exitCode"]))
            }
        } else if waiting.is_object()
            && !s(&waiting["reason"]).is_empty()
            && s(&waiting["reason"]) != "PodInitializing"
        {
            format!("Init:{}", s(&waiting["reason"]))
        } else {
            format!("Init:{idx}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }
    let initialized = condition("Initialized").is_some_and(|c| c["status"] == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        let statuses = status["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += i(&c["restartCount"]);
            later_restart(&mut last_restart, c);
            let waiting = &c["state"]["waiting"];
            let terminated = &c["state"]["terminated"];
            if !s(&waiting["reason"]).is_empty() {
                reason = s(&waiting["reason"]).to_string();
            } else if !s(&terminated["reason"]).is_empty() {
                reason = s(&terminated["reason"]).to_string();
            } else if terminated.is_object() {
                reason = if i(&terminated["signal"]) != 0 {
                    format!("Signal:{}", i(&terminated["signal"]))
                } else {
                    format!("ExitCode:{}", i(&terminated["exitCode"]))
                };
            } else if c["ready"] == true && c["state"]["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition("Ready").is_some_and(|c| c["status"] == "True") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let deleting = o["metadata"]["deletionTimestamp"].is_string();
    if deleting && s(&status["reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }
    let restarts_text = match (&last_restart, restarts) {
        (Some(t), n) if n != 0 => format!("{n} ({} ago)", super::format::age(Some(t))),
        (_, n) => n.to_string(),
    };
    let ip = status["podIPs"][0]["ip"]
        .as_str()
        .or(status["podIP"].as_str())
        .unwrap_or_default();
    let gates = spec["readinessGates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| condition(s(&g["conditionType"])).is_some_and(|c| c["status"] == "True"))
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name(o),
        text(format!("{ready}/{total}")),
        text(reason),
        text(restarts_text),
        age_of(o),
        or_none(ip),
        or_none(s(&spec["nodeName"])),
        or_none(s(&status["nominatedNodeName"])),
        text(gates_text),
    ]
}

fn service(o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let kind = s(&spec["type"]);
    let external_ips: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let external = match kind {
        "ClusterIP" | "NodePort" | "" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let mut ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
                .map(str::to_string)
                .collect();
            ips.extend(external_ips);
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(&spec["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = s(&p["protocol"]);
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(np) => format!("{}:{np}/{proto}", i(&p["port"])),
                None => format!("{}/{proto}", i(&p["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(o),
        text(kind),
        or_none(s(&spec["clusterIP"])),
        text(external),
        text(ports),
        age_of(o),
        text(format_labels(&spec["selector"])),
    ]
}

fn node(o: &Value) -> Vec<Value> {
    let status = &o["status"];
    let mut states: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "Ready")
        .take(1)
        .map(|c| {
            if c["status"] == "True" {
                "Ready".into()
            } else {
                "NotReady".into()
            }
        })
        .collect();
    if states.is_empty() {
        states.push("Unknown".into());
    }
    if o["spec"]["unschedulable"] == true {
        states.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = o["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" && !s(v).is_empty() {
                roles.push(s(v).to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let address = |t: &str| {
        status["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == t)
            .map(|a| s(&a["address"]).to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let info = &status["nodeInfo"];
    let unknown = |v: &Value| {
        let v = s(v);
        text(if v.is_empty() { "<unknown>" } else { v })
    };
    vec![
        name(o),
        text(states.join(",")),
        or_none(&roles.join(",")),
        age_of(o),
        text(s(&info["kubeletVersion"])),
        text(address("InternalIP")),
        text(address("ExternalIP")),
        unknown(&info["osImage"]),
        unknown(&info["kernelVersion"]),
        unknown(&info["containerRuntimeVersion"]),
    ]
}

pub(super) fn event(o: &Value) -> Vec<Value> {
    let first = if o["firstTimestamp"].is_string() {
        since(&o["firstTimestamp"])
    } else {
        since(&o["eventTime"])
    };
    let mut last = if o["lastTimestamp"].is_string() {
        since(&o["lastTimestamp"])
    } else {
        first.clone()
    };
    let mut count = i(&o["count"]);
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"]);
        count = i(&o["series"]["count"]);
    } else if count == 0 {
        count = 1;
    }
    let involved = &o["involvedObject"];
    let kind = s(&involved["kind"]).to_lowercase();
    let target = if s(&involved["name"]).is_empty() {
        kind
    } else {
        format!("{kind}/{}", s(&involved["name"]))
    };
    let first_non_empty = |a: &Value, b: &Value| {
        let a = s(a);
        if a.is_empty() { s(b) } else { a }.to_string()
    };
    let component = first_non_empty(&o["source"]["component"], &o["reportingComponent"]);
    let instance = first_non_empty(&o["source"]["host"], &o["reportingInstance"]);
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        text(last),
        text(s(&o["type"])),
        text(s(&o["reason"])),
        text(target),
        text(s(&involved["fieldPath"])),
        text(source),
        text(s(&o["message"]).trim()),
        text(first),
        json!(count),
        name(o),
    ]
}

/// Up to three `ip:port` endpoints, then ` + N more...`; `<none>` without subsets.
fn endpoints(o: &Value) -> String {
    let subsets = o["subsets"].as_array().cloned().unwrap_or_default();
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut all = Vec::new();
    for ss in &subsets {
        let addrs: Vec<&str> = ss["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["ip"].as_str())
            .collect();
        match ss["ports"].as_array().filter(|p| !p.is_empty()) {
            None => all.extend(addrs.iter().map(|a| a.to_string())),
            Some(ports) => {
                for p in ports {
                    for a in &addrs {
                        let host = if a.contains(':') {
                            format!("[{a}]")
                        } else {
                            a.to_string()
                        };
                        all.push(format!("{host}:{}", i(&p["port"])));
                    }
                }
            }
        }
    }
    truncated(&all, 3, ",")
}

/// `RWO,ROX,RWX,RWOP` from access modes.
fn access_modes(modes: &Value) -> String {
    let has = |m: &str| modes.as_array().is_some_and(|a| a.iter().any(|v| v == m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn storage_class(o: &Value) -> String {
    let beta = &o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"];
    if beta.is_string() {
        s(beta).to_string()
    } else {
        s(&o["spec"]["storageClassName"]).to_string()
    }
}

fn unset_or(v: &Value) -> Value {
    text(if s(v).is_empty() { "<unset>" } else { s(v) })
}

fn pvc(o: &Value) -> Vec<Value> {
    let phase = if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else {
        s(&o["status"]["phase"])
    };
    let volume = s(&o["spec"]["volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            s(&o["status"]["capacity"]["storage"]).to_string(),
            access_modes(&o["status"]["accessModes"]),
        )
    };
    vec![
        name(o),
        text(phase),
        text(volume),
        text(capacity),
        text(modes),
        text(storage_class(o)),
        unset_or(&o["status"]["currentVolumeAttributesClassName"]),
        age_of(o),
        unset_or(&o["spec"]["volumeMode"]),
    ]
}

fn pv(o: &Value) -> Vec<Value> {
    let claim = &o["spec"]["claimRef"];
    let claim = if claim.is_object() {
        format!("{}/{}", s(&claim["namespace"]), s(&claim["name"]))
    } else {
        String::new()
    };
    let phase = if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else {
        s(&o["status"]["phase"])
    };
    vec![
        name(o),
        text(s(&o["spec"]["capacity"]["storage"])),
        text(access_modes(&o["spec"]["accessModes"])),
        text(s(&o["spec"]["persistentVolumeReclaimPolicy"])),
        text(phase),
        text(claim),
        text(storage_class(o)),
        unset_or(&o["spec"]["volumeAttributesClassName"]),
        text(s(&o["status"]["reason"])),
        age_of(o),
        unset_or(&o["spec"]["volumeMode"]),
    ]
}

/// `requests.cpu: 0/1, pods: 2/10` and `limits.cpu: 0/2`: used/hard, sorted by resource.
fn resource_quota(o: &Value) -> Vec<Value> {
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(hard) = o["spec"]["hard"].as_object() {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for r in names {
            let used = o["status"]["used"][r.as_str()].as_str().unwrap_or("0");
            let entry = format!("{r}: {used}/{}", s(&hard[r]));
            if r.starts_with("limits") {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        name(o),
        text(requests.join(", ")),
        text(limits.join(", ")),
        age_of(o),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_reasons() {
        let waiting = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        let row = pod(&waiting);
        assert_eq!(row[1], "0/1");
        assert_eq!(row[2], "ContainerCreating");
        assert_eq!(row[3], "0");
        assert_eq!(row[5], "<none>");

        let init = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "restartCount": 0,
                "state": {"running": {}}}]}});
        assert_eq!(pod(&init)[2], "Init:0/1");

        let done = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0,
                "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}});
        assert_eq!(pod(&done)[2], "Completed");

        let deleting = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.42.0.5", "containerStatuses": [{"name": "a", "ready": true, "restartCount": 2,
                "lastState": {"terminated": {"finishedAt": "2026-01-01T00:00:00Z"}},
                "state": {"running": {}}}]}});
        let row = pod(&deleting);
        assert_eq!(row[1], "1/1");
        assert_eq!(row[2], "Terminating");
        assert!(row[3].as_str().unwrap().starts_with("2 ("), "{}", row[3]);
        assert_eq!(row[5], "10.42.0.5");
        assert_eq!(row[6], "n1");

        let crash = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod(&crash)[2], "CrashLoopBackOff");
    }

    #[test]
    fn service_ports_and_ips() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}],
            "selector": {"app": "web"}}});
        let row = service(&svc);
        assert_eq!(
            row[1..5],
            [
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP")
            ]
        );
        assert_eq!(row[6], "app=web");
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11", "ports": []}});
        assert_eq!(service(&lb)[3], "<pending>");
    }

    #[test]
    fn node_status_and_roles() {
        let n = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.1"}}});
        let row = node(&n);
        assert_eq!(row[1], "Ready,SchedulingDisabled");
        assert_eq!(row[2], "control-plane");
        assert_eq!(row[4], "v1.33.1");
        assert_eq!(row[5], "10.0.0.1");
        assert_eq!(row[6], "<none>");
        assert_eq!(row[7], "<unknown>");
    }

    #[test]
    fn endpoints_truncate_after_three() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 80}]}]});
        assert_eq!(
            endpoints(&ep),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
        );
        assert_eq!(endpoints(&json!({})), "<none>");
    }
}
