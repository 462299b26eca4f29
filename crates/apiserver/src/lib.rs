//! placeholder

pub mod authn;
pub mod pki;
pub mod serve;
