//! What rkube serves and the rules each resource follows.
//!
//! [`catalog`] lists every built-in resource of Kubernetes v1.33 with its discovery facts
//! (kind, scope, verbs, short names, categories, subresources). [`strategy`] is the contract of
//! a resource's rules (defaulting, validation, field selectors, generation), implemented once per
//! resource in the per-group modules ([`core`], [`apps`], ...), like upstream's
//! `pkg/registry/<group>/<resource>/strategy.go`. The API server's generic handler applies the
//! rules; [`strategy_for`] finds a resource's strategy.

pub mod byte_fields;
pub mod catalog;
pub mod conversion;
pub mod discovery;
pub mod field_source;
pub mod meta;
pub mod openapi;
pub mod patch_meta;
pub mod printers;
pub mod resources;
pub mod strategy;
pub mod zero_fields;

pub use catalog::{GroupInfo, ResourceInfo, SubresourceInfo};
pub use strategy::{Generation, Strategy, TypedStrategy};

/// The strategy of a served resource, or `None` for resources that are not stored objects.
pub fn strategy_for(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    strategy::lookup(info)
}
