//! Key intervals as SQLite sees them.
//!
//! Keys are stored as BLOBs and compared bytewise (memcmp), which for UTF-8 is the same order
//! as Rust's `str` ordering and etcd's byte ordering. No UTF-8 string contains the byte 0xFF,
//! so the one-byte blob `FF` serves as "after every key".

/// The half-open interval `[start, end)` of keys, as blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySpan {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
}

/// A blob greater than every UTF-8 key.
const AFTER_ALL_KEYS: [u8; 1] = [0xFF];

impl KeySpan {
    /// The span of a range request, with etcd's conventions: an empty `end` means the single
    /// key `start`, and `end == "\0"` means every key from `start` on.
    pub(crate) fn from_request(start: &str, end: &str) -> Self {
        let start_bytes = start.as_bytes().to_vec();
        let end = if end.is_empty() {
            let mut single = start_bytes.clone();
            single.push(0);
            single
        } else if end == "\0" {
            AFTER_ALL_KEYS.to_vec()
        } else {
            end.as_bytes().to_vec()
        };
        Self {
            start: start_bytes,
            end,
        }
    }

    /// Every key starting with `prefix` (every key at all for an empty prefix).
    pub(crate) fn prefix(prefix: &str) -> Self {
        let start = prefix.as_bytes().to_vec();
        let mut end = start.clone();
        while let Some(last) = end.pop() {
            if last < 0xFF {
                end.push(last + 1);
                return Self { start, end };
            }
        }
        Self {
            start,
            end: AFTER_ALL_KEYS.to_vec(),
        }
    }

    /// Whether `key` lies in the span.
    pub(crate) fn contains(&self, key: &str) -> bool {
        let k = key.as_bytes();
        k >= self.start.as_slice() && k < self.end.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_conventions() {
        let single = KeySpan::from_request("/a", "");
        assert!(single.contains("/a"));
        assert!(!single.contains("/a\0"));
        assert!(!single.contains("/ab"));
        let open = KeySpan::from_request("/a", "\0");
        assert!(open.contains("/zzz"));
        assert!(open.contains("\u{10FFFF}"));
        assert!(!open.contains("/"));
        let plain = KeySpan::from_request("/a", "/c");
        assert!(plain.contains("/b") && !plain.contains("/c"));
    }

    #[test]
    fn prefix_spans() {
        let p = KeySpan::prefix("/registry/pods/");
        assert!(p.contains("/registry/pods/default/x"));
        assert!(!p.contains("/registry/pods"));
        assert!(!p.contains("/registry/podsx"));
        let all = KeySpan::prefix("");
        assert!(all.contains("") && all.contains("\u{10FFFF}/x"));
    }
}
