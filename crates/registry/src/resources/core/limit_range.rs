//! LimitRange (v1): the rules of `limitranges`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::LimitRange;

/// The rules of LimitRange objects.
pub struct LimitRangeStrategy;

impl TypedStrategy for LimitRangeStrategy {
    type Object = LimitRange;
}
