//! Kubernetes protobuf request bodies, decoded to the JSON the rkube API server works on.
//!
//! kubectl's imperative commands (`create configmap|secret|deployment|...`, `auth can-i`,
//! drain's evictions) go through client-go's typed clients, which send
//! `Content-Type: application/vnd.kubernetes.protobuf` and never retry with JSON. rkube handles
//! objects as JSON (the k8s-openapi form), so the server turns such a body into the JSON a
//! client would have sent for the same Go object and carries on as for a JSON request.
//!
//! A body is the 4-byte prefix `k8s\0` and a `runtime.Unknown` message: `typeMeta`
//! (apiVersion, kind), `raw` (the object's own message) and an optional content encoding. The
//! object messages are described by [`schema`], generated from k8s-pb and k8s-openapi by
//! `tools/gen_protobuf_schema.py`.
//!
//! Go writes every non-pointer field into protobuf, zeros included, while Go's JSON encoder
//! leaves zero `omitempty` fields out. [`decode`] therefore drops present zero scalars of
//! non-pointer fields (`"clusterIP": ""`, `"stdin": false`, `"generation": 0`) and keeps them
//! for pointer fields (`"replicas": 0`, `"automountServiceAccountToken": false`), giving the
//! JSON kubectl itself prints with `-o json`. [`decode_with`] can keep every present field.

#[rustfmt::skip]
pub mod schema;
mod time;
pub mod wire;

use base64::Engine as _;
use serde_json::{Map, Number, Value};
use wire::{Field, Kind, Message, Reader, Special, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT};

/// The prefix of every Kubernetes protobuf body, before the `runtime.Unknown` envelope.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The media type of Kubernetes protobuf.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Nesting limit for messages, so hostile input cannot exhaust the stack. Real objects nest
/// a few dozen levels at most (CRD schemas being the deepest).
const MAX_DEPTH: usize = 100;

/// Whether a content type is Kubernetes protobuf, so the server knows to [`decode`] the body
/// (parameters such as `; charset=` or `; stream=watch` are ignored, case does not matter).
pub fn is_protobuf(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case(CONTENT_TYPE)
}

/// How [`decode_with`] renders fields.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Keep present zero values of Go non-pointer fields (`""`, `false`, `0`) instead of
    /// dropping them as Go's JSON encoder would. Useful to see exactly what was on the wire.
    pub keep_zero_values: bool,
}

