//! ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1): the rules of `validatingadmissionpolicies`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;

/// The rules of ValidatingAdmissionPolicy objects.
pub struct ValidatingAdmissionPolicyStrategy;

impl TypedStrategy for ValidatingAdmissionPolicyStrategy {
    type Object = ValidatingAdmissionPolicy;
}
