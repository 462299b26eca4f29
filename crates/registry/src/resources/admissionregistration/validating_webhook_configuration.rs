//! ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1): the rules of `validatingwebhookconfigurations`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;

/// The rules of ValidatingWebhookConfiguration objects.
pub struct ValidatingWebhookConfigurationStrategy;

impl TypedStrategy for ValidatingWebhookConfigurationStrategy {
    type Object = ValidatingWebhookConfiguration;
}
