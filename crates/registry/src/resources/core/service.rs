//! Service (v1): the rules of `services` (upstream's `SetDefaults_Service`, the service
//! strategy and REST layer's normalisation, and `ValidateService`/`ValidateServiceUpdate`).
//!
//! Cluster IPs are allocated by the API server; these rules only keep `clusterIP` and
//! `clusterIPs` consistent and carry allocated values over on updates that leave them out.

use super::pod::{PROTOCOLS, not_supported_unless, port_num, port_num_or_name, required_enum};
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::core::v1::{
    ClientIPConfig, LoadBalancerStatus, Service, ServicePort, ServiceSpec, ServiceStatus,
    SessionAffinityConfig,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};
use std::collections::BTreeSet;

/// Service types, in upstream's sorted order.
const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
/// Longest client IP session affinity (a day).
const MAX_AFFINITY_SECONDS: i32 = 86400;
/// Default client IP session affinity (three hours).
const DEFAULT_AFFINITY_SECONDS: i32 = 10800;

/// The rules of Service objects.
pub struct ServiceStrategy;

impl TypedStrategy for ServiceStrategy {
    type Object = Service;
    const NAME_RULE: NameRule = NameRule::Dns1035Label;

    fn default(&self, svc: &mut Service) {
        default_spec(svc.spec.get_or_insert_default());
    }

    fn prepare_for_create(&self, svc: &mut Service) {
        init_ip_families(svc.spec.get_or_insert_default(), None);
        svc.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus::default()),
            ..Default::default()
        });
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        if let (Some(n), Some(o)) = (new.spec.as_mut(), old.spec.as_ref()) {
            patch_allocated_values(n, o);
            init_ip_families(n, Some(o));
        }
    }

    fn validate(&self, svc: &Service) -> ErrorList {
        validate_service(svc)
    }

    fn validate_update(&self, new: &Service, old: &Service) -> ErrorList {
        let empty = ServiceSpec::default();
        let (n, o) = (
            new.spec.as_ref().unwrap_or(&empty),
            old.spec.as_ref().unwrap_or(&empty),
        );
        let mut errs = validate_cluster_ips_update(n, o);
        if needs_health_check(n)
            && needs_health_check(o)
            && n.health_check_node_port != o.health_check_node_port
        {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec").child("healthCheckNodePort"),
                "field is immutable",
            ));
        }
        errs.extend(validate_service(new));
        errs
    }
}

fn type_of(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("")
}

fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ip.as_deref() == Some("None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    matches!(type_of(spec), "NodePort" | "LoadBalancer")
        || (type_of(spec) == "ClusterIP"
            && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    type_of(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn set_if_empty(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().unwrap_or("").is_empty() {
        *slot = Some(value.to_string());
    }
}

/// Upstream's service defaults (`SetDefaults_Service`). IP families are the REST layer's
/// business ([`init_ip_families`]), after the field manager has recorded the request.
pub fn default_spec(spec: &mut ServiceSpec) {
    set_if_empty(&mut spec.session_affinity, "None");
    set_if_empty(&mut spec.type_, "ClusterIP");
    if spec.session_affinity.as_deref() == Some("ClientIP") {
        let cfg = spec
            .session_affinity_config
            .get_or_insert_with(SessionAffinityConfig::default);
        let ip = cfg.client_ip.get_or_insert_with(ClientIPConfig::default);
        ip.timeout_seconds.get_or_insert(DEFAULT_AFFINITY_SECONDS);
    }
    for port in spec.ports.iter_mut().flatten() {
        default_port(port);
    }
    let ty = type_of(spec).to_string();
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        set_if_empty(&mut spec.external_traffic_policy, "Cluster");
    }
    if ty != "ExternalName" && spec.internal_traffic_policy.is_none() {
        spec.internal_traffic_policy = Some("Cluster".into());
    }
    if ty == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
    normalize_cluster_ips(spec);
}

/// What upstream's Service REST does with IP families on create and update: a Service with a
/// cluster IP keeps the families and policy it had (unless the client set them) and otherwise
/// gets the cluster's defaults; an ExternalName Service has none of them.
fn init_ip_families(spec: &mut ServiceSpec, old: Option<&ServiceSpec>) {
    if type_of(spec) == "ExternalName" {
        return;
    }
    if let Some(old) = old.filter(|o| type_of(o) != "ExternalName") {
        if spec.ip_family_policy.is_none() {
            spec.ip_family_policy.clone_from(&old.ip_family_policy);
        }
        if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
            spec.ip_families.clone_from(&old.ip_families);
        }
    }
    default_ip_families(spec);
}

fn default_port(port: &mut ServicePort) {
    set_if_empty(&mut port.protocol, "TCP");
    let unset = match &port.target_port {
        None | Some(IntOrString::Int(0)) => true,
        Some(IntOrString::String(s)) => s.is_empty(),
        Some(IntOrString::Int(_)) => false,
    };
    if unset {
        port.target_port = Some(IntOrString::Int(port.port));
    }
}

/// `clusterIP` and `clusterIPs[0]` name the same address; fill whichever is missing.
fn normalize_cluster_ips(spec: &mut ServiceSpec) {
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let ips_empty = spec.cluster_ips.as_ref().is_none_or(Vec::is_empty);
    if !ip.is_empty() && ips_empty {
        spec.cluster_ips = Some(vec![ip]);
    } else if ip.is_empty() && !ips_empty {
        spec.cluster_ip = spec.cluster_ips.as_ref().and_then(|v| v.first().cloned());
    }
}

/// Single-stack IPv4 unless the user chose otherwise (headless services without a selector
/// require dual-stack, which a single-stack cluster serves with its one family).
fn default_ip_families(spec: &mut ServiceSpec) {
    if spec.ip_family_policy.is_none() {
        let selectorless_headless =
            is_headless(spec) && spec.selector.as_ref().is_none_or(|s| s.is_empty());
        spec.ip_family_policy = Some(
            if selectorless_headless {
                "RequireDualStack"
            } else {
                "SingleStack"
            }
            .into(),
        );
    }
    if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
        let first_ip = spec
            .cluster_ips
            .as_ref()
            .and_then(|ips| ips.first())
            .and_then(|ip| v::parse_ip_sloppy(ip));
        let family = if first_ip.is_some_and(|ip| ip.is_ipv6()) {
            "IPv6"
        } else {
            "IPv4"
        };
        spec.ip_families = Some(vec![family.into()]);
    }
}

/// An update that leaves out allocated values (cluster IPs, node ports, health check port)
/// keeps the old ones, as upstream's `patchAllocatedValues` does.
fn patch_allocated_values(new: &mut ServiceSpec, old: &ServiceSpec) {
    let needs_ip = |s: &ServiceSpec| type_of(s) != "ExternalName";
    if needs_ip(old) && needs_ip(new) {
        if new.cluster_ip.as_deref().unwrap_or("").is_empty() {
            new.cluster_ip.clone_from(&old.cluster_ip);
        }
        if new.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
            new.cluster_ips.clone_from(&old.cluster_ips);
        }
    }
    let needs_node_port = |s: &ServiceSpec| matches!(type_of(s), "NodePort" | "LoadBalancer");
    if needs_node_port(old) && needs_node_port(new) {
        for port in new
            .ports
            .iter_mut()
            .flatten()
            .filter(|p| p.node_port.unwrap_or(0) == 0)
        {
            let same = old
                .ports
                .iter()
                .flatten()
                .find(|o| o.port == port.port && o.protocol == port.protocol);
            port.node_port = same.and_then(|o| o.node_port);
        }
    }
    if needs_health_check(old)
        && needs_health_check(new)
        && new.health_check_node_port.unwrap_or(0) == 0
    {
        new.health_check_node_port = old.health_check_node_port;
    }
}

