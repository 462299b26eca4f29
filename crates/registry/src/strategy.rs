//! The per-resource rules, and the adapter that lets the generic handler apply them to JSON.
//!
//! A resource's rules are written against its typed k8s-openapi struct by implementing
//! [`TypedStrategy`]: defaulting, preparation for create and update (for example resetting
//! fields users may not set), validation, and the fields its field selectors understand. The API
//! server works on JSON values; [`Typed`] adapts a typed strategy to the object-safe [`Strategy`]
//! by decoding into the struct (which also drops unknown fields, as upstream's decoder does),
//! running the rules and encoding the result.

use crate::catalog::ResourceInfo;
use crate::meta;
use k8s_openapi::Metadata as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rkube_machinery::ErrorList;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// When `metadata.generation` is bumped on update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// The resource has no generation (ConfigMap, Secret, Event, ...).
    None,
    /// Bumped when anything outside `metadata` and `status` changes (the spec).
    Spec,
    /// Bumped on spec changes and on annotation changes (Deployments, whose annotations are
    /// copied to their ReplicaSets).
    SpecAndAnnotations,
}

/// Which rule an object's name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain (most resources).
    Subdomain,
    /// A DNS-1123 label (namespaces, services).
    Label,
    /// Any string that is a valid path segment (RBAC objects, and others upstream allows so).
    PathSegment,
    /// A DNS-1035 label (services: must start with a letter).
    Dns1035Label,
}

/// The result of decoding a request body into a resource's canonical form.
#[derive(Debug)]
pub struct Decoded {
    /// The object, with every field the type does not know removed.
    pub object: Value,
    /// Paths of the fields that were removed (`spec.replicass`), for `fieldValidation=Strict|Warn`.
    pub unknown_fields: Vec<String>,
}

/// The object-safe rules of one resource, over JSON values. Implemented by [`Typed`].
pub trait Strategy: Send + Sync {
    fn info(&self) -> &'static ResourceInfo;

    /// When generation is bumped.
    fn generation(&self) -> Generation;

    /// Decode a body (whose apiVersion and kind were checked) into the canonical form.
    fn decode(&self, object: Value) -> Result<Decoded, String>;

    /// Default, prepare and validate a new object. `object` is already decoded; metadata set by
    /// the server (uid, creationTimestamp, namespace) is in place. Returns the validation errors.
    ///
    /// `observe`, when given, sees the object as upstream's decoder leaves it: defaulted, but
    /// before `PrepareForCreate` (what the field manager records, as upstream's does).
    fn create(&self, object: &mut Value, observe: Option<&mut dyn FnMut(&Value)>) -> ErrorList;

    /// Default, prepare and validate an update of `old` to `new`; `observe` sees the defaulted
    /// object before `PrepareForUpdate`, as for [`Strategy::create`].
    fn update(
        &self,
        new: &mut Value,
        old: &Value,
        observe: Option<&mut dyn FnMut(&Value)>,
    ) -> ErrorList;

    /// The field-selector fields of an object beyond `metadata.name` and `metadata.namespace`
    /// (pods: `spec.nodeName`, `status.phase`, ...).
    fn selectable_fields(&self, object: &Value) -> Vec<(&'static str, String)>;

    /// [`Strategy::selectable_fields`] of an object given as JSON (how the watch cache holds
    /// it): resources without fields beyond name and namespace never parse it.
    fn selectable_fields_of_json(&self, json: &[u8]) -> Vec<(&'static str, String)>;

    /// Whether `field` is a field selector this resource understands.
    fn supports_field(&self, field: &str) -> bool;
}

/// A resource's rules written against its typed struct.
pub trait TypedStrategy: Send + Sync + 'static {
    type Object: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static;

    /// When generation is bumped; resources with a spec use [`Generation::Spec`].
    const GENERATION: Generation = Generation::None;

    /// The rule names follow.
    const NAME_RULE: NameRule = NameRule::Subdomain;

    /// Field selectors beyond metadata.name and metadata.namespace.
    const FIELDS: &'static [&'static str] = &[];

