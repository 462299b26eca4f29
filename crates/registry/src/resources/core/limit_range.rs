//! LimitRange (v1): the rules of `limitranges`: container limits default from `max`, default
//! requests from the default limits or `min` (upstream's `SetDefaults_LimitRangeItem`), and
//! each item's min <= default request <= default <= max.

use super::resources::{
    validate_container_resource_name, validate_resource_list, validate_resource_name,
};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use rkube_machinery::quantity::Quantity;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::{BTreeMap, BTreeSet};

/// The rules of LimitRange objects.
pub struct LimitRangeStrategy;

impl TypedStrategy for LimitRangeStrategy {
    type Object = LimitRange;

    fn default(&self, lr: &mut LimitRange) {
        for item in lr.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
            if item.type_ == "Container" {
                default_container_item(item);
            }
        }
    }

    fn validate(&self, lr: &LimitRange) -> ErrorList {
        let path = FieldPath::new("spec").child("limits");
        let mut errs = ErrorList::new();
        let mut types = BTreeSet::new();
        for (i, item) in lr.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
            let p = path.index(i);
            errs.extend(validate_type(&item.type_, &p.child("type")));
            if !types.insert(item.type_.as_str()) {
                errs.push(FieldError::duplicate(p.child("type"), item.type_.as_str()));
            }
            errs.extend(validate_item(item, &p));
        }
        errs
    }
}

fn fill(
    into: &mut Option<BTreeMap<String, ApiQuantity>>,
    from: Option<&BTreeMap<String, ApiQuantity>>,
) {
    for (k, q) in from.into_iter().flatten() {
        into.get_or_insert_default()
            .entry(k.clone())
            .or_insert_with(|| q.clone());
    }
}

fn default_container_item(item: &mut LimitRangeItem) {
    let max = item.max.clone();
    fill(&mut item.default, max.as_ref());
    let default = item.default.clone();
    fill(&mut item.default_request, default.as_ref());
    let min = item.min.clone();
    fill(&mut item.default_request, min.as_ref());
}

fn validate_type(ty: &str, path: &FieldPath) -> ErrorList {
    let mut errs = v::validate_qualified_name(ty, path);
    if errs.is_empty()
        && !ty.contains('/')
        && !["Pod", "Container", "PersistentVolumeClaim"].contains(&ty)
    {
        errs.push(FieldError::invalid(
            path.clone(),
            ty,
            "must be a standard limit type or fully qualified",
        ));
    }
    errs
}

fn validate_item(item: &LimitRangeItem, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let name_rule: fn(&str, &FieldPath) -> ErrorList =
        if matches!(item.type_.as_str(), "Pod" | "Container") {
            validate_container_resource_name
        } else {
            validate_resource_name
        };
    let max = validate_resource_list(item.max.as_ref(), &p.child("max"), name_rule, &mut errs);
    let min = validate_resource_list(item.min.as_ref(), &p.child("min"), name_rule, &mut errs);
    let (mut default, mut default_request) = (BTreeMap::new(), BTreeMap::new());
    if item.type_ == "Pod" {
        for (field, list) in [
            ("default", &item.default),
            ("defaultRequest", &item.default_request),
        ] {
            if list.as_ref().is_some_and(|l| !l.is_empty()) {
                errs.push(FieldError::forbidden(
                    p.child(field),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
    } else {
        default = validate_resource_list(
            item.default.as_ref(),
            &p.child("default"),
            name_rule,
            &mut errs,
        );
        default_request = validate_resource_list(
            item.default_request.as_ref(),
            &p.child("defaultRequest"),
            name_rule,
            &mut errs,
        );
    }
    if item.type_ == "PersistentVolumeClaim"
        && !min.contains_key("storage")
        && !max.contains_key("storage")
    {
        errs.push(FieldError::required(
            p.child("limits"),
            "either minimum or maximum storage value is required, but neither was provided",
        ));
    }
    let ratio = validate_resource_list(
        item.max_limit_request_ratio.as_ref(),
        &p.child("maxLimitRequestRatio"),
        name_rule,
        &mut errs,
    );
    let keys: BTreeSet<&String> = max
        .keys()
        .chain(min.keys())
        .chain(default.keys())
        .chain(default_request.keys())
        .chain(ratio.keys())
        .collect();
    for k in keys {
        errs.extend(compare(
            k,
            &Bounds {
                min: min.get(k),
                max: max.get(k),
                default: default.get(k),
                request: default_request.get(k),
                ratio: ratio.get(k),
            },
            p,
        ));
    }
    errs
}

struct Bounds<'a> {
    min: Option<&'a Quantity>,
    max: Option<&'a Quantity>,
    default: Option<&'a Quantity>,
    request: Option<&'a Quantity>,
    ratio: Option<&'a Quantity>,
}

fn compare(k: &str, b: &Bounds<'_>, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut check = |cond: bool, field: &str, value: &Quantity, msg: String| {
        if cond {
            errs.push(FieldError::invalid(
                p.child(field).key(k),
                value.canonical(),
                msg,
            ));
        }
    };
    if let (Some(min), Some(max)) = (b.min, b.max) {
        check(
            min > max,
            "min",
            min,
            format!("min value {min} is greater than max value {max}"),
        );
    }
    if let (Some(req), Some(min)) = (b.request, b.min) {
        check(
            min > req,
            "defaultRequest",
            req,
            format!("min value {min} is greater than default request value {req}"),
        );
    }
    if let (Some(req), Some(max)) = (b.request, b.max) {
        check(
            req > max,
            "defaultRequest",
            req,
            format!("default request value {req} is greater than max value {max}"),
        );
    }
    if let (Some(req), Some(def)) = (b.request, b.default) {
        check(
            req > def,
            "defaultRequest",
            req,
            format!("default request value {req} is greater than default limit value {def}"),
        );
    }
    if let (Some(def), Some(min)) = (b.default, b.min) {
        check(
            min > def,
            "default",
            min,
            format!("min value {min} is greater than default value {def}"),
        );
    }
    if let (Some(def), Some(max)) = (b.default, b.max) {
        check(
            def > max,
            "default",
            max,
            format!("default value {def} is greater than max value {max}"),
        );
    }
    if let Some(ratio) = b.ratio {
        check(
            *ratio < Quantity::from_units(1),
            "maxLimitRequestRatio",
            ratio,
            format!("ratio {ratio} is less than 1"),
        );
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::{Value, json};

    fn lr(item: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}, "spec": {"limits": [item]}})
    }

    #[test]
    fn container_defaults_and_ordering() {
        let (stored, errs) = create(
            "limitranges",
            lr(json!({"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "1Mi"}})),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        let item = &stored["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "1"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "1", "memory": "1Mi"}));
        assert_eq!(
            create_error(
                "limitranges",
                lr(json!({"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}}))
            ),
            "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"
        );
    }
}