fn validate_service(svc: &Service) -> ErrorList {
    let path = FieldPath::new("spec");
    let empty = ServiceSpec::default();
    let spec = svc.spec.as_ref().unwrap_or(&empty);
    let ty = type_of(spec);
    let mut errs = ErrorList::new();
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    if ports.is_empty() && !is_headless(spec) && ty != "ExternalName" {
        errs.push(FieldError::required(path.child("ports"), ""));
    }
    errs.extend(validate_type_specifics(spec, &path));
    errs.extend(validate_ports(spec, ports, &path.child("ports")));
    if let Some(sel) = &spec.selector {
        errs.extend(v::validate_labels(sel, &path.child("selector")));
    }
    errs.extend(validate_session_affinity(spec, &path));
    errs.extend(validate_cluster_ips(spec, &path));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        errs.extend(v::validate_ip(ip, &path.child("externalIPs").index(i)));
    }
    errs.extend(required_enum(
        spec.type_.as_deref(),
        &TYPES,
        &path.child("type"),
    ));
    errs.extend(validate_node_ports(spec, ports, &path.child("ports")));
    errs.extend(validate_load_balancer_fields(spec, &path));
    errs.extend(validate_traffic_policies(spec, &path));
    errs
}

fn validate_type_specifics(spec: &ServiceSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let ip0 = || path.child("clusterIPs").index(0);
    match type_of(spec) {
        "LoadBalancer" if is_headless(spec) => errs.push(FieldError::invalid(
            ip0(),
            "None",
            "may not be set to 'None' for LoadBalancer services",
        )),
        "NodePort" if is_headless(spec) => errs.push(FieldError::invalid(
            ip0(),
            "None",
            "may not be set to 'None' for NodePort services",
        )),
        "ExternalName" => {
            let forbid = [
                (
                    "clusterIPs",
                    spec.cluster_ips.as_ref().is_some_and(|v| !v.is_empty()),
                ),
                (
                    "ipFamilies",
                    spec.ip_families.as_ref().is_some_and(|v| !v.is_empty()),
                ),
                ("ipFamilyPolicy", spec.ip_family_policy.is_some()),
            ];
            for (field, _) in forbid.iter().filter(|(_, set)| *set) {
                errs.push(FieldError::forbidden(
                    path.child(field),
                    "may not be set for ExternalName services",
                ));
            }
            let name = spec.external_name.as_deref().unwrap_or("");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required(path.child("externalName"), ""));
            } else {
                errs.extend(v::validate_dns1123_subdomain(
                    cname,
                    &path.child("externalName"),
                ));
            }
        }
        _ => {}
    }
    errs
}

