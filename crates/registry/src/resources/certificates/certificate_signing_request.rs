//! CertificateSigningRequest (certificates.k8s.io/v1): the rules of `certificatesigningrequests`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;

/// The rules of CertificateSigningRequest objects.
pub struct CertificateSigningRequestStrategy;

impl TypedStrategy for CertificateSigningRequestStrategy {
    type Object = CertificateSigningRequest;
}