    /// The JSON paths [`TypedStrategy::field_values`] reads (see [`crate::field_source`]);
    /// empty means the top-level fields named by [`TypedStrategy::FIELDS`], whole. Resources
    /// with large objects name exactly what they read, so a write decodes only that.
    const FIELD_SOURCES: &'static [&'static str] = &[];

    /// Upstream's defaulting (`SetDefaults_*`), applied on create and update.
    fn default(&self, _obj: &mut Self::Object) {}

    /// Changes the server makes to a new object before validation (`PrepareForCreate`).
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// Changes the server makes to an update before validation (`PrepareForUpdate`).
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// Validation of a new object, beyond the generic metadata rules.
    fn validate(&self, _obj: &Self::Object) -> ErrorList {
        ErrorList::new()
    }

    /// Validation of an update (immutable fields), beyond the generic metadata rules. By
    /// default the new object must simply be valid.
    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> ErrorList {
        self.validate(new)
    }

    /// The values of [`Self::FIELDS`] for an object.
    fn field_values(&self, _obj: &Self::Object) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Adapts a [`TypedStrategy`] to [`Strategy`].
pub struct Typed<S> {
    pub info: &'static ResourceInfo,
    pub rules: S,
}

impl<S: TypedStrategy> Typed<S> {
    /// What [`crate::field_source`] keeps of an object for its field-selector values.
    fn field_sources() -> Vec<&'static str> {
        if !S::FIELD_SOURCES.is_empty() {
            return S::FIELD_SOURCES.to_vec();
        }
        let mut tops: Vec<&'static str> = S::FIELDS
            .iter()
            .map(|f| f.split_once('.').map_or(*f, |(top, _)| top))
            .collect();
        tops.dedup();
        tops
    }

    fn parse_typed(&self, v: &Value) -> Result<S::Object, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }

    fn to_value(obj: &S::Object) -> Value {
        serde_json::to_value(obj).expect("k8s-openapi types always serialize")
    }

    /// Let `observe` see the defaulted object in its JSON form.
    fn show_defaulted(typed: &S::Object, observe: Option<&mut dyn FnMut(&Value)>) {
        if let Some(observe) = observe {
            let mut value = Self::to_value(typed);
            Self::fill_zero_fields(&mut value);
            observe(&value);
        }
    }

    /// Write the empty fields upstream's Go encoding always shows (see [`crate::zero_fields`]).
    fn fill_zero_fields(object: &mut Value) {
        use k8s_openapi::Resource;
        if let Some(node) =
            crate::patch_meta::Node::of_kind(S::Object::GROUP, S::Object::VERSION, S::Object::KIND)
        {
            crate::zero_fields::fill(object, node);
        }
    }
}

