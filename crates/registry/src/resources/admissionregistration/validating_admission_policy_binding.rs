//! ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1): the rules of `validatingadmissionpolicybindings`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;

/// The rules of ValidatingAdmissionPolicyBinding objects.
pub struct ValidatingAdmissionPolicyBindingStrategy;

impl TypedStrategy for ValidatingAdmissionPolicyBindingStrategy {
    type Object = ValidatingAdmissionPolicyBinding;
}
