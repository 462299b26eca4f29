//! EndpointSlice (discovery.k8s.io/v1): the rules of `endpointslices`.
//!
//! Upstream (`ValidateEndpointSlice`, `pkg/apis/discovery/validation`): a known address
//! type that never changes, and endpoints with at least one address.

use crate::resources::apps::shared::IMMUTABLE_MSG;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The address types a slice may hold.
const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];

/// The rules of EndpointSlice objects.
pub struct EndpointSliceStrategy;

impl TypedStrategy for EndpointSliceStrategy {
    type Object = EndpointSlice;
    /// Upstream bumps the generation whenever anything but metadata changes.
    const GENERATION: Generation = Generation::Spec;

    fn validate(&self, obj: &EndpointSlice) -> ErrorList {
        let mut errs = ErrorList::new();
        if !ADDRESS_TYPES.contains(&obj.address_type.as_str()) {
            errs.push(FieldError::not_supported(
                FieldPath::new("addressType"),
                obj.address_type.as_str(),
                &ADDRESS_TYPES,
            ));
        }
        for (i, endpoint) in obj.endpoints.iter().enumerate() {
            if endpoint.addresses.is_empty() {
                errs.push(FieldError::required(
                    FieldPath::new("endpoints").index(i).child("addresses"),
                    "must contain at least 1 address",
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &EndpointSlice, old: &EndpointSlice) -> ErrorList {
        let mut errs = self.validate(new);
        if new.address_type != old.address_type {
            errs.push(FieldError::invalid(
                FieldPath::new("addressType"),
                new.address_type.as_str(),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(address_type: &str) -> EndpointSlice {
        serde_json::from_value(json!({"metadata": {"name": "s", "namespace": "default"}, "addressType": address_type, "endpoints": [{"addresses": ["10.0.0.1"]}]})).unwrap()
    }

    #[test]
    fn address_type_is_known_and_fixed() {
        assert!(EndpointSliceStrategy.validate(&slice("IPv4")).is_empty());
        assert_eq!(
            EndpointSliceStrategy
                .validate(&slice("ipv4"))
                .aggregate_message(),
            r#"addressType: Unsupported value: "ipv4": supported values: "FQDN", "IPv4", "IPv6""#
        );
        assert_eq!(
            EndpointSliceStrategy
                .validate_update(&slice("IPv6"), &slice("IPv4"))
                .aggregate_message(),
            r#"addressType: Invalid value: "IPv6": field is immutable"#
        );
    }
}
