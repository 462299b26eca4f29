//! FlowSchema (flowcontrol.apiserver.k8s.io/v1): the rules of `flowschemas`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::flowcontrol::v1::FlowSchema;

/// The rules of FlowSchema objects.
pub struct FlowSchemaStrategy;

impl TypedStrategy for FlowSchemaStrategy {
    type Object = FlowSchema;
}
