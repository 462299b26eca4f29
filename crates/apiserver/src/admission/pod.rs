//! Pod admission as upstream's default plugins do it on create:
//! - ServiceAccount: `serviceAccountName` defaults to `default` (a named account must exist),
//!   and unless automounting is turned off, a projected `kube-api-access-<suffix>` volume
//!   (token, cluster CA, namespace) is mounted read-only at
//!   `/var/run/secrets/kubernetes.io/serviceaccount` in every container.
//! - DefaultTolerationSeconds: tolerate the not-ready and unreachable NoExecute taints for 300 s.
//! - Priority: `priority` and `preemptionPolicy` from the pod's PriorityClass (or the global
//!   default class, else 0 and `PreemptLowerPriority`).

use crate::handler::{Api, ApiRequest};
use rkube_machinery::{ApiError, GroupResource};
use serde_json::{Value, json};

/// Where containers find their service account's credentials.
const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Upstream's token lifetime for the projected volume (an hour and a bit, so kubelets refresh
/// before expiry).
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// How long pods stay on a node that became not ready or unreachable.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

pub(super) async fn admit(api: &Api, req: &ApiRequest, pod: &mut Value) -> Result<(), ApiError> {
    let account = service_account(api, req, pod).await?;
    tolerate_node_problems(pod);
    priority(api, pod).await?;
    if automount(pod, account.as_ref()) {
        mount_api_access(pod);
    }
    Ok(())
}

fn forbidden(pod: &Value, why: &str) -> ApiError {
    ApiError::forbidden(
        &GroupResource::new("", "pods"),
        crate::object::name(pod),
        why,
    )
}

/// Default the account name and read the account (a missing `default` account is tolerated
/// while the namespace is still being set up; a missing named one refuses the pod).
async fn service_account(
    api: &Api,
    req: &ApiRequest,
    pod: &mut Value,
) -> Result<Option<Value>, ApiError> {
    let spec = &mut pod["spec"];
    let name = spec["serviceAccountName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|n| !n.is_empty()))
        .unwrap_or("default")
        .to_string();
    spec["serviceAccountName"] = json!(name);
    spec["serviceAccount"] = json!(name);
    let ns = req.namespace().unwrap_or("default");
    let info = rkube_registry::catalog::find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::internal("serviceaccounts are not in the catalog"))?;
    let found = api
        .store
        .get(&info.storage_key(Some(ns), &name), info, &name)
        .await?
        .map(|s| s.object);
    if found.is_none() && name != "default" {
        return Err(forbidden(
            pod,
            &format!(
                "error looking up service account {ns}/{name}: serviceaccount \"{name}\" not found"
            ),
        ));
    }
    Ok(found)
}

/// The pod's choice wins over the account's; both default to mounting.
fn automount(pod: &Value, account: Option<&Value>) -> bool {
    pod["spec"]["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| account.and_then(|a| a["automountServiceAccountToken"].as_bool()))
        .unwrap_or(true)
}

fn mount_api_access(pod: &mut Value) {
    let spec = &mut pod["spec"];
    let already = |c: &Value| {
        c["volumeMounts"]
            .as_array()
            .is_some_and(|m| m.iter().any(|v| v["mountPath"] == TOKEN_MOUNT_PATH))
    };
    let volume_name = format!("kube-api-access-{}", crate::handler::random_name_suffix());
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter(|c| !already(c)) {
                let mount =
                    json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
                match c["volumeMounts"].as_array_mut() {
                    Some(m) => m.push(mount),
                    None => c["volumeMounts"] = json!([mount]),
                }
                mounted = true;
            }
        }
    }
    if !mounted {
        return;
    }
    let volume = json!({"name": volume_name, "projected": {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": 420,
    }});
    match spec["volumes"].as_array_mut() {
        Some(v) => v.push(volume),
        None => spec["volumes"] = json!([volume]),
    }
}

/// Add the NoExecute tolerations for not-ready and unreachable nodes the pod lacks.
fn tolerate_node_problems(pod: &mut Value) {
    let spec = &mut pod["spec"];
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = spec["tolerations"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                let key_matches =
                    t["key"] == key || (t["key"].is_null() && t["operator"] == "Exists");
                let effect_matches =
                    t["effect"].is_null() || t["effect"] == "" || t["effect"] == "NoExecute";
                key_matches && effect_matches
            })
        });
        if tolerated {
            continue;
        }
        let t = json!({"key": key, "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS});
        match spec["tolerations"].as_array_mut() {
            Some(ts) => ts.push(t),
            None => spec["tolerations"] = json!([t]),
        }
    }
}

/// Resolve the pod's PriorityClass into `priority` and `preemptionPolicy`.
async fn priority(api: &Api, pod: &mut Value) -> Result<(), ApiError> {
    let info = rkube_registry::catalog::find("scheduling.k8s.io", "v1", "priorityclasses")
        .ok_or_else(|| ApiError::internal("priorityclasses are not in the catalog"))?;
    let wanted = pod["spec"]["priorityClassName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let class = match &wanted {
        Some(name) => match api
            .store
            .get(&info.storage_key(None, name), info, name)
            .await?
        {
            Some(s) => Some(s.object),
            None => {
                return Err(forbidden(
                    pod,
                    &format!("no PriorityClass with name {name} was found"),
                ));
            }
        },
        None => {
            let all = api
                .caches
                .get(info)
                .map(|c| c.list(&Default::default()).items)
                .unwrap_or_default();
            all.iter()
                .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
                .find(|pc| pc["globalDefault"] == true)
        }
    };
    let spec = &mut pod["spec"];
    let value = class
        .as_ref()
        .and_then(|c| c["value"].as_i64())
        .unwrap_or(0);
    if let Some(given) = spec["priority"].as_i64()
        && given != value
    {
        return Err(forbidden(
            pod,
            "the integer value of priority must not be provided in pod spec; priority admission controller computed the priority from the given PriorityClass name",
        ));
    }
    spec["priority"] = json!(value);
    if let (None, Some(c)) = (&wanted, &class)
        && let Some(n) = c["metadata"]["name"].as_str()
    {
        spec["priorityClassName"] = json!(n);
    }
    let policy = class
        .as_ref()
        .and_then(|c| c["preemptionPolicy"].as_str())
        .unwrap_or("PreemptLowerPriority");
    if spec["preemptionPolicy"].is_null() {
        spec["preemptionPolicy"] = json!(policy);
    }
    Ok(())
}
