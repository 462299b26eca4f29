//! Compute-resource rules shared by pods, limit ranges and resource quotas: resource names
//! (upstream's `pkg/apis/core/helper`), quantity values, and requests against limits.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use rkube_machinery::quantity::Quantity;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeMap;

/// Resources that count objects, always whole numbers.
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// Resource names Kubernetes defines without a domain prefix.
const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

/// `hugepages-<size>`.
pub fn is_huge_page(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Names without a domain, or in the `kubernetes.io` domain.
pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Vendor resources (`example.com/gpu`).
pub fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && v::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether requests may be below limits for `name` (not for huge pages or extended resources).
pub fn is_overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_page(name)
}

/// Whether values of `name` must be whole numbers.
pub fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// Whether `name` is a standard resource name (including huge pages).
pub fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name)
        || is_huge_page(name)
        || name.strip_prefix("requests.").is_some_and(is_huge_page)
        || name.strip_prefix("limits.").is_some_and(is_huge_page)
}

/// Whether `name` is a resource a container may request.
pub fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || is_huge_page(name)
}

/// Upstream's `validateResourceName`: a qualified name, standard when unprefixed.
pub fn validate_resource_name(name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = v::validate_qualified_name(name, path);
    if errs.is_empty() && !name.contains('/') && !is_standard_resource(name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    errs
}

/// Upstream's `validateContainerResourceName`.
pub fn validate_container_resource_name(name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = validate_resource_name(name, path);
    if !name.contains('/') {
        if !is_standard_container_resource(name) {
            errs.push(FieldError::invalid(
                path.clone(),
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// Parse an API quantity, or report upstream's parse error at `path`.
pub fn parse_quantity(q: &ApiQuantity, path: &FieldPath, errs: &mut ErrorList) -> Option<Quantity> {
    match Quantity::parse(&q.0) {
        Ok(q) => Some(q),
        Err(e) => {
            errs.push(FieldError::invalid(
                path.clone(),
                q.0.as_str(),
                e.to_string(),
            ));
            None
        }
    }
}

/// Upstream's `ValidateResourceQuantityValue`: not negative, whole for integer resources.
pub fn validate_quantity_value(name: &str, q: &Quantity, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path.clone(),
            q.canonical(),
            "must be greater than or equal to 0",
        ));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path.clone(),
            q.canonical(),
            "must be an integer",
        ));
    }
    errs
}

/// Parse and check every quantity of a resource list, returning the parsed values.
pub fn validate_resource_list(
    list: Option<&BTreeMap<String, ApiQuantity>>,
    path: &FieldPath,
    name_rule: fn(&str, &FieldPath) -> ErrorList,
    errs: &mut ErrorList,
) -> BTreeMap<String, Quantity> {
    let mut parsed = BTreeMap::new();
    for (name, raw) in list.into_iter().flatten() {
        let p = path.key(name);
        errs.extend(name_rule(name, &p));
        if let Some(q) = parse_quantity(raw, &p, errs) {
            errs.extend(validate_quantity_value(name, &q, &p));
            parsed.insert(name.clone(), q);
        }
    }
    parsed
}

/// Upstream's `ValidateContainerResourceRequirements` (without resource claims): names,
/// values, and requests not above limits (equal for non-overcommitable resources).
pub fn validate_container_resources(
    r: Option<&ResourceRequirements>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(r) = r else { return errs };
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = validate_resource_list(
        r.limits.as_ref(),
        &lim_path,
        validate_container_resource_name,
        &mut errs,
    );
    let requests = validate_resource_list(
        r.requests.as_ref(),
        &req_path,
        validate_container_resource_name,
        &mut errs,
    );
    for (name, req) in &requests {
        match limits.get(name) {
            Some(lim) if req != lim && !is_overcommit_allowed(name) => {
                errs.push(FieldError::invalid(
                    req_path.clone(),
                    req.canonical(),
                    format!("must be equal to {name} limit of {}", lim.canonical()),
                ))
            }
            Some(lim) if req > lim => errs.push(FieldError::invalid(
                req_path.clone(),
                req.canonical(),
                format!(
                    "must be less than or equal to {name} limit of {}",
                    lim.canonical()
                ),
            )),
            None if !is_overcommit_allowed(name) => errs.push(FieldError::required(
                lim_path.clone(),
                "Limit must be set for non overcommitable resources",
            )),
            _ => {}
        }
    }
    let cpu_or_memory =
        |m: &BTreeMap<String, Quantity>| m.contains_key("cpu") || m.contains_key("memory");
    let huge = |m: &BTreeMap<String, Quantity>| m.keys().any(|k| is_huge_page(k));
    if !cpu_or_memory(&limits) && !cpu_or_memory(&requests) && (huge(&limits) || huge(&requests)) {
        errs.push(FieldError::forbidden(
            path.clone(),
            "HugePages require cpu or memory",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
        let m = |l: &[(&str, &str)]| {
            Some(
                l.iter()
                    .map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string())))
                    .collect(),
            )
        };
        ResourceRequirements {
            requests: m(requests),
            limits: m(limits),
            ..Default::default()
        }
    }

    #[test]
    fn requests_may_not_exceed_limits() {
        let path = FieldPath::new("spec")
            .child("containers")
            .index(0)
            .child("resources");
        let errs =
            validate_container_resources(Some(&reqs(&[("cpu", "1")], &[("cpu", "500m")])), &path);
        assert_eq!(
            errs.aggregate_message(),
            "spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m"
        );
        let errs = validate_container_resources(Some(&reqs(&[("memory", "-1")], &[])), &path);
        assert_eq!(
            errs.aggregate_message(),
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0"
        );
        let errs =
            validate_container_resources(Some(&reqs(&[("example.com/gpu", "1")], &[])), &path);
        assert_eq!(
            errs.aggregate_message(),
            "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"
        );
        let errs = validate_container_resources(Some(&reqs(&[("pods", "1")], &[])), &path);
        assert_eq!(
            errs.aggregate_message(),
            "spec.containers[0].resources.requests[pods]: Invalid value: \"pods\": must be a standard resource for containers"
        );
        assert!(
            validate_container_resources(Some(&reqs(&[("cpu", "100m")], &[("cpu", "1")])), &path)
                .is_empty()
        );
    }
}
