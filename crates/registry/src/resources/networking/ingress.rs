//! Ingress (networking.k8s.io/v1): the rules of `ingresses`.
//!
//! Upstream: `ValidateIngressSpec` (`pkg/apis/networking/validation`): a default backend or
//! rules; hosts are DNS names; every path has a type and, for `Exact` and `Prefix`, a clean
//! absolute path; every backend is a service (by port name or number) or a resource.

use super::net::{port_name_problems, port_number_problems};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, Ingress, IngressBackend, IngressRule, IngressSpec,
};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of Ingress objects.
pub struct IngressStrategy;

impl TypedStrategy for IngressStrategy {
    type Object = Ingress;
    const GENERATION: Generation = Generation::Spec;

    fn validate(&self, obj: &Ingress) -> ErrorList {
        validate_ingress_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }
}

/// Path pieces that would let a path escape its prefix once normalised.
const INVALID_PATH_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
/// Path endings with the same problem.
const INVALID_PATH_SUFFIXES: [&str; 2] = ["/..", "/."];

/// `validateIngressSpec`.
pub fn validate_ingress_spec(spec: &IngressSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        let shown = Value::Raw("[]networking.IngressRule(nil)".into());
        errs.push(FieldError::invalid(
            path.clone(),
            shown,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = &spec.default_backend {
        errs.extend(validate_backend(backend, &path.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        errs.extend(validate_rule(rule, &path.child("rules").index(i)));
    }
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        for (j, host) in tls
            .hosts
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, h)| !h.contains('*'))
        {
            for m in v::is_dns1123_subdomain(host) {
                errs.push(FieldError::invalid(
                    path.child("tls").index(i).child("hosts").index(j),
                    host.as_str(),
                    m,
                ));
            }
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        for m in v::is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid(
                path.child("ingressClassName"),
                class.as_str(),
                m,
            ));
        }
    }
    errs
}

/// One rule: a DNS host (not an IP) and its HTTP paths.
fn validate_rule(rule: &IngressRule, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
        if host.parse::<std::net::IpAddr>().is_ok() {
            errs.push(FieldError::invalid(
                path.child("host"),
                host,
                "must be a DNS name, not an IP address",
            ));
        }
        if !host.contains('*') {
            for m in v::is_dns1123_subdomain(host) {
                errs.push(FieldError::invalid(path.child("host"), host, m));
            }
        }
    }
    if let Some(http) = &rule.http {
        let paths_path = path.child("http").child("paths");
        if http.paths.is_empty() {
            errs.push(FieldError::required(paths_path.clone(), ""));
        }
        for (i, p) in http.paths.iter().enumerate() {
            errs.extend(validate_path(p, &paths_path.index(i)));
        }
    }
    errs
}

/// `validateHTTPIngressPath`.
fn validate_path(p: &HTTPIngressPath, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let value = p.path.as_deref().unwrap_or("");
    match p.path_type.as_str() {
        "" => {
            errs.push(FieldError::required(
                path.child("pathType"),
                "pathType must be specified",
            ));
            return errs;
        }
        "Exact" | "Prefix" => errs.extend(validate_strict_path(value, &path.child("path"))),
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    path.child("path"),
                    value,
                    "must be an absolute path",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            path.child("pathType"),
            other,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    errs.extend(validate_backend(&p.backend, &path.child("backend")));
    errs
}

/// `Exact` and `Prefix` paths are absolute and free of sequences that normalise away.
fn validate_strict_path(value: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if !value.starts_with('/') {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "must be an absolute path",
        ));
    }
    for seq in INVALID_PATH_SEQUENCES.iter().filter(|s| value.contains(*s)) {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            format!("must not contain '{seq}'"),
        ));
    }
    for suffix in INVALID_PATH_SUFFIXES.iter().filter(|s| value.ends_with(*s)) {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            format!("cannot end with '{suffix}'"),
        ));
    }
    errs
}

/// `validateIngressBackend`: exactly one of a service (named, with a port name or number)
/// and a resource.
fn validate_backend(backend: &IngressBackend, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path.clone(),
            "",
            "cannot set both resource and service backends",
        )),
        (Some(resource), None) => {
            let resource_path = path.child("resource");
            if resource.kind.is_empty() {
                errs.push(FieldError::required(
                    resource_path.child("kind"),
                    "kind is required",
                ));
            }
            if resource.name.is_empty() {
                errs.push(FieldError::required(
                    resource_path.child("name"),
                    "name is required",
                ));
            }
        }
        (None, Some(service)) => {
            let service_path = path.child("service");
            if service.name.is_empty() {
                errs.push(FieldError::required(service_path.child("name"), ""));
            }
            for m in v::is_dns1035_label(&service.name)
                .into_iter()
                .filter(|_| !service.name.is_empty())
            {
                errs.push(FieldError::invalid(
                    service_path.child("name"),
                    service.name.as_str(),
                    m,
                ));
            }
            let port = service.port.clone().unwrap_or_default();
            let name = port.name.unwrap_or_default();
            let number = port.number.unwrap_or(0);
            match (name.is_empty(), number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path.clone(),
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => {
                    for m in port_name_problems(&name) {
                        errs.push(FieldError::invalid(
                            service_path.child("port").child("name"),
                            name.as_str(),
                            m,
                        ));
                    }
                }
                (true, false) => {
                    for m in port_number_problems(number) {
                        errs.push(FieldError::invalid(
                            service_path.child("port").child("number"),
                            number,
                            m,
                        ));
                    }
                }
                (true, true) => errs.push(FieldError::required(
                    path.clone(),
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path.clone(),
            "",
            "resource or service backend is required",
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(spec: serde_json::Value) -> Vec<String> {
        let ing: Ingress = serde_json::from_value(
            json!({"metadata": {"name": "i", "namespace": "default"}, "spec": spec}),
        )
        .unwrap();
        IngressStrategy
            .validate(&ing)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn with_path(path: serde_json::Value) -> serde_json::Value {
        json!({"rules": [{"host": "example.com", "http": {"paths": [path]}}]})
    }

    #[test]
    fn upstream_messages() {
        let backend = json!({"service": {"name": "web", "port": {"number": 80}}});
        let cases = [
            (
                with_path(json!({"path": "/", "pathType": "Prefix", "backend": backend})),
                vec![],
            ),
            (
                with_path(json!({"path": "/", "backend": backend})),
                vec![
                    "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                ],
            ),
            (
                with_path(json!({"path": "/", "pathType": "Regex", "backend": backend})),
                vec![
                    r#"spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix""#,
                ],
            ),
            (
                with_path(json!({"path": "api", "pathType": "Exact", "backend": backend})),
                vec![
                    r#"spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path"#,
                ],
            ),
            (
                with_path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}),
                ),
                vec![
                    "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
                ],
            ),
            (
                json!({}),
                vec![
                    "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
                ],
            ),
            (
                json!({"rules": [{"host": "10.0.0.1"}]}),
                vec![
                    r#"spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address"#,
                ],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(messages(spec.clone()), want, "{spec}");
        }
    }
}