impl<S: TypedStrategy> Strategy for Typed<S> {
    fn info(&self) -> &'static ResourceInfo {
        self.info
    }

    fn generation(&self) -> Generation {
        S::GENERATION
    }

    fn decode(&self, mut object: Value) -> Result<Decoded, String> {
        let typed: S::Object = match serde_json::from_value(object.clone()) {
            Ok(t) => t,
            Err(e) => {
                // Base64 fields are what Go's decoder and k8s-openapi's disagree on: answer
                // with Go's error, or retry with the values Go accepts in canonical form.
                use k8s_openapi::Resource;
                let node = crate::patch_meta::Node::of_kind(
                    S::Object::GROUP,
                    S::Object::VERSION,
                    S::Object::KIND,
                );
                if let Some(node) = node {
                    crate::byte_fields::canonicalize(&mut object, node)?;
                }
                serde_json::from_value(object.clone()).map_err(|_| e.to_string())?
            }
        };
        let out = Self::to_value(&typed);
        let mut unknown_fields = Vec::new();
        unknown_paths(&object, &out, "", &mut unknown_fields);
        Ok(Decoded {
            object: out,
            unknown_fields,
        })
    }

    fn create(&self, object: &mut Value, observe: Option<&mut dyn FnMut(&Value)>) -> ErrorList {
        let mut typed = match self.parse_typed(object) {
            Ok(t) => t,
            Err(e) => return decode_error(e),
        };
        self.rules.default(&mut typed);
        Self::show_defaulted(&typed, observe);
        self.rules.prepare_for_create(&mut typed);
        let mut errs =
            meta::validate_object_meta(typed.metadata(), self.info.namespaced, S::NAME_RULE);
        errs.extend(self.rules.validate(&typed));
        *object = Self::to_value(&typed);
        Self::fill_zero_fields(object);
        errs
    }

    fn update(
        &self,
        new: &mut Value,
        old: &Value,
        observe: Option<&mut dyn FnMut(&Value)>,
    ) -> ErrorList {
        let (mut typed, old_typed) = match (self.parse_typed(new), self.parse_typed(old)) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(e), _) | (_, Err(e)) => return decode_error(e),
        };
        self.rules.default(&mut typed);
        Self::show_defaulted(&typed, observe);
        meta::prepare_object_meta_update(typed.metadata_mut(), old_typed.metadata());
        self.rules.prepare_for_update(&mut typed, &old_typed);
        let mut errs =
            meta::validate_object_meta(typed.metadata(), self.info.namespaced, S::NAME_RULE);
        errs.extend(meta::validate_object_meta_update(
            typed.metadata(),
            old_typed.metadata(),
        ));
        errs.extend(self.rules.validate_update(&typed, &old_typed));
        *new = Self::to_value(&typed);
        Self::fill_zero_fields(new);
        errs
    }

    fn selectable_fields(&self, object: &Value) -> Vec<(&'static str, String)> {
        if S::FIELDS.is_empty() {
            return Vec::new();
        }
        let pruned = crate::field_source::select(object, &Self::field_sources());
        match serde_json::from_value::<S::Object>(pruned) {
            Ok(t) => self.rules.field_values(&t),
            Err(_) => Vec::new(),
        }
    }

    fn selectable_fields_of_json(&self, json: &[u8]) -> Vec<(&'static str, String)> {
        if S::FIELDS.is_empty() {
            return Vec::new();
        }
        let pruned = crate::field_source::read(json, &Self::field_sources());
        match pruned.and_then(serde_json::from_value::<S::Object>) {
            Ok(t) => self.rules.field_values(&t),
            Err(_) => Vec::new(),
        }
    }

    fn supports_field(&self, field: &str) -> bool {
        field == "metadata.name"
            || (field == "metadata.namespace" && self.info.namespaced)
            || S::FIELDS.contains(&field)
    }
}

fn decode_error(e: String) -> ErrorList {
    let mut errs = ErrorList::new();
    errs.push(rkube_machinery::FieldError::internal(
        rkube_machinery::FieldPath::new(""),
        e,
    ));
    errs
}

/// Collect paths present (and non-null) in `input` but absent from `decoded`.
fn unknown_paths(input: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (input, decoded) {
        (Value::Object(i), Value::Object(d)) => {
            for (k, v) in i {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match d.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(dv) => unknown_paths(v, dv, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(i), Value::Array(d)) => {
            for (idx, (iv, dv)) in i.iter().zip(d.iter()).enumerate() {
                unknown_paths(iv, dv, &format!("{path}[{idx}]"), out);
            }
        }
        _ => {}
    }
}

/// Box a typed strategy for `info`.
pub fn typed<S: TypedStrategy>(info: &'static ResourceInfo, rules: S) -> Box<dyn Strategy> {
    Box::new(Typed { info, rules })
}

/// The strategy of a resource, by group and plural name.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    if !info.is_stored() {
        return None;
    }
    crate::resources::lookup(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let input = json!({"spec": {"replicass": 1, "known": {"x": 1}}, "list": [{"a": 1, "b": 2}], "n": null});
        let decoded = json!({"spec": {"known": {}}, "list": [{"a": 1}]});
        let mut out = Vec::new();
        unknown_paths(&input, &decoded, "", &mut out);
        assert_eq!(out, vec!["spec.replicass", "spec.known.x", "list[0].b"]);
    }
}
