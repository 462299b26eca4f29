//! NetworkPolicy (networking.k8s.io/v1): the rules of `networkpolicies`.
//!
//! Upstream: `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`
//! (`pkg/apis/networking/v1/defaults.go`) and `ValidateNetworkPolicySpec`
//! (`pkg/apis/networking/validation`).

use super::net::{CIDR_MSG, Cidr, port_name_problems, port_number_problems};
use crate::resources::apps::shared::validate_label_selector;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of NetworkPolicy objects.
pub struct NetworkPolicyStrategy;

impl TypedStrategy for NetworkPolicyStrategy {
    type Object = NetworkPolicy;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, obj: &mut NetworkPolicy) {
        default_network_policy_spec(obj.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, obj: &NetworkPolicy) -> ErrorList {
        validate_network_policy_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }
}

/// A policy that names no types applies to ingress (and to egress when it has egress rules);
/// ports without a protocol are TCP.
pub fn default_network_policy_spec(spec: &mut NetworkPolicySpec) {
    if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
        let mut types = vec!["Ingress".to_string()];
        if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
            types.push("Egress".into());
        }
        spec.policy_types = Some(types);
    }
    let ingress_ports = spec
        .ingress
        .iter_mut()
        .flatten()
        .flat_map(|r| r.ports.iter_mut().flatten());
    let egress_ports = spec
        .egress
        .iter_mut()
        .flatten()
        .flat_map(|r| r.ports.iter_mut().flatten());
    for port in ingress_ports.chain(egress_ports) {
        port.protocol.get_or_insert_with(|| "TCP".into());
    }
}

/// `ValidateNetworkPolicySpec`: selectors, ports and peers of every rule, and the policy types.
pub fn validate_network_policy_spec(spec: &NetworkPolicySpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(selector) = &spec.pod_selector {
        errs.extend(validate_label_selector(
            selector,
            &path.child("podSelector"),
        ));
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let rule_path = path.child("ingress").index(i);
        errs.extend(validate_rule(
            rule.ports.as_deref(),
            rule.from.as_deref(),
            &rule_path,
            "from",
        ));
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let rule_path = path.child("egress").index(i);
        errs.extend(validate_rule(
            rule.ports.as_deref(),
            rule.to.as_deref(),
            &rule_path,
            "to",
        ));
    }
    errs.extend(validate_policy_types(
        spec.policy_types.as_deref().unwrap_or_default(),
        &path.child("policyTypes"),
    ));
    errs
}

/// The ports and peers of one rule (`peers` is `from` or `to`).
fn validate_rule(
    ports: Option<&[NetworkPolicyPort]>,
    peers: Option<&[NetworkPolicyPeer]>,
    path: &FieldPath,
    peers_name: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, port) in ports.unwrap_or_default().iter().enumerate() {
        errs.extend(validate_port(port, &path.child("ports").index(i)));
    }
    for (i, peer) in peers.unwrap_or_default().iter().enumerate() {
        errs.extend(validate_peer(peer, &path.child(peers_name).index(i)));
    }
    errs
}

