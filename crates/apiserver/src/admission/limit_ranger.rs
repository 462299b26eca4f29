//! LimitRanger, as upstream's admission plugin: the namespace's LimitRanges give containers
//! the requests and limits they leave out (`type: Container` `defaultRequest` and `default`,
//! recorded in the pod's `kubernetes.io/limit-ranger` annotation), then bound what pods and
//! claims ask for (`min`, `max`, `maxLimitRequestRatio` per Container or per Pod, and `min`/`max`
//! storage per PersistentVolumeClaim), refusing with upstream's messages.

use super::namespace_objects;
use crate::handler::{Api, ApiRequest};
use rkube_machinery::quantity::Quantity;
use rkube_machinery::quota::pod_resources::{Side, pod_total};
use rkube_machinery::quota::resource_list::{ResourceList, from_json, to_json};
use rkube_machinery::{ApiError, GroupResource};
use serde_json::{Value, json};

/// The annotation naming what LimitRanger filled in.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Default, then check, a pod being created.
pub(super) async fn admit_pod(
    api: &Api,
    req: &ApiRequest,
    pod: &mut Value,
) -> Result<(), ApiError> {
    let ranges = limit_ranges(api, req)?;
    for lr in &ranges {
        apply_defaults(lr, pod);
    }
    for lr in &ranges {
        let errors = check_pod(lr, pod);
        refuse_if_any(req, pod, errors)?;
    }
    Ok(())
}

/// Check the storage a claim being created asks for.
pub(super) async fn admit_claim(api: &Api, req: &ApiRequest, pvc: &Value) -> Result<(), ApiError> {
    for lr in &limit_ranges(api, req)? {
        let requests = from_json(&pvc["spec"]["resources"]["requests"]);
        let mut errors = Vec::new();
        for item in items_of(lr, "PersistentVolumeClaim") {
            for (k, min) in from_json(&item["min"]) {
                errors.extend(min_constraint(
                    "PersistentVolumeClaim",
                    &k,
                    &min,
                    &requests,
                    &ResourceList::new(),
                ));
            }
            for (k, max) in from_json(&item["max"]) {
                errors.extend(max_request_constraint(
                    "PersistentVolumeClaim",
                    &k,
                    &max,
                    &requests,
                ));
            }
        }
        refuse_if_any(req, pvc, errors)?;
    }
    Ok(())
}

fn limit_ranges(api: &Api, req: &ApiRequest) -> Result<Vec<Value>, ApiError> {
    match req.namespace() {
        Some(ns) => namespace_objects(api, "limitranges", ns),
        None => Ok(Vec::new()),
    }
}

/// Upstream aggregates one range's errors: one as is, several in brackets.
fn refuse_if_any(req: &ApiRequest, obj: &Value, errors: Vec<String>) -> Result<(), ApiError> {
    let why = match errors.len() {
        0 => return Ok(()),
        1 => errors.into_iter().next().unwrap_or_default(),
        _ => format!("[{}]", errors.join(", ")),
    };
    Err(ApiError::forbidden(
        &GroupResource::new(req.resource.group, req.resource.plural),
        crate::object::name(obj),
        &why,
    ))
}

fn items_of<'a>(lr: &'a Value, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lr["spec"]["limits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |i| i["type"] == ty)
}

/// Fill in the Container defaults of one LimitRange and record what was set.
fn apply_defaults(lr: &Value, pod: &mut Value) {
    let (mut requests, mut limits) = (ResourceList::new(), ResourceList::new());
    for item in items_of(lr, "Container") {
        requests.extend(from_json(&item["defaultRequest"]));
        limits.extend(from_json(&item["default"]));
    }
    let mut notes = Vec::new();
    for (field, prefix) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        for c in pod["spec"][field].as_array_mut().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let set_requests = fill(c, "requests", &requests);
            let set_limits = fill(c, "limits", &limits);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {prefix} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {prefix} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let meta = crate::object::meta_mut(pod);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[ANNOTATION] = json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
}

/// Give a container the defaults of `side` it lacks; returns the names set, sorted.
fn fill(container: &mut Value, side: &str, defaults: &ResourceList) -> Vec<String> {
    let mut set = Vec::new();
    if defaults.is_empty() {
        return set;
    }
    if !container["resources"].is_object() {
        container["resources"] = json!({});
    }
    let resources = &mut container["resources"];
    if !resources[side].is_object() {
        resources[side] = json!({});
    }
    let have = &mut resources[side];
    for (k, q) in defaults {
        if have.get(k).is_none() {
            have[k] = to_json(&ResourceList::from([(k.clone(), *q)]))[k].clone();
            set.push(k.clone());
        }
    }
    set
}

/// The min / max / ratio errors of a pod under one LimitRange, in upstream's order.
fn check_pod(lr: &Value, pod: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for item in lr["spec"]["limits"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("Container") => {
                for field in ["containers", "initContainers"] {
                    for c in pod["spec"][field].as_array().into_iter().flatten() {
                        let requests = from_json(&c["resources"]["requests"]);
                        let limits = from_json(&c["resources"]["limits"]);
                        errors.extend(check_item("Container", item, &requests, &limits));
                    }
                }
            }
            Some("Pod") => {
                let requests = pod_total(pod, Side::Requests);
                let limits = pod_total(pod, Side::Limits);
                errors.extend(check_item("Pod", item, &requests, &limits));
            }
            _ => {}
        }
    }
    errors
}

