//! IPAddress (networking.k8s.io/v1): the rules of `ipaddresses`.
//!
//! Upstream (`ValidateIPAddress`): the name is the address itself, in canonical form, and
//! the object names the resource (a Service) that holds it; that reference never changes.

use super::net::IP_MSG;
use crate::resources::apps::shared::IMMUTABLE_MSG;
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::networking::v1::{IPAddress, ParentReference};
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};
use std::net::IpAddr;

/// The rules of IPAddress objects.
pub struct IPAddressStrategy;

impl TypedStrategy for IPAddressStrategy {
    type Object = IPAddress;
    /// The name is checked as an address below rather than as a DNS name.
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self, obj: &IPAddress) -> ErrorList {
        let mut errs = validate_name(obj.metadata.name.as_deref().unwrap_or(""));
        let parent = obj
            .spec
            .as_ref()
            .map(|s| s.parent_ref.clone())
            .unwrap_or_default();
        errs.extend(validate_parent(
            &parent,
            &FieldPath::new("spec").child("parentRef"),
        ));
        errs
    }

    fn validate_update(&self, new: &IPAddress, old: &IPAddress) -> ErrorList {
        let mut errs = self.validate(new);
        let parent = |o: &IPAddress| o.spec.as_ref().map(|s| s.parent_ref.clone());
        if parent(new) != parent(old) {
            errs.push(FieldError::invalid(
                FieldPath::new("spec").child("parentRef"),
                Value::Raw("&networking.ParentReference{...}".into()),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

/// The name must be an IP address written canonically (`2001:db8::1`, not `2001:db8:0::1`).
fn validate_name(name: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("metadata").child("name");
    match name.parse::<IpAddr>() {
        Err(_) => errs.push(FieldError::invalid(path, name, IP_MSG)),
        Ok(ip) if ip.to_string() != name => {
            errs.push(FieldError::invalid(
                path,
                name,
                format!("must be in canonical form (\"{ip}\")"),
            ));
        }
        Ok(_) => {}
    }
    errs
}

/// The holder's resource and name are required.
fn validate_parent(parent: &ParentReference, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if parent.resource.is_empty() {
        errs.push(FieldError::required(path.child("resource"), ""));
    }
    if parent.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_canonical_addresses() {
        let ip: IPAddress = serde_json::from_value(json!({"metadata": {"name": "10.96.0.10"}, "spec": {"parentRef": {"resource": "services", "name": "dns", "namespace": "kube-system"}}})).unwrap();
        assert!(IPAddressStrategy.validate(&ip).is_empty());
        let bad: IPAddress =
            serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"parentRef": {}}}))
                .unwrap();
        assert_eq!(IPAddressStrategy.validate(&bad).len(), 3);
    }
}
