//! The schema's building blocks and a bounds-checked protobuf wire reader.
//!
//! The schema is data rather than generated code per message so that one small decoder
//! serves all ~470 messages; `schema.rs` (generated) is a table of these types.

use crate::DecodeError;

/// A message of the Kubernetes API as protobuf sees it.
#[derive(Debug)]
pub struct Message {
    /// Full protobuf name, e.g. `k8s.io.api.core.v1.ConfigMap`.
    pub name: &'static str,
    /// How the message maps to JSON when it is not a plain object of its fields.
    pub special: Special,
    /// Fields sorted by tag.
    pub fields: &'static [Field],
}

/// Messages whose JSON form differs from their protobuf form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// A plain object of the message's fields.
    None,
    /// `resource.Quantity` `{1: string}` → JSON string.
    Quantity,
    /// `intstr.IntOrString` `{1: type, 2: intVal, 3: strVal}` → JSON number or string.
    IntOrString,
    /// `meta/v1.Time` `{1: seconds, 2: nanos}` → RFC 3339 string with whole seconds.
    Time,
    /// `meta/v1.MicroTime` → RFC 3339 string with microseconds.
    MicroTime,
    /// `meta/v1.Duration` `{1: nanoseconds}` → Go duration string (`1h0m0s`).
    Duration,
    /// `runtime.RawExtension`, `meta/v1.FieldsV1`, `apiextensions/v1.JSON`: `{1: raw bytes}`
    /// holding JSON (or an enveloped protobuf object) → that JSON value.
    RawJson,
    /// A Go `[]string` type wrapped in a message `{1: repeated string}` → JSON array.
    StringList,
    /// `JSONSchemaPropsOrArray` `{1: schema, 2: repeated schemas}` → object or array.
    SchemaOrArray,
    /// `JSONSchemaPropsOrBool` `{1: allows, 2: schema}` → bool or object.
    SchemaOrBool,
    /// `JSONSchemaPropsOrStringArray` `{1: schema, 2: repeated property}` → object or array.
    SchemaOrStringArray,
}

/// What a field holds on the wire and how it becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Length-delimited UTF-8 → JSON string.
    String,
    /// Length-delimited bytes → base64 JSON string (Go's `[]byte` JSON form).
    Bytes,
    /// Varint → JSON bool.
    Bool,
    /// Varint → JSON number.
    Int32,
    /// Varint → JSON number.
    Int64,
    /// Fixed 64 bits → JSON number.
    Double,
    /// Nested message, index into [`crate::schema::MESSAGES`].
    Message(u16),
    /// `map<string, string>` → JSON object.
    MapString,
    /// `map<string, bytes>` → JSON object of base64 strings.
    MapBytes,
    /// `map<string, Message>` → JSON object.
    MapMessage(u16),
}

/// One field of a [`Message`].
#[derive(Debug)]
pub struct Field {
    /// Protobuf tag.
    pub tag: u32,
    /// JSON name (empty for inline fields).
    pub json: &'static str,
    /// Wire and JSON form.
    pub kind: Kind,
    /// Repeated field → JSON array.
    pub repeated: bool,
    /// A Go non-pointer `omitempty` scalar: Go always writes it to protobuf, but its zero value
    /// means "unset" and Go's JSON leaves it out, so the decoder drops a present zero.
    pub omit_zero: bool,
    /// A Go struct embedded with `json:",inline"`: its fields merge into the parent object.
    pub inline: bool,
}

pub(crate) const WIRE_VARINT: u8 = 0;
pub(crate) const WIRE_FIXED64: u8 = 1;
pub(crate) const WIRE_LEN: u8 = 2;
pub(crate) const WIRE_FIXED32: u8 = 5;

/// Reads protobuf wire data without ever indexing past the end of its buffer.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(DecodeError::truncated("a varint runs past the end"));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::malformed("a varint is longer than 10 bytes"))
    }

    /// The next field key: (tag, wire type).
    pub(crate) fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::malformed(format!(
                "invalid field number {tag}"
            )));
        }
        Ok((tag as u32, (key & 7) as u8))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| {
                DecodeError::truncated(format!(
                    "a length-delimited field of {len} bytes runs past the end ({} left)",
                    self.buf.len() - self.pos
                ))
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let end = self.pos + 8;
        let chunk = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| DecodeError::truncated("a 64-bit field runs past the end"))?;
        self.pos = end;
        Ok(u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
    }

    fn fixed32(&mut self) -> Result<(), DecodeError> {
        let end = self.pos + 4;
        if end > self.buf.len() {
            return Err(DecodeError::truncated("a 32-bit field runs past the end"));
        }
        self.pos = end;
        Ok(())
    }

    /// Skips a field of an unknown tag.
    pub(crate) fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.fixed64().map(drop),
            WIRE_LEN => self.bytes().map(drop),
            WIRE_FIXED32 => self.fixed32(),
            other => Err(DecodeError::malformed(format!(
                "unsupported wire type {other} (groups are not used by Kubernetes)"
            ))),
        }
    }
}