fn check_item(
    ty: &str,
    item: &Value,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (k, min) in from_json(&item["min"]) {
        errors.extend(min_constraint(ty, &k, &min, requests, limits));
    }
    for (k, max) in from_json(&item["max"]) {
        errors.extend(max_constraint(ty, &k, &max, requests, limits));
    }
    for (k, ratio) in from_json(&item["maxLimitRequestRatio"]) {
        errors.extend(ratio_constraint(ty, &k, &ratio, requests, limits));
    }
    errors
}

/// Largest value whose milli-units still fit an int64 (upstream's `MaxMilliValue`).
const MAX_MILLI_VALUE: i128 = i64::MAX as i128 / 1000;

/// Request, limit and enforced value in one unit, as upstream compares them: milli-units
/// unless one of them is too large for that.
fn comparable(
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
    enforced: &Quantity,
) -> (i128, i128, i128) {
    let zero = Quantity::ZERO;
    let (r, l) = (req.unwrap_or(&zero), lim.unwrap_or(&zero));
    if [r, l, enforced]
        .iter()
        .all(|q| q.value() <= MAX_MILLI_VALUE)
    {
        (r.milli_value(), l.milli_value(), enforced.milli_value())
    } else {
        (r.value(), l.value(), enforced.value())
    }
}

fn min_constraint(
    ty: &str,
    k: &str,
    min: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(k), limits.get(k));
    let (r, l, e) = comparable(req, lim, min);
    let Some(req) = req else {
        return Some(format!(
            "minimum {k} usage per {ty} is {min}.  No request is specified"
        ));
    };
    if r < e {
        return Some(format!(
            "minimum {k} usage per {ty} is {min}, but request is {req}"
        ));
    }
    match lim {
        Some(lim) if l < e => Some(format!(
            "minimum {k} usage per {ty} is {min}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    ty: &str,
    k: &str,
    max: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(k), limits.get(k));
    let (r, l, e) = comparable(req, lim, max);
    let Some(lim) = lim else {
        return Some(format!(
            "maximum {k} usage per {ty} is {max}.  No limit is specified"
        ));
    };
    if l > e {
        return Some(format!(
            "maximum {k} usage per {ty} is {max}, but limit is {lim}"
        ));
    }
    match req {
        Some(req) if r > e => Some(format!(
            "maximum {k} usage per {ty} is {max}, but request is {req}"
        )),
        _ => None,
    }
}

fn max_request_constraint(
    ty: &str,
    k: &str,
    max: &Quantity,
    requests: &ResourceList,
) -> Option<String> {
    let req = requests.get(k);
    let (r, _, e) = comparable(req, None, max);
    let Some(req) = req else {
        return Some(format!(
            "maximum {k} usage per {ty} is {max}.  No request is specified"
        ));
    };
    (r > e).then(|| format!("maximum {k} usage per {ty} is {max}, but request is {req}"))
}

fn ratio_constraint(
    ty: &str,
    k: &str,
    ratio: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(k), limits.get(k));
    let (r, l, _) = comparable(req, lim, ratio);
    if req.is_none() || r == 0 {
        return Some(format!(
            "{k} max limit to request ratio per {ty} is {ratio}, but no request is specified or request is 0"
        ));
    }
    if lim.is_none() || l == 0 {
        return Some(format!(
            "{k} max limit to request ratio per {ty} is {ratio}, but no limit is specified or limit is 0"
        ));
    }
    let observed = l as f64 / r as f64;
    let (scaled, allowed) = if ratio.value() <= MAX_MILLI_VALUE {
        (observed * 1000.0, ratio.milli_value() as f64)
    } else {
        (observed, ratio.value() as f64)
    };
    (scaled > allowed).then(|| {
        format!("{k} max limit to request ratio per {ty} is {ratio}, but provided ratio is {observed:.6}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range() -> Value {
        json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "200m", "memory": "6Mi"}, "defaultRequest": {"cpu": "100m", "memory": "5Mi"},
            "min": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "2"}}]}})
    }

    #[test]
    fn defaults_fill_what_containers_leave_out_and_are_recorded() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "150m"}}}],
            "containers": [{"name": "web"}]}});
        apply_defaults(&range(), &mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"requests": {"cpu": "100m", "memory": "5Mi"}, "limits": {"cpu": "200m", "memory": "6Mi"}})
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web; \
             cpu, memory request for init container init; memory limit for init container init"
        );
        assert!(check_pod(&range(), &pod).is_empty());
    }

    #[test]
    fn bounds_are_refused_in_upstreams_words() {
        let pod = json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "300m"}}}]}});
        assert_eq!(
            check_pod(&range(), &pod),
            vec![
                "minimum cpu usage per Container is 100m, but request is 50m".to_string(),
                "cpu max limit to request ratio per Container is 2, but provided ratio is 6.000000"
                    .to_string(),
            ]
        );
    }
}
