//! The client-side machinery every controller shares, on top of kube-runtime's watchers and
//! reflector stores: [`informer`] (one watch per resource type, a cache, and change
//! notifications that include deletions) and [`queue`] (a de-duplicating, rate-limited work
//! queue of object keys, as upstream's controllers use).

pub mod expectations;
pub mod informer;
pub mod queue;

pub use informer::{Change, Informer};
pub use queue::{Key, WorkQueue};
