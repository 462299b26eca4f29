//! Resources of the `certificates.k8s.io` API group.

pub mod certificate_signing_request;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "certificatesigningrequests") => Some(typed(
            info,
            certificate_signing_request::CertificateSigningRequestStrategy,
        )),
        _ => None,
    }
}
