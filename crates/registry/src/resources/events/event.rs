//! Event (events.k8s.io/v1): the rules of `events`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::events::v1::Event;

/// The rules of Event objects.
pub struct EventStrategy;

impl TypedStrategy for EventStrategy {
    type Object = Event;
}
