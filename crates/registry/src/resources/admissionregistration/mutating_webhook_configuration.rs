//! MutatingWebhookConfiguration (admissionregistration.k8s.io/v1): the rules of `mutatingwebhookconfigurations`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;

/// The rules of MutatingWebhookConfiguration objects.
pub struct MutatingWebhookConfigurationStrategy;

impl TypedStrategy for MutatingWebhookConfigurationStrategy {
    type Object = MutatingWebhookConfiguration;
}
