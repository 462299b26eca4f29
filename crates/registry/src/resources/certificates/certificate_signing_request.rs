//! CertificateSigningRequest (certificates.k8s.io/v1): the rules of `certificatesigningrequests`.
//!
//! Upstream (`ValidateCertificateSigningRequestCreate`, `pkg/apis/certificates/validation`):
//! a request and a signer are required; clients can select requests by signer
//! (`spec.signerName`), which is how signers find their work.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of CertificateSigningRequest objects.
pub struct CertificateSigningRequestStrategy;

impl TypedStrategy for CertificateSigningRequestStrategy {
    type Object = CertificateSigningRequest;
    const FIELDS: &'static [&'static str] = &["spec.signerName"];

    fn validate(&self, obj: &CertificateSigningRequest) -> ErrorList {
        let mut errs = ErrorList::new();
        let path = FieldPath::new("spec");
        if obj.spec.request.0.is_empty() {
            errs.push(FieldError::required(path.child("request"), ""));
        }
        if obj.spec.signer_name.is_empty() {
            errs.push(FieldError::required(path.child("signerName"), ""));
        }
        if let Some(seconds) = obj.spec.expiration_seconds.filter(|s| *s < 600) {
            errs.push(FieldError::invalid(
                path.child("expirationSeconds"),
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
        errs
    }

    fn field_values(&self, obj: &CertificateSigningRequest) -> Vec<(&'static str, String)> {
        vec![("spec.signerName", obj.spec.signer_name.clone())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_and_signer_required() {
        let csr: CertificateSigningRequest = serde_json::from_value(
            json!({"metadata": {"name": "c"}, "spec": {"request": "", "signerName": ""}}),
        )
        .unwrap();
        let msgs: Vec<String> = CertificateSigningRequestStrategy
            .validate(&csr)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "spec.request: Required value",
                "spec.signerName: Required value"
            ]
        );
        assert_eq!(
            CertificateSigningRequestStrategy.field_values(&csr),
            vec![("spec.signerName", String::new())]
        );
    }
}
