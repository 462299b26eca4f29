//! The parts of an object that its field selectors read, without decoding the rest.
//!
//! Every write of a selectable resource (a pod's binding, each status update) passes through
//! the watch cache, which records the object's field-selector values. Decoding a whole pod into
//! its typed struct to read `spec.nodeName` and `status.phase` cost more than the rest of the
//! write's bookkeeping, so the values are read from a *pruned* copy: only the JSON paths a
//! resource's [`crate::strategy::TypedStrategy::field_values`] reads are kept, everything else is
//! skipped by the parser without being built.
//!
//! Paths are dotted JSON field names (`spec.nodeName`); a path keeps the whole value found
//! there, whatever its shape (`status.podIPs` keeps the list).

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// The object in `json` with only the fields on `paths` (and the objects leading to them).
pub fn read(json: &[u8], paths: &[&str]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = Pruned { paths, offset: 0 }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A copy of `value` with only the fields on `paths`, as [`read`] gives for its JSON form.
pub fn select(value: &Value, paths: &[&str]) -> Value {
    select_at(value, paths, 0)
}

fn select_at(value: &Value, paths: &[&str], offset: usize) -> Value {
    let Value::Object(fields) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in fields {
        match wanted(paths, offset, key) {
            Wanted::No => {}
            Wanted::Whole => {
                out.insert(key.clone(), v.clone());
            }
            Wanted::Below(sub) => {
                out.insert(key.clone(), select_at(v, &sub, offset + key.len() + 1));
            }
        }
    }
    Value::Object(out)
}

/// What to keep of the value under `key`, for `paths` whose first `offset` bytes are the
/// current object's own path (with its trailing dot).
enum Wanted<'p> {
    No,
    Whole,
    Below(Vec<&'p str>),
}

fn wanted<'p>(paths: &[&'p str], offset: usize, key: &str) -> Wanted<'p> {
    let mut below = Vec::new();
    for p in paths {
        let Some(rest) = p.get(offset..).and_then(|r| r.strip_prefix(key)) else {
            continue;
        };
        if rest.is_empty() {
            return Wanted::Whole;
        }
        if rest.starts_with('.') {
            below.push(*p);
        }
    }
    if below.is_empty() {
        Wanted::No
    } else {
        Wanted::Below(below)
    }
}

/// Deserializes one value, keeping only the fields on `paths` of the objects within it.
struct Pruned<'p> {
    paths: &'p [&'p str],
    offset: usize,
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            match wanted(self.paths, self.offset, &key) {
                Wanted::No => {
                    map.next_value::<IgnoredAny>()?;
                }
                Wanted::Whole => {
                    let v = map.next_value::<Value>()?;
                    out.insert(key.into_owned(), v);
                }
                Wanted::Below(sub) => {
                    let v = map.next_value_seed(Pruned {
                        paths: &sub,
                        offset: self.offset + key.len() + 1,
                    })?;
                    out.insert(key.into_owned(), v);
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the input when it holds no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATHS: &[&str] = &["spec.nodeName", "status.podIPs", "status.phase", "type"];

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1",
                     "nodeNameX": "no", "node": {"Name": "no"}},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}],
                       "conditions": [{"type": "Ready"}]},
            "type": {"nested": [1, 2.5, true, null, "x"]},
        })
    }

    fn expected() -> Value {
        json!({
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]},
            "type": {"nested": [1, 2.5, true, null, "x"]},
        })
    }

    #[test]
    fn keeps_only_the_paths_and_what_leads_to_them() {
        let bytes = serde_json::to_vec(&pod()).unwrap();
        assert_eq!(read(&bytes, PATHS).unwrap(), expected());
        assert_eq!(select(&pod(), PATHS), expected());
    }

    #[test]
    fn escaped_keys_and_odd_shapes() {
        let bytes = br#"{"sp\u0065c": {"nodeName": "n"}, "status": "not an object", "x": [{}]}"#;
        assert_eq!(
            read(bytes, PATHS).unwrap(),
            json!({"spec": {"nodeName": "n"}, "status": "not an object"})
        );
        assert!(read(b"{\"spec\": ", PATHS).is_err());
        assert_eq!(read(b"[1]", PATHS).unwrap(), json!([1]));
    }
}
