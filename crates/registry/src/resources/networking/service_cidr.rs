//! ServiceCIDR (networking.k8s.io/v1): the rules of `servicecidrs`.
//!
//! Upstream (`ValidateServiceCIDR`): one or two CIDRs, of different IP families; an update may
//! only add the second family to a single-family range.

use super::net::{CIDR_MSG, Cidr};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::networking::v1::ServiceCIDR;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of ServiceCIDR objects.
pub struct ServiceCIDRStrategy;

impl TypedStrategy for ServiceCIDRStrategy {
    type Object = ServiceCIDR;
    const GENERATION: Generation = Generation::Spec;

    fn validate(&self, obj: &ServiceCIDR) -> ErrorList {
        validate_cidrs(&cidrs(obj), &FieldPath::new("spec").child("cidrs"))
    }

    fn validate_update(&self, new: &ServiceCIDR, old: &ServiceCIDR) -> ErrorList {
        let (new_cidrs, old_cidrs) = (cidrs(new), cidrs(old));
        let mut errs = self.validate(new);
        let path = FieldPath::new("spec").child("cidrs");
        let extends_single =
            old_cidrs.len() == 1 && new_cidrs.len() == 2 && new_cidrs[0] == old_cidrs[0];
        if new_cidrs != old_cidrs && !extends_single {
            errs.push(FieldError::invalid(
                path,
                go_slice(&new_cidrs),
                "field is immutable",
            ));
        }
        errs
    }
}

/// The ranges of a ServiceCIDR.
fn cidrs(obj: &ServiceCIDR) -> Vec<String> {
    obj.spec
        .as_ref()
        .and_then(|s| s.cidrs.clone())
        .unwrap_or_default()
}

/// Go's `%#v` of a `[]string`.
fn go_slice(values: &[String]) -> Value {
    let quoted: Vec<String> = values.iter().map(|s| Value::quote(s)).collect();
    Value::Raw(format!("[]string{{{}}}", quoted.join(", ")))
}

/// One or two valid CIDRs; two must be of different families.
fn validate_cidrs(cidrs: &[String], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if cidrs.is_empty() {
        errs.push(FieldError::required(
            path.clone(),
            "at least one CIDR required",
        ));
        return errs;
    }
    if cidrs.len() > 2 {
        errs.push(FieldError::invalid(
            path.clone(),
            go_slice(cidrs),
            "may only hold up to 2 values",
        ));
        return errs;
    }
    let parsed: Vec<Option<Cidr>> = cidrs.iter().map(|c| Cidr::parse(c)).collect();
    for (i, (cidr, p)) in cidrs.iter().zip(&parsed).enumerate() {
        if p.is_none() {
            errs.push(FieldError::invalid(path.index(i), cidr.as_str(), CIDR_MSG));
        }
    }
    if let [Some(a), Some(b)] = parsed.as_slice()
        && a.addr.is_ipv4() == b.addr.is_ipv4()
    {
        errs.push(FieldError::invalid(path.clone(), go_slice(cidrs), "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cidr(list: serde_json::Value) -> ServiceCIDR {
        serde_json::from_value(json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": list}}))
            .unwrap()
    }

    #[test]
    fn one_or_two_families() {
        assert!(
            ServiceCIDRStrategy
                .validate(&cidr(json!(["10.96.0.0/12", "fd00::/108"])))
                .is_empty()
        );
        assert_eq!(
            ServiceCIDRStrategy
                .validate(&cidr(json!(["10.96.0.0/12", "10.0.0.0/8"])))
                .len(),
            1
        );
        assert_eq!(
            ServiceCIDRStrategy
                .validate(&cidr(json!(["nope"])))
                .aggregate_message(),
            r#"spec.cidrs[0]: Invalid value: "nope": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#
        );
        let old = cidr(json!(["10.96.0.0/12"]));
        assert!(
            ServiceCIDRStrategy
                .validate_update(&cidr(json!(["10.96.0.0/12", "fd00::/108"])), &old)
                .is_empty()
        );
        assert_eq!(
            ServiceCIDRStrategy
                .validate_update(&cidr(json!(["10.0.0.0/16"])), &old)
                .len(),
            1
        );
    }
}