fn validate_ports(spec: &ServiceSpec, ports: &[ServicePort], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names = BTreeSet::new();
    let require_name = ports.len() > 1;
    for (i, sp) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = sp.name.as_deref().unwrap_or("");
        if require_name && name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else if !name.is_empty() {
            errs.extend(v::validate_dns1123_label(name, &p.child("name")));
            if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
        }
        errs.extend(port_num(sp.port, &p.child("port")));
        errs.extend(required_enum(
            sp.protocol.as_deref(),
            &PROTOCOLS,
            &p.child("protocol"),
        ));
        errs.extend(port_num_or_name(
            sp.target_port.as_ref().unwrap_or(&IntOrString::Int(0)),
            &p.child("targetPort"),
        ));
        if let Some(app) = sp.app_protocol.as_deref() {
            errs.extend(v::validate_qualified_name(app, &p.child("appProtocol")));
        }
        if type_of(spec) == "ClusterIP" && sp.node_port.unwrap_or(0) != 0 {
            errs.push(FieldError::forbidden(
                p.child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
    errs
}

fn validate_node_ports(_spec: &ServiceSpec, ports: &[ServicePort], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut node_ports = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let protocol = sp.protocol.clone().unwrap_or_default();
        let np = sp.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((protocol.clone(), np)) {
            errs.push(FieldError::duplicate(path.index(i).child("nodePort"), np));
        }
        if !pairs.insert((protocol.clone(), sp.port)) {
            let key = format!(
                "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                Value::quote(&protocol),
                sp.port
            );
            errs.push(FieldError::duplicate(path.index(i), Value::Raw(key)));
        }
    }
    errs
}

fn validate_session_affinity(spec: &ServiceSpec, path: &FieldPath) -> ErrorList {
    let affinity = spec.session_affinity.as_deref();
    let mut errs = required_enum(
        affinity,
        &["ClientIP", "None"],
        &path.child("sessionAffinity"),
    );
    let cfg_path = path.child("sessionAffinityConfig");
    match affinity {
        Some("ClientIP") => {
            let required =
                |p: FieldPath| FieldError::required(p, "when session affinity type is ClientIP");
            match spec.session_affinity_config.as_ref() {
                None => errs.push(required(cfg_path)),
                Some(c) => match c.client_ip.as_ref() {
                    None => errs.push(required(cfg_path.child("clientIP"))),
                    Some(ip) => match ip.timeout_seconds {
                        None => {
                            errs.push(required(cfg_path.child("clientIP").child("timeoutSeconds")))
                        }
                        Some(t) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
                            errs.push(FieldError::invalid(
                                cfg_path.child("clientIP").child("timeoutSeconds"),
                                t,
                                format!(
                                    "must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"
                                ),
                            ))
                        }
                        Some(_) => {}
                    },
                },
            }
        }
        Some("None") if spec.session_affinity_config.is_some() => errs.push(FieldError::forbidden(
            cfg_path,
            "must not be set when session affinity is None",
        )),
        _ => {}
    }
    errs
}

fn validate_cluster_ips(spec: &ServiceSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if type_of(spec) == "ExternalName" {
        return errs;
    }
    for (i, ip) in spec.cluster_ips.iter().flatten().enumerate() {
        let p = path.child("clusterIPs").index(i);
        if ip == "None" {
            if i > 0 {
                errs.push(FieldError::invalid(
                    p,
                    ip.as_str(),
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ));
            }
            continue;
        }
        errs.extend(v::validate_ip(ip, &p));
    }
    if let Some(policy) = spec.ip_family_policy.as_deref() {
        errs.extend(not_supported_unless(
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
            &path.child("ipFamilyPolicy"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        let p = path.child("ipFamilies").index(i);
        if !["IPv4", "IPv6"].contains(&family.as_str()) {
            errs.push(FieldError::not_supported(
                p,
                family.as_str(),
                &["IPv4", "IPv6"],
            ));
        } else if !seen.insert(family.as_str()) {
            errs.push(FieldError::duplicate(p, family.as_str()));
        }
    }
    errs
}

fn validate_load_balancer_fields(spec: &ServiceSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let is_lb = type_of(spec) == "LoadBalancer";
    let ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or(&[]);
    if !ranges.is_empty() {
        let p = path.child("LoadBalancerSourceRanges");
        if !is_lb {
            errs.push(FieldError::forbidden(
                p.clone(),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            errs.extend(v::validate_cidr(r.trim(), &p.index(i)));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && !is_lb {
        errs.push(FieldError::forbidden(
            path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if is_lb && spec.allocate_load_balancer_node_ports.is_none() {
        errs.push(FieldError::required(
            FieldPath::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if spec.load_balancer_class.is_some() && !is_lb {
        errs.push(FieldError::forbidden(
            path.child("loadBalancerClass"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    errs
}

fn validate_traffic_policies(spec: &ServiceSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                path.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        errs.extend(required_enum(
            Some(etp),
            &["Cluster", "Local"],
            &path.child("externalTrafficPolicy"),
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) && hc != 0 {
        errs.push(FieldError::invalid(
            path.child("healthCheckNodePort"),
            hc,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(type_of(spec), "NodePort" | "LoadBalancer" | "ClusterIP") => errs.push(
            FieldError::required(path.child("internalTrafficPolicy"), ""),
        ),
        Some(p) => errs.extend(not_supported_unless(
            p,
            &["Cluster", "Local"],
            &path.child("internalTrafficPolicy"),
        )),
        None => {}
    }
    if let Some(td) = spec.traffic_distribution.as_deref() {
        errs.extend(not_supported_unless(
            td,
            &["PreferClose"],
            &path.child("trafficDistribution"),
        ));
    }
    errs
}

/// The primary cluster IP may not change once allocated (except to or from ExternalName).
fn validate_cluster_ips_update(new: &ServiceSpec, old: &ServiceSpec) -> ErrorList {
    let mut errs = ErrorList::new();
    if type_of(new) == "ExternalName"
        || type_of(old) == "ExternalName"
        || (is_headless(new) && is_headless(old))
    {
        return errs;
    }
    let (n, o) = (
        new.cluster_ips.as_deref().unwrap_or(&[]),
        old.cluster_ips.as_deref().unwrap_or(&[]),
    );
    let path = FieldPath::new("spec").child("clusterIPs");
    let value = || crate::meta::go_string_slice(n);
    if n.len() == o.len() {
        for (i, ip) in o.iter().enumerate() {
            if *ip != n[i] {
                errs.push(FieldError::invalid(
                    path.index(i),
                    value(),
                    "may not change once set",
                ));
            }
        }
    } else if n.is_empty() {
        errs.push(FieldError::invalid(
            path.index(0),
            value(),
            "primary clusterIP can not be unset",
        ));
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(FieldError::invalid(
            path.index(0),
            value(),
            "may not change once set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error, update_error};
    use serde_json::{Value, json};

    fn svc(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})
    }

    /// `create_service_defaults.json`, without the cluster IPs the server allocates.
    #[test]
    fn minimal_service_defaults_to_the_golden_object() {
        let (stored, errs) = create(
            "services",
            svc(json!({"selector": {"a": "b"}, "ports": [{"port": 80}]})),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(
            stored["spec"],
            json!({
                "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}],
                "selector": {"a": "b"},
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster"
            })
        );
        assert_eq!(stored["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn upstream_messages_for_invalid_services() {
        let cases = [
            (
                svc(json!({"ports": [{"port": 80, "protocol": "tcp"}]})),
                "spec.ports[0].protocol: Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ),
            (
                svc(json!({"selector": {"a": "b"}})),
                "spec.ports: Required value",
            ),
            (
                svc(json!({"ports": [{"port": 80}, {"port": 81}]})),
                "[spec.ports[0].name: Required value, spec.ports[1].name: Required value]",
            ),
            (
                svc(json!({"type": "Magic", "ports": [{"port": 80}]})),
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ),
            (
                svc(json!({"ports": [{"port": 0}]})),
                "[spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]",
            ),
            (
                svc(json!({"type": "ExternalName"})),
                "spec.externalName: Required value",
            ),
        ];
        for (object, want) in cases {
            assert_eq!(create_error("services", object), want);
        }
        let bad_name = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}});
        assert!(
            create_error("services", bad_name)
                .starts_with("metadata.name: Invalid value: \"1abc\": a DNS-1035 label")
        );
    }

    #[test]
    fn node_port_defaults_and_headless() {
        let (stored, errs) = create(
            "services",
            svc(json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]})),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(stored["spec"]["ports"][0]["targetPort"], "http");
        let (stored, errs) = create("services", svc(json!({"clusterIP": "None"})));
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(stored["spec"]["ipFamilyPolicy"], "RequireDualStack");
    }

    #[test]
    fn cluster_ip_is_kept_and_immutable() {
        let old = svc(json!({"clusterIP": "10.0.0.5", "ports": [{"port": 80}]}));
        assert_eq!(
            update_error(
                "services",
                old.clone(),
                svc(json!({"ports": [{"port": 81}]}))
            ),
            ""
        );
        assert_eq!(
            update_error(
                "services",
                old,
                svc(json!({"clusterIP": "10.0.0.6", "ports": [{"port": 80}]}))
            ),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.6\"}: may not change once set"
        );
    }
}
