//! Rows of the resources of the smaller API groups.

use super::format::{human_duration, label_selector_string, truncated};
use super::{age_of, created_at, i, name, or_none, s, text};
use crate::catalog::ResourceInfo;
use serde_json::{Value, json};

pub(super) fn cells(info: &ResourceInfo, o: &Value) -> Option<Vec<Value>> {
    let spec = &o["spec"];
    let len = |v: &Value| json!(v.as_array().map_or(0, Vec::len));
    Some(match (info.group, info.plural) {
        ("autoscaling", "horizontalpodautoscalers") => hpa(o),
        ("events.k8s.io", "events") => {
            let mut e = o.clone();
            e["apiVersion"] = "events.k8s.io/v1".into();
            let core_events = crate::catalog::find("", "v1", "events")?;
            let core = crate::conversion::convert(e, core_events).ok()?;
            super::core::event(&core)
        }
        ("networking.k8s.io", "ingresses") => ingress(o),
        ("networking.k8s.io", "ingressclasses") => {
            let p = &spec["parameters"];
            let params = if p.is_object() {
                let mut kind = s(&p["kind"]).to_string();
                if p["apiGroup"].is_string() {
                    kind = format!("{kind}.{}", s(&p["apiGroup"]));
                }
                format!("{kind}/{}", s(&p["name"]))
            } else {
                "<none>".into()
            };
            vec![
                name(o),
                text(s(&spec["controller"])),
                text(params),
                age_of(o),
            ]
        }
        ("networking.k8s.io", "networkpolicies") => {
            let sel = &spec["podSelector"];
            let empty = sel.as_object().is_none_or(|m| {
                m.values().all(|v| {
                    v.is_null()
                        || v.as_object().is_some_and(|o| o.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty())
                })
            });
            let text_sel = if empty {
                "<none>".into()
            } else {
                label_selector_string(sel)
            };
            vec![name(o), text(text_sel), age_of(o)]
        }
        ("networking.k8s.io", "servicecidrs") => {
            let cidrs: Vec<&str> = spec["cidrs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            vec![name(o), text(cidrs.join(",")), age_of(o)]
        }
        ("networking.k8s.io", "ipaddresses") => {
            let p = &spec["parentRef"];
            let parent = if p.is_object() {
                let group = if s(&p["group"]).is_empty() {
                    String::new()
                } else {
                    format!("{}/", s(&p["group"]))
                };
                format!(
                    "{group}{}/{}/{}",
                    s(&p["resource"]),
                    s(&p["namespace"]),
                    s(&p["name"])
                )
            } else {
                "<none>".into()
            };
            vec![name(o), text(parent)]
        }
        ("discovery.k8s.io", "endpointslices") => {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    p["port"]
                        .as_i64()
                        .map(|n| n.to_string())
                        .or_else(|| p["name"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "*".into())
                })
                .collect();
            let addrs: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            let unset = |t: String| {
                if t.is_empty() {
                    "<unset>".to_string()
                } else {
                    t
                }
            };
            vec![
                name(o),
                text(s(&o["addressType"])),
                text(unset(truncated(&ports, 3, ","))),
                text(unset(truncated(&addrs, 3, ","))),
                age_of(o),
            ]
        }
        ("policy", "poddisruptionbudgets") => {
            let n_a = |v: &Value| match v {
                Value::Number(n) => text(n.to_string()),
                Value::String(t) => text(t.clone()),
                _ => text("N/A"),
            };
            vec![
                name(o),
                n_a(&spec["minAvailable"]),
                n_a(&spec["maxUnavailable"]),
                json!(i(&o["status"]["disruptionsAllowed"])),
                age_of(o),
            ]
        }
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => vec![name(o), created_at(o)],
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            let subjects = o["subjects"].as_array().cloned().unwrap_or_default();
            let of = |k: &str| -> Vec<String> {
                subjects
                    .iter()
                    .filter(|x| x["kind"] == k)
                    .map(|x| {
                        if k == "ServiceAccount" {
                            format!("{}/{}", s(&x["namespace"]), s(&x["name"]))
                        } else {
                            s(&x["name"]).to_string()
                        }
                    })
                    .collect()
            };
            let role = format!("{}/{}", s(&o["roleRef"]["kind"]), s(&o["roleRef"]["name"]));
            vec![
                name(o),
                text(role),
                age_of(o),
                text(of("User").join(", ")),
                text(of("Group").join(", ")),
                text(of("ServiceAccount").join(", ")),
            ]
        }
        ("scheduling.k8s.io", "priorityclasses") => vec![
            name(o),
            json!(i(&o["value"])),
            json!(o["globalDefault"].as_bool().unwrap_or(false)),
            age_of(o),
            text(if o["preemptionPolicy"].is_string() {
                s(&o["preemptionPolicy"])
            } else {
                "<unset>"
            }),
        ],
        ("storage.k8s.io", "storageclasses") => {
            let ann = &o["metadata"]["annotations"];
            let default = ann["storageclass.kubernetes.io/is-default-class"] == "true"
                || ann["storageclass.beta.kubernetes.io/is-default-class"] == "true";
            let n = s(&o["metadata"]["name"]);
            let title = if default {
                format!("{n} (default)")
            } else {
                n.to_string()
            };
            let or = |v: &Value, d: &str| {
                text(if v.is_string() {
                    s(v).to_string()
                } else {
                    d.to_string()
                })
            };
            vec![
                text(title),
                text(s(&o["provisioner"])),
                or(&o["reclaimPolicy"], "Delete"),
                or(&o["volumeBindingMode"], "Immediate"),
                text(
                    o["allowVolumeExpansion"]
                        .as_bool()
                        .unwrap_or(false)
                        .to_string(),
                ),
                age_of(o),
            ]
        }
        ("storage.k8s.io", "csidrivers") => {
            let audiences: Vec<&str> = spec["tokenRequests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["audience"].as_str())
                .collect();
            let modes: Vec<&str> = spec["volumeLifecycleModes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let b = |v: &Value, d: bool| json!(v.as_bool().unwrap_or(d));
            vec![
                name(o),
                b(&spec["attachRequired"], true),
                b(&spec["podInfoOnMount"], false),
                b(&spec["storageCapacity"], false),
                text(if audiences.is_empty() {
                    "<unset>".to_string()
                } else {
                    audiences.join(",")
                }),
                b(&spec["requiresRepublish"], false),
                text(modes.join(",")),
                age_of(o),
            ]
        }
        ("storage.k8s.io", "csinodes") => vec![name(o), len(&spec["drivers"]), age_of(o)],
        ("storage.k8s.io", "csistoragecapacities") => vec![name(o), created_at(o)],
        ("storage.k8s.io", "volumeattachments") => vec![
            name(o),
            text(s(&spec["attacher"])),
            text(s(&spec["source"]["persistentVolumeName"])),
            text(s(&spec["nodeName"])),
            json!(o["status"]["attached"].as_bool().unwrap_or(false)),
            age_of(o),
        ],
        ("coordination.k8s.io", "leases") => {
            vec![name(o), text(s(&spec["holderIdentity"])), age_of(o)]
        }
        ("certificates.k8s.io", "certificatesigningrequests") => {
            let duration = spec["expirationSeconds"]
                .as_i64()
                .map(human_duration)
                .unwrap_or_else(|| "<none>".into());
            vec![
                name(o),
                age_of(o),
                text(s(&spec["signerName"])),
                text(s(&spec["username"])),
                text(duration),
                text(csr_condition(o)),
            ]
        }
        ("node.k8s.io", "runtimeclasses") => vec![name(o), text(s(&o["handler"])), age_of(o)],
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => {
            vec![name(o), len(&o["webhooks"]), age_of(o)]
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => {
            let pk = &spec["paramKind"];
            let param = if pk.is_object() {
                format!("{}/{}", s(&pk["apiVersion"]), s(&pk["kind"]))
            } else {
                "<unset>".into()
            };
            vec![name(o), len(&spec["validations"]), text(param), age_of(o)]
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            let pr = &spec["paramRef"];
            let param = if pr.is_object() {
                if s(&pr["namespace"]).is_empty() {
                    s(&pr["name"]).to_string()
                } else {
                    format!("{}/{}", s(&pr["namespace"]), s(&pr["name"]))
                }
            } else {
                "<unset>".into()
            };
            vec![
                name(o),
                text(s(&spec["policyName"])),
                text(param),
                age_of(o),
            ]
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => vec![name(o), created_at(o)],
        ("apiregistration.k8s.io", "apiservices") => {
            let svc = &spec["service"];
            let service = if svc.is_object() {
                format!("{}/{}", s(&svc["namespace"]), s(&svc["name"]))
            } else {
                "Local".into()
            };
            let available = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Available")
                .map(|c| {
                    if c["status"] == "True" {
                        "True".to_string()
                    } else {
                        format!("{} ({})", s(&c["status"]), s(&c["reason"]))
                    }
                })
                .unwrap_or_else(|| "Unknown".into());
            vec![name(o), text(service), text(available), age_of(o)]
        }
        ("flowcontrol.apiserver.k8s.io", "flowschemas") => {
            let dm = &spec["distinguisherMethod"];
            let missing = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Dangling")
                .map(|c| s(&c["status"]).to_string())
                .unwrap_or_else(|| "?".into());
            vec![
                name(o),
                text(s(&spec["priorityLevelConfiguration"]["name"])),
                text(i(&spec["matchingPrecedence"]).to_string()),
                text(if dm.is_object() { s(&dm["type"]) } else { "*" }),
                age_of(o),
                text(missing),
            ]
        }
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations") => {
            let limited = &spec["limited"];
            let queuing = &limited["limitResponse"]["queuing"];
            let num = |v: &Value| {
                text(
                    v.as_i64()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "<none>".into()),
                )
            };
            let shares = if limited.is_object() {
                num(&limited["nominalConcurrencyShares"])
            } else {
                text("<none>")
            };
            vec![
                name(o),
                text(s(&spec["type"])),
                shares,
                num(&queuing["queues"]),
                num(&queuing["handSize"]),
                num(&queuing["queueLengthLimit"]),
                age_of(o),
            ]
        }
        _ => return None,
    })
}

fn hpa(o: &Value) -> Vec<Value> {
    let v2 = if o["apiVersion"] == "autoscaling/v1" {
        crate::catalog::find("autoscaling", "v2", "horizontalpodautoscalers")
            .and_then(|info| crate::conversion::convert(o.clone(), info).ok())
            .unwrap_or_else(|| o.clone())
    } else {
        o.clone()
    };
    let spec = &v2["spec"];
    let target = format!(
        "{}/{}",
        s(&spec["scaleTargetRef"]["kind"]),
        s(&spec["scaleTargetRef"]["name"])
    );
    let min = spec["minReplicas"]
        .as_i64()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "<unset>".into());
    vec![
        name(o),
        text(target),
        text(hpa_targets(
            spec["metrics"].as_array(),
            v2["status"]["currentMetrics"].as_array(),
        )),
        text(min),
        json!(i(&spec["maxReplicas"])),
        json!(i(&v2["status"]["currentReplicas"])),
        age_of(o),
    ]
}

