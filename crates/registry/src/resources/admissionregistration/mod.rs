//! Resources of the `admissionregistration.k8s.io` API group.

pub mod mutating_webhook_configuration;
pub mod validating_admission_policy;
pub mod validating_admission_policy_binding;
pub mod validating_webhook_configuration;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "mutatingwebhookconfigurations") => Some(typed(
            info,
            mutating_webhook_configuration::MutatingWebhookConfigurationStrategy,
        )),
        ("v1", "validatingadmissionpolicies") => Some(typed(
            info,
            validating_admission_policy::ValidatingAdmissionPolicyStrategy,
        )),
        ("v1", "validatingadmissionpolicybindings") => Some(typed(
            info,
            validating_admission_policy_binding::ValidatingAdmissionPolicyBindingStrategy,
        )),
        ("v1", "validatingwebhookconfigurations") => Some(typed(
            info,
            validating_webhook_configuration::ValidatingWebhookConfigurationStrategy,
        )),
        _ => None,
    }
}