/// Why a protobuf body could not be decoded. The message says what to change: most clients
/// can send JSON instead, and a server answers these with 400 or 415.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The body does not start with `k8s\0`.
    BadMagic,
    /// The envelope names no kind.
    MissingTypeMeta,
    /// The envelope declares a content encoding (compression) this decoder does not apply.
    UnsupportedEncoding(String),
    /// The apiVersion/kind has no protobuf schema here (custom resources never do).
    UnknownKind {
        /// apiVersion from the envelope.
        api_version: String,
        /// kind from the envelope.
        kind: String,
    },
    /// The data ends in the middle of a field.
    Truncated {
        /// JSON path of the field being read (empty at the top level).
        path: String,
        /// What was being read.
        detail: String,
    },
    /// The data is not valid for the schema (wrong wire type, bad embedded JSON, ...).
    Malformed {
        /// JSON path of the field being read (empty at the top level).
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    pub(crate) fn truncated(detail: impl Into<String>) -> Self {
        DecodeError::Truncated {
            path: String::new(),
            detail: detail.into(),
        }
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        DecodeError::Malformed {
            path: String::new(),
            detail: detail.into(),
        }
    }

    /// Prefixes the error's path with a field name or `[index]`, on the way out of a field.
    fn within(mut self, segment: &str) -> Self {
        if let DecodeError::Truncated { path, .. } | DecodeError::Malformed { path, .. } = &mut self
            && !segment.is_empty()
        {
            let sep = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{segment}{sep}{path}");
        }
        self
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |path: &str| {
            if path.is_empty() {
                String::new()
            } else {
                format!(" at {path}")
            }
        };
        match self {
            DecodeError::BadMagic => write!(
                f,
                "the body is not Kubernetes protobuf: it does not start with the prefix \"k8s\\x00\" (send {CONTENT_TYPE} bodies as a runtime.Unknown envelope, or send application/json)"
            ),
            DecodeError::MissingTypeMeta => write!(
                f,
                "the protobuf envelope has no apiVersion/kind in its typeMeta, so the object cannot be decoded"
            ),
            DecodeError::UnsupportedEncoding(enc) => write!(
                f,
                "the protobuf envelope's content encoding {enc:?} is not supported; send the object uncompressed or as application/json"
            ),
            DecodeError::UnknownKind { api_version, kind } => write!(
                f,
                "kind {kind:?} of apiVersion {api_version:?} cannot be decoded from protobuf by this server; send it as application/json"
            ),
            DecodeError::Truncated { path, detail } => {
                write!(f, "the protobuf body is truncated{}: {detail}", at(path))
            }
            DecodeError::Malformed { path, detail } => {
                write!(f, "the protobuf body is malformed{}: {detail}", at(path))
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes an enveloped Kubernetes protobuf body into (apiVersion, kind, JSON object with
/// `apiVersion` and `kind` set), Go's JSON form of the same object.
pub fn decode(body: &[u8]) -> Result<(String, String, Value), DecodeError> {
    decode_with(body, &DecodeOptions::default())
}

/// [`decode`] with options.
pub fn decode_with(
    body: &[u8],
    options: &DecodeOptions,
) -> Result<(String, String, Value), DecodeError> {
    Decoder { options }.envelope(body, 0)
}

/// The message schema of an apiVersion/kind, if it can be decoded from protobuf.
/// `DeleteOptions` is found under any apiVersion, as every group version registers it.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static Message> {
    let index = match schema::KINDS.binary_search_by(|&(v, k, _)| (v, k).cmp(&(api_version, kind)))
    {
        Ok(i) => schema::KINDS[i].2,
        Err(_) if kind == "DeleteOptions" => schema::DELETE_OPTIONS,
        Err(_) => return None,
    };
    Some(&schema::MESSAGES[usize::from(index)])
}

struct Decoder<'o> {
    options: &'o DecodeOptions,
}

fn expect_wire(wire: u8, want: u8) -> Result<(), DecodeError> {
    if wire == want {
        return Ok(());
    }
    let name = |w| match w {
        WIRE_VARINT => "varint",
        WIRE_FIXED64 => "64-bit",
        WIRE_LEN => "length-delimited",
        _ => "unknown",
    };
    Err(DecodeError::malformed(format!(
        "expected a {} value, found wire type {wire} ({})",
        name(want),
        name(wire)
    )))
}

fn field_of(message: &Message, tag: u32) -> Option<&'static Field> {
    let fields: &'static [Field] = message.fields;
    fields
        .binary_search_by_key(&tag, |f| f.tag)
        .ok()
        .map(|i| &fields[i])
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => {
            n.as_i64() == Some(0) || n.as_u64() == Some(0) || n.as_f64() == Some(0.0)
        }
        _ => false,
    }
}

fn string(bytes: &[u8]) -> String {
    // Go's JSON encoder writes invalid UTF-8 as U+FFFD; do the same rather than fail.
    String::from_utf8_lossy(bytes).into_owned()
}

impl Decoder<'_> {
    fn envelope(&self, body: &[u8], depth: usize) -> Result<(String, String, Value), DecodeError> {
        let rest = body.strip_prefix(MAGIC).ok_or(DecodeError::BadMagic)?;
        let (mut api_version, mut kind) = (String::new(), String::new());
        let mut raw: &[u8] = &[];
        let mut encoding = String::new();
        let mut r = Reader::new(rest);
        while !r.done() {
            let (tag, wire) = r.key()?;
            match tag {
                1 => {
                    expect_wire(wire, WIRE_LEN).map_err(|e| e.within("typeMeta"))?;
                    let mut tm = Reader::new(r.bytes()?);
                    while !tm.done() {
                        let (tag, wire) = tm.key()?;
                        match tag {
                            1 | 2 => {
                                expect_wire(wire, WIRE_LEN).map_err(|e| e.within("typeMeta"))?;
                                let s = string(tm.bytes()?);
                                if tag == 1 { api_version = s } else { kind = s }
                            }
                            _ => tm.skip(wire)?,
                        }
                    }
                }
                2 | 3 => {
                    expect_wire(wire, WIRE_LEN)?;
                    let b = r.bytes()?;
                    if tag == 2 {
                        raw = b
                    } else {
                        encoding = string(b)
                    }
                }
                _ => r.skip(wire)?,
            }
        }
        if !encoding.is_empty() {
            return Err(DecodeError::UnsupportedEncoding(encoding));
        }
        if kind.is_empty() {
            return Err(DecodeError::MissingTypeMeta);
        }
        let message = message_for(&api_version, &kind).ok_or_else(|| DecodeError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
        let mut object = Map::new();
        object.insert("apiVersion".into(), Value::String(api_version.clone()));
        object.insert("kind".into(), Value::String(kind.clone()));
        self.fields_into(message, raw, depth + 1, &mut object)?;
        Ok((api_version, kind, Value::Object(object)))
    }

    fn message(&self, message: &Message, bytes: &[u8], depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::malformed(format!(
                "messages nest deeper than {MAX_DEPTH} levels"
            )));
        }
        match message.special {
            Special::None => {
                let mut object = Map::new();
                self.fields_into(message, bytes, depth, &mut object)?;
                Ok(Value::Object(object))
            }
            special => self.special(message, special, bytes, depth),
        }
    }

    /// Decodes a plain message's fields into `object` (the message's own object, or its
    /// parent's for an inline field).
    fn fields_into(
        &self,
        message: &Message,
        bytes: &[u8],
        depth: usize,
        object: &mut Map<String, Value>,
    ) -> Result<(), DecodeError> {
        let mut r = Reader::new(bytes);
        while !r.done() {
            let (tag, wire) = r.key()?;
            match field_of(message, tag) {
                Some(field) => self
                    .field(field, wire, &mut r, depth, object)
                    .map_err(|e| e.within(field.json))?,
                None => r.skip(wire)?,
            }
        }
        Ok(())
    }

    fn field(
        &self,
        field: &Field,
        wire: u8,
        r: &mut Reader<'_>,
        depth: usize,
        object: &mut Map<String, Value>,
    ) -> Result<(), DecodeError> {
        match field.kind {
            Kind::MapString | Kind::MapBytes | Kind::MapMessage(_) => {
                expect_wire(wire, WIRE_LEN)?;
                let (key, value) = self.map_entry(field.kind, r.bytes()?, depth)?;
                let slot = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = slot {
                    map.insert(key, value);
                }
            }
            Kind::Message(index) if field.inline => {
                expect_wire(wire, WIRE_LEN)?;
                let inner = &schema::MESSAGES[usize::from(index)];
                if depth + 1 > MAX_DEPTH {
                    return Err(DecodeError::malformed("messages nest too deep"));
                }
                self.fields_into(inner, r.bytes()?, depth + 1, object)?;
            }
            kind if field.repeated => {
                let slot = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = slot else {
                    return Ok(());
                };
                let packable =
                    matches!(kind, Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double);
                if packable && wire == WIRE_LEN {
                    let mut packed = Reader::new(r.bytes()?);
                    let scalar_wire = if kind == Kind::Double {
                        WIRE_FIXED64
                    } else {
                        WIRE_VARINT
                    };
                    while !packed.done() {
                        let at = items.len().to_string();
                        items.push(
                            self.value(kind, scalar_wire, &mut packed, depth)
                                .map_err(|e| e.within(&format!("[{at}]")))?,
                        );
                    }
                } else {
                    let at = items.len();
                    items.push(
                        self.value(kind, wire, r, depth)
                            .map_err(|e| e.within(&format!("[{at}]")))?,
                    );
                }
            }
            kind => {
                let value = self.value(kind, wire, r, depth)?;
                if field.omit_zero && !self.options.keep_zero_values && is_zero(&value) {
                    object.remove(field.json);
                    return Ok(());
                }
                match (object.get_mut(field.json), value) {
                    // A message field that occurs twice is merged, as protobuf specifies.
                    (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                    (_, value) => {
                        object.insert(field.json.to_string(), value);
                    }
                }
            }
        }
        Ok(())
    }

    fn value(
        &self,
        kind: Kind,
        wire: u8,
        r: &mut Reader<'_>,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        Ok(match kind {
            Kind::String => {
                expect_wire(wire, WIRE_LEN)?;
                Value::String(string(r.bytes()?))
            }
            Kind::Bytes => {
                expect_wire(wire, WIRE_LEN)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(r.bytes()?))
            }
            Kind::Bool => {
                expect_wire(wire, WIRE_VARINT)?;
                Value::Bool(r.varint()? != 0)
            }
            Kind::Int32 => {
                expect_wire(wire, WIRE_VARINT)?;
                // Negative int32s are sign-extended to 10-byte varints; truncation restores them.
                Value::from(r.varint()? as i32)
            }
            Kind::Int64 => {
                expect_wire(wire, WIRE_VARINT)?;
                Value::from(r.varint()? as i64)
            }
            Kind::Double => {
                expect_wire(wire, WIRE_FIXED64)?;
                let v = f64::from_bits(r.fixed64()?);
                Value::Number(
                    Number::from_f64(v)
                        .ok_or_else(|| DecodeError::malformed(format!("{v} has no JSON form")))?,
                )
            }
            Kind::Message(index) => {
                expect_wire(wire, WIRE_LEN)?;
                self.message(&schema::MESSAGES[usize::from(index)], r.bytes()?, depth + 1)?
            }
            Kind::MapString | Kind::MapBytes | Kind::MapMessage(_) => {
                return Err(DecodeError::malformed("a map cannot be a list item"));
            }
        })
    }

    /// A map entry message `{1: key, 2: value}`; missing parts take their zero values.
    fn map_entry(
        &self,
        kind: Kind,
        bytes: &[u8],
        depth: usize,
    ) -> Result<(String, Value), DecodeError> {
        let value_kind = match kind {
            Kind::MapString => Kind::String,
            Kind::MapBytes => Kind::Bytes,
            Kind::MapMessage(index) => Kind::Message(index),
            _ => unreachable!("map_entry is only called for maps"),
        };
        let mut key = String::new();
        let mut value = None;
        let mut r = Reader::new(bytes);
        while !r.done() {
            let (tag, wire) = r.key()?;
            match tag {
                1 => {
                    expect_wire(wire, WIRE_LEN)?;
                    key = string(r.bytes()?);
                }
                2 => value = Some(self.value(value_kind, wire, &mut r, depth)?),
                _ => r.skip(wire)?,
            }
        }
        let value = match value {
            Some(v) => v,
            None => match value_kind {
                Kind::Message(index) => {
                    self.message(&schema::MESSAGES[usize::from(index)], &[], depth + 1)?
                }
                _ => Value::String(String::new()),
            },
        };
        Ok((key, value))
    }

    fn special(
        &self,
        message: &Message,
        special: Special,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Value, DecodeError> {
        // Every special message is small: collect its fields by tag, last one winning,
        // repeated ones in order.
        let mut varints: [Option<u64>; 4] = [None; 4];
        let mut single: [Option<&[u8]>; 4] = [None; 4];
        let mut lists: [Vec<&[u8]>; 4] = Default::default();
        let mut r = Reader::new(bytes);
        while !r.done() {
            let (tag, wire) = r.key()?;
            let slot = tag as usize;
            if slot >= 4 {
                r.skip(wire)?;
                continue;
            }
            match wire {
                WIRE_VARINT => varints[slot] = Some(r.varint()?),
                WIRE_LEN => {
                    let b = r.bytes()?;
                    single[slot] = Some(b);
                    lists[slot].push(b);
                }
                other => r.skip(other)?,
            }
        }
        let sub = |tag: u32| -> Result<&'static Message, DecodeError> {
            match field_of(message, tag).map(|f| f.kind) {
                Some(Kind::Message(i)) => Ok(&schema::MESSAGES[usize::from(i)]),
                _ => Err(DecodeError::malformed(format!(
                    "{} has no message field {tag}",
                    message.name
                ))),
            }
        };
        Ok(match special {
            Special::None => unreachable!("plain messages are not special"),
            Special::Quantity => Value::String(single[1].map(string).unwrap_or_else(|| "0".into())),
            Special::IntOrString => match varints[1].unwrap_or(0) {
                0 => Value::from(varints[2].unwrap_or(0) as i32),
                1 => Value::String(single[3].map(string).unwrap_or_default()),
                other => {
                    return Err(DecodeError::malformed(format!(
                        "IntOrString type {other} is neither 0 (int) nor 1 (string)"
                    )));
                }
            },
            Special::Time | Special::MicroTime => {
                if bytes.is_empty() {
                    // Go writes a zero Time as an empty message and its JSON form is null.
                    return Ok(Value::Null);
                }
                let seconds = varints[1].unwrap_or(0) as i64;
                let nanos = varints[2].unwrap_or(0) as i32;
                match time::rfc3339(seconds, nanos, special == Special::MicroTime) {
                    Ok(Some(s)) => Value::String(s),
                    Ok(None) => Value::Null,
                    Err(time::OutOfRange) => {
                        return Err(DecodeError::malformed(format!(
                            "time {seconds}s from the epoch is outside years 0-9999"
                        )));
                    }
                }
            }
            Special::Duration => Value::String(time::go_duration(varints[1].unwrap_or(0) as i64)),
            Special::RawJson => match single[1] {
                None | Some([]) => Value::Null,
                Some(raw) if raw.starts_with(MAGIC) => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(DecodeError::malformed("embedded objects nest too deep"));
                    }
                    self.envelope(raw, depth + 1)?.2
                }
                Some(raw) => serde_json::from_slice(raw).map_err(|e| {
                    DecodeError::malformed(format!("embedded JSON is invalid: {e}"))
                })?,
            },
            Special::StringList => {
                Value::Array(lists[1].iter().map(|b| Value::String(string(b))).collect())
            }
            Special::SchemaOrArray => {
                if !lists[2].is_empty() {
                    let schema = sub(2)?;
                    let items = lists[2]
                        .iter()
                        .map(|b| self.message(schema, b, depth + 1))
                        .collect::<Result<_, _>>()?;
                    Value::Array(items)
                } else if let Some(b) = single[1] {
                    self.message(sub(1)?, b, depth + 1)?
                } else {
                    Value::Null
                }
            }
            Special::SchemaOrBool => match single[2] {
                Some(b) => self.message(sub(2)?, b, depth + 1)?,
                None => Value::Bool(varints[1].unwrap_or(0) != 0),
            },
            Special::SchemaOrStringArray => {
                if !lists[2].is_empty() {
                    Value::Array(lists[2].iter().map(|b| Value::String(string(b))).collect())
                } else if let Some(b) = single[1] {
                    self.message(sub(1)?, b, depth + 1)?
                } else {
                    Value::Null
                }
            }
        })
    }
}