/// Upstream's TARGETS: `cpu: 20%/50%`, `<unknown>` before the first measurement, at most two.
fn hpa_targets(specs: Option<&Vec<Value>>, statuses: Option<&Vec<Value>>) -> String {
    let specs = specs.cloned().unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = statuses.cloned().unwrap_or_default();
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(idx, m)| {
            let st = statuses.get(idx).cloned().unwrap_or(Value::Null);
            let cur = |key: &str, field: &str| {
                st[key]["current"][field]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| "<unknown>".into())
            };
            match s(&m["type"]) {
                t @ ("External" | "Object") => {
                    let key = if t == "External" {
                        "external"
                    } else {
                        "object"
                    };
                    let tg = &m[key]["target"];
                    if tg["averageValue"].is_string() {
                        format!(
                            "{}/{} (avg)",
                            cur(key, "averageValue"),
                            s(&tg["averageValue"])
                        )
                    } else {
                        format!("{}/{}", cur(key, "value"), s(&tg["value"]))
                    }
                }
                "Pods" => format!(
                    "{}/{}",
                    cur("pods", "averageValue"),
                    s(&m["pods"]["target"]["averageValue"])
                ),
                t @ ("Resource" | "ContainerResource") => {
                    let key = if t == "Resource" {
                        "resource"
                    } else {
                        "containerResource"
                    };
                    let r = &m[key];
                    if r["target"]["averageValue"].is_string() {
                        format!(
                            "{}: {}/{}",
                            s(&r["name"]),
                            cur(key, "averageValue"),
                            s(&r["target"]["averageValue"])
                        )
                    } else {
                        let current = st[key]["current"]["averageUtilization"]
                            .as_i64()
                            .map(|n| format!("{n}%"))
                            .unwrap_or_else(|| "<unknown>".into());
                        let target = r["target"]["averageUtilization"]
                            .as_i64()
                            .map(|n| format!("{n}%"))
                            .unwrap_or_else(|| "<auto>".into());
                        format!("{}: {current}/{target}", s(&r["name"]))
                    }
                }
                _ => "<unknown type>".into(),
            }
        })
        .collect();
    truncated(&list, 2, ", ")
}

