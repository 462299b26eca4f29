//! Test helpers: run a core resource's strategy the way the API server does, on JSON.

use crate::catalog;
use rkube_machinery::ErrorList;
use serde_json::Value;

/// Decode, default, prepare and validate a new object of `plural`, with the namespace the
/// server would have set; returns the stored form and the errors.
pub fn create(plural: &str, mut object: Value) -> (Value, ErrorList) {
    let info = catalog::find("", "v1", plural).expect("core resource");
    let strategy = crate::strategy_for(info).expect("stored resource");
    if info.namespaced {
        object["metadata"]["namespace"] = Value::from("default");
    }
    let mut decoded = strategy.decode(object).expect("decodes").object;
    let errs = strategy.create(&mut decoded, None);
    (decoded, errs)
}

/// The aggregate error message of creating `object`, or "" when it is valid.
pub fn create_error(plural: &str, object: Value) -> String {
    let (_, errs) = create(plural, object);
    if errs.is_empty() {
        String::new()
    } else {
        errs.aggregate_message()
    }
}

/// Create `old` (which must be valid), then update it to `new`; returns the update's errors.
pub fn update_error(plural: &str, old: Value, new: Value) -> String {
    let info = catalog::find("", "v1", plural).expect("core resource");
    let strategy = crate::strategy_for(info).expect("stored resource");
    let (stored, errs) = create(plural, old);
    assert!(
        errs.is_empty(),
        "old object invalid: {}",
        errs.aggregate_message()
    );
    let mut new = strategy.decode(new).expect("decodes").object;
    if info.namespaced {
        new["metadata"]["namespace"] = Value::from("default");
    }
    let errs = strategy.update(&mut new, &stored, None);
    if errs.is_empty() {
        String::new()
    } else {
        errs.aggregate_message()
    }
}