/// `ValidateNetworkPolicyPort`: a known protocol, and a valid port or port range.
fn validate_port(port: &NetworkPolicyPort, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(protocol) = port
        .protocol
        .as_deref()
        .filter(|p| !["TCP", "UDP", "SCTP"].contains(p))
    {
        errs.push(FieldError::not_supported(
            path.child("protocol"),
            protocol,
            &["SCTP", "TCP", "UDP"],
        ));
    }
    match (&port.port, port.end_port) {
        (Some(IntOrString::Int(number)), end) => {
            for m in port_number_problems(*number) {
                errs.push(FieldError::invalid(path.child("port"), *number, m));
            }
            if let Some(end) = end {
                if end < *number {
                    errs.push(FieldError::invalid(
                        path.child("endPort"),
                        *number,
                        "must be greater than or equal to `port`",
                    ));
                }
                for m in port_number_problems(end) {
                    errs.push(FieldError::invalid(path.child("endPort"), end, m));
                }
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if let Some(end) = end {
                errs.push(FieldError::invalid(
                    path.child("endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for m in port_name_problems(name) {
                errs.push(FieldError::invalid(path.child("port"), name.as_str(), m));
            }
        }
        (None, Some(end)) => errs.push(FieldError::invalid(
            path.child("endPort"),
            end,
            "may not be specified when `port` is not specified",
        )),
        (None, None) => {}
    }
    errs
}

/// `ValidateNetworkPolicyPeer`: at least one selector or an IP block, and an IP block alone.
fn validate_peer(peer: &NetworkPolicyPeer, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut count = 0;
    if let Some(selector) = &peer.pod_selector {
        count += 1;
        errs.extend(validate_label_selector(
            selector,
            &path.child("podSelector"),
        ));
    }
    if let Some(selector) = &peer.namespace_selector {
        count += 1;
        errs.extend(validate_label_selector(
            selector,
            &path.child("namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        count += 1;
        errs.extend(validate_ip_block(block, &path.child("ipBlock")));
    }
    if count == 0 {
        errs.push(FieldError::required(path.clone(), "must specify a peer"));
    } else if count > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::forbidden(
            path.clone(),
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// `ValidateIPBlock`: a valid CIDR, and exceptions strictly inside it.
fn validate_ip_block(block: &IPBlock, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if block.cidr.is_empty() {
        errs.push(FieldError::required(path.child("cidr"), ""));
        return errs;
    }
    let Some(cidr) = Cidr::parse(&block.cidr) else {
        errs.push(FieldError::invalid(
            path.child("cidr"),
            block.cidr.as_str(),
            CIDR_MSG,
        ));
        return errs;
    };
    for (i, except) in block.except.iter().flatten().enumerate() {
        let except_path = path.child("except").index(i);
        match Cidr::parse(except) {
            None => errs.push(FieldError::invalid(except_path, except.as_str(), CIDR_MSG)),
            Some(e) if !cidr.contains(e.addr) || cidr.prefix >= e.prefix => {
                errs.push(FieldError::invalid(
                    except_path,
                    except.as_str(),
                    "must be a strict subset of `cidr`",
                ));
            }
            Some(_) => {}
        }
    }
    errs
}

/// At most `Ingress` and `Egress`.
fn validate_policy_types(types: &[String], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if types.len() > 2 {
        let quoted: Vec<String> = types.iter().map(|t| Value::quote(t)).collect();
        let shown = Value::Raw(format!("&[]networking.PolicyType{{{}}}", quoted.join(", ")));
        errs.push(FieldError::invalid(
            path.clone(),
            shown,
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types
        .iter()
        .enumerate()
        .filter(|(_, t)| *t != "Ingress" && *t != "Egress")
    {
        errs.push(FieldError::not_supported(
            path.index(i),
            t.as_str(),
            &["Ingress", "Egress"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(spec: serde_json::Value) -> NetworkPolicy {
        let mut p: NetworkPolicy = serde_json::from_value(
            json!({"metadata": {"name": "np", "namespace": "default"}, "spec": spec}),
        )
        .unwrap();
        NetworkPolicyStrategy.default(&mut p);
        p
    }

    fn messages(p: &NetworkPolicy) -> Vec<String> {
        NetworkPolicyStrategy
            .validate(p)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn defaults_policy_types_and_protocols() {
        let p = policy(json!({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}));
        let spec = serde_json::to_value(p.spec).unwrap();
        assert_eq!(spec["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(spec["egress"][0]["ports"][0]["protocol"], "TCP");
        let ingress_only = serde_json::to_value(policy(json!({"podSelector": {}})).spec).unwrap();
        assert_eq!(ingress_only["policyTypes"], json!(["Ingress"]));
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (
                json!({"ingress": [{"ports": [{"protocol": "tcp", "port": 80}]}]}),
                vec![
                    r#"spec.ingress[0].ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP""#,
                ],
            ),
            (
                json!({"ingress": [{"from": [{}]}]}),
                vec!["spec.ingress[0].from[0]: Required value: must specify a peer"],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}, "podSelector": {}}]}]}),
                vec![
                    r#"spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`"#,
                    "spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer",
                ],
            ),
            (
                json!({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
                vec![
                    "spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`",
                ],
            ),
            (
                json!({"policyTypes": ["ingress"]}),
                vec![
                    r#"spec.policyTypes[0]: Unsupported value: "ingress": supported values: "Ingress", "Egress""#,
                ],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(messages(&policy(spec.clone())), want, "{spec}");
        }
    }
}