fn ingress(o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let rules = spec["rules"].as_array().cloned().unwrap_or_default();
    let hosts: Vec<String> = rules
        .iter()
        .filter_map(|r| r["host"].as_str())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if rules.len() > 3 {
        format!(
            "{} + {} more...",
            hosts.iter().take(3).cloned().collect::<Vec<_>>().join(","),
            rules.len() - 3
        )
    } else {
        hosts.join(",")
    };
    let address: Vec<&str> = o["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
        .collect();
    let tls = spec["tls"].as_array().is_some_and(|t| !t.is_empty());
    vec![
        name(o),
        or_none(s(&spec["ingressClassName"])),
        text(hosts),
        text(address.join(",")),
        text(if tls { "80, 443" } else { "80" }),
        age_of(o),
    ]
}

/// `Approved,Issued`, `Denied`, `Pending`.
fn csr_condition(o: &Value) -> String {
    let mut parts: Vec<String> = o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] != "False")
        .filter_map(|c| c["type"].as_str().map(str::to_string))
        .collect();
    if parts.is_empty() {
        parts.push("Pending".into());
    }
    if o["status"]["certificate"].is_string() {
        parts.push("Issued".into());
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_targets_like_upstream() {
        let specs = vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}),
        ];
        assert_eq!(hpa_targets(Some(&specs), None), "cpu: <unknown>/50%");
        let statuses = vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}),
        ];
        assert_eq!(hpa_targets(Some(&specs), Some(&statuses)), "cpu: 12%/50%");
        assert_eq!(hpa_targets(None, None), "<none>");
    }
}
