//! Endpoints (v1): the rules of `endpoints`: port protocols default to TCP; each subset has
//! addresses, which are valid, non-special IPs, and valid ports (named when there are several).

use super::pod::{PROTOCOLS, port_num, required_enum};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset, Endpoints};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of Endpoints objects.
pub struct EndpointsStrategy;

impl TypedStrategy for EndpointsStrategy {
    type Object = Endpoints;

    fn default(&self, ep: &mut Endpoints) {
        for port in ep
            .subsets
            .iter_mut()
            .flatten()
            .flat_map(|s| s.ports.iter_mut().flatten())
        {
            if port.protocol.as_deref().unwrap_or("").is_empty() {
                port.protocol = Some("TCP".into());
            }
        }
    }

    fn validate(&self, ep: &Endpoints) -> ErrorList {
        let mut errs = ErrorList::new();
        for (i, subset) in ep.subsets.iter().flatten().enumerate() {
            errs.extend(validate_subset(subset, &FieldPath::new("subsets").index(i)));
        }
        errs
    }
}

fn validate_subset(ss: &EndpointSubset, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let addresses = ss.addresses.as_deref().unwrap_or(&[]);
    let not_ready = ss.not_ready_addresses.as_deref().unwrap_or(&[]);
    if addresses.is_empty() && not_ready.is_empty() {
        errs.push(FieldError::required(
            p.clone(),
            "must specify `addresses` or `notReadyAddresses`",
        ));
    }
    for (field, list) in [("addresses", addresses), ("notReadyAddresses", not_ready)] {
        for (i, a) in list.iter().enumerate() {
            errs.extend(validate_address(a, &p.child(field).index(i)));
        }
    }
    let ports = ss.ports.as_deref().unwrap_or(&[]);
    for (i, port) in ports.iter().enumerate() {
        let pp = p.child("ports").index(i);
        let name = port.name.as_deref().unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(pp.child("name"), ""));
        } else if !name.is_empty() {
            errs.extend(v::validate_dns1123_label(name, &pp.child("name")));
        }
        errs.extend(port_num(port.port, &pp.child("port")));
        errs.extend(required_enum(
            port.protocol.as_deref(),
            &PROTOCOLS,
            &pp.child("protocol"),
        ));
        if let Some(app) = port.app_protocol.as_deref() {
            errs.extend(v::validate_qualified_name(app, &pp.child("appProtocol")));
        }
    }
    errs
}

fn validate_address(a: &EndpointAddress, p: &FieldPath) -> ErrorList {
    let ip_path = p.child("ip");
    let mut errs = v::validate_ip(&a.ip, &ip_path);
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(v::validate_dns1123_label(h, &p.child("hostname")));
    }
    if let Some(n) = a.node_name.as_deref() {
        errs.extend(v::validate_dns1123_subdomain(n, &p.child("nodeName")));
    }
    match v::parse_ip_sloppy(&a.ip) {
        None => errs.push(FieldError::invalid(
            ip_path,
            a.ip.as_str(),
            "must be a valid IP address",
        )),
        Some(ip) => errs.extend(special_ip_problems(ip, &a.ip, &ip_path)),
    }
    errs
}

fn special_ip_problems(ip: std::net::IpAddr, raw: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let (link_local, link_local_multicast) = match ip {
        std::net::IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        std::net::IpAddr::V6(v6) => (
            (v6.segments()[0] & 0xffc0) == 0xfe80,
            (v6.segments()[0] & 0xff0f) == 0xff02,
        ),
    };
    let problems = [
        (
            ip.is_unspecified(),
            format!("may not be unspecified ({raw})"),
        ),
        (
            ip.is_loopback(),
            "may not be in the loopback range (127.0.0.0/8, ::1/128)".to_string(),
        ),
        (
            link_local,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)".to_string(),
        ),
        (
            link_local_multicast,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".to_string(),
        ),
    ];
    for (bad, msg) in problems {
        if bad {
            errs.push(FieldError::invalid(path.clone(), raw, msg));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::json;

    #[test]
    fn addresses_and_ports() {
        let ep = |ip: &str| {
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]})
        };
        let (stored, errs) = create("endpoints", ep("10.1.2.3"));
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["subsets"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(
            create_error("endpoints", ep("127.0.0.1")),
            "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
        );
    }
}
