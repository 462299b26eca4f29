//! Fields of type `[]byte` (OpenAPI `format: byte`: a Secret's `data`, a ConfigMap's
//! `binaryData`, a CSR's `request`), which travel as base64 strings.
//!
//! Upstream decodes them with Go's standard base64 decoder: line breaks anywhere are skipped,
//! unused bits of the last group may be set, and a malformed value fails the whole decode with
//! `illegal base64 data at input byte N`, N counted as Go counts it. k8s-openapi's decoder is
//! stricter, so a body it refuses is checked here: a value Go refuses gives Go's error, a
//! value Go accepts is rewritten canonically so k8s-openapi accepts it too.

use crate::patch_meta::Node;
use serde_json::Value;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u8)
}

fn is_line_break(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

/// Decode `src` as Go's `base64.StdEncoding` does; the error is the byte offset Go reports.
pub fn go_std_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut len = 0;
        while len < 4 {
            while si < src.len() && is_line_break(src[si]) {
                si += 1;
            }
            if si == src.len() {
                if len == 0 {
                    return Ok(out);
                }
                // A last group of 1 to 3 characters without its padding.
                return Err(si - len);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = sextet(c) {
                quantum[len] = v;
                len += 1;
                continue;
            }
            if c != b'=' || len < 2 {
                return Err(si - 1);
            }
            if len == 2 {
                // `==` must follow; the first `=` was just read.
                while si < src.len() && is_line_break(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(src.len());
                }
                if src[si] != b'=' {
                    return Err(si - 1);
                }
                si += 1;
            }
            while si < src.len() && is_line_break(src[si]) {
                si += 1;
            }
            if si < src.len() {
                // Anything after the padding.
                return Err(si);
            }
            push_quantum(&mut out, &quantum, len);
            return Ok(out);
        }
        push_quantum(&mut out, &quantum, 4);
    }
}

fn push_quantum(out: &mut Vec<u8>, q: &[u8; 4], len: usize) {
    let n = (u32::from(q[0]) << 18)
        | (u32::from(q[1]) << 12)
        | (u32::from(q[2]) << 6)
        | u32::from(q[3]);
    let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    out.extend_from_slice(&bytes[..len - 1]);
}

/// Standard base64 with padding.
pub fn std_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Check every byte field of `object` (of the type at `node`) in document order, as Go's JSON
/// decoder meets them: the first value Go refuses gives its error text; values Go accepts are
/// rewritten in canonical form.
pub fn canonicalize(object: &mut Value, node: Node) -> Result<(), String> {
    match object {
        Value::String(s) if node.format() == Some("byte") => match go_std_decode(s.as_bytes()) {
            Ok(bytes) => {
                *s = std_encode(&bytes);
                Ok(())
            }
            Err(at) => Err(format!("illegal base64 data at input byte {at}")),
        },
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                let child = if node.is_struct() {
                    node.field(name)
                } else {
                    node.elements()
                };
                if let Some(child) = child {
                    canonicalize(value, child)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => match node.elements() {
            Some(element) => items.iter_mut().try_for_each(|v| canonicalize(v, element)),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_like_go() {
        assert_eq!(
            go_std_decode(b"c2VjcmV0X3ZhbHVlCg==").unwrap(),
            b"secret_value\n"
        );
        assert_eq!(go_std_decode(b"c2Vj\ncmV0").unwrap(), b"secret");
        assert_eq!(go_std_decode(b"").unwrap(), b"");
        // Go's offsets: the bad character, the start of an unpadded group, after the padding.
        assert_eq!(
            go_std_decode(b"LS0tLS1CRUdJTjBSU0EgU...SBLRVktLS0tLQo="),
            Err(21)
        );
        assert_eq!(go_std_decode(b"my-password"), Err(2));
        assert_eq!(go_std_decode(b"abcde"), Err(4));
        assert_eq!(go_std_decode(b"ab="), Err(3));
        assert_eq!(go_std_decode(b"a==="), Err(1));
        assert_eq!(go_std_decode(b"ab=x"), Err(2));
        assert_eq!(go_std_decode(b"abc=abcd"), Err(4));
        // Unused bits may be set, as Go's non-strict decoder allows.
        assert_eq!(go_std_decode(b"YR==").unwrap(), b"a");
        assert_eq!(std_encode(b"secret_value\n"), "c2VjcmV0X3ZhbHVlCg==");
        assert_eq!(std_encode(b"ab"), "YWI=");
    }

    #[test]
    fn secret_data_is_checked_and_canonical() {
        let node = Node::of_kind("", "v1", "Secret").unwrap();
        let mut ok = json!({"data": {"a": "YR==", "b": "c2Vj\ncmV0"}, "type": "Opaque"});
        canonicalize(&mut ok, node).unwrap();
        assert_eq!(ok["data"], json!({"a": "YQ==", "b": "c2VjcmV0"}));
        let mut bad = json!({"data": {"a": "YQ==", "b": "plain text"}});
        assert_eq!(
            canonicalize(&mut bad, node).unwrap_err(),
            "illegal base64 data at input byte 5"
        );
    }
}
