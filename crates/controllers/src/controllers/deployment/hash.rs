//! The pod-template-hash: upstream hashes the pod template and the collision count with 32-bit
//! FNV-1a and spells the decimal number of the sum in a "safe" alphabet without vowels (so no
//! words form) — that string names the ReplicaSet (`<deployment>-<hash>`) and labels its pods.
//! Upstream feeds the hash a spew `%#v` dump of its Go structs (`dump.ForHash`): every field of
//! every type reachable from PodTemplateSpec in Go declaration order with Go type names, and
//! `resource.Quantity` internals that depend on how the object was decoded. Reproducing that
//! byte for byte is out of reach, so the template's JSON is hashed instead: names have the
//! same shape, alphabet and stability but not upstream's exact letters. The collision count is
//! mixed in exactly as upstream does (8 bytes: the count little-endian, then 4 zero bytes).

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Upstream's alphabet for safe strings.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// 32-bit FNV-1a.
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Map each character of `s` into the safe alphabet, as upstream's `SafeEncodeString`.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The pod-template-hash of `template` with `collision_count`.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).expect("pod templates serialize");
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_safe_encoding_match_the_reference_values() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
        // '0'..'9' are bytes 48..57; 48 % 27 = 21, the alphabet's '4'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn the_collision_count_is_hashed_as_eight_bytes() {
        let t = PodTemplateSpec::default();
        let mut bytes = serde_json::to_vec(&t).unwrap();
        bytes.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            template_hash(&t, Some(2)),
            safe_encode(&fnv32a(&bytes).to_string())
        );
    }

    #[test]
    fn the_collision_count_changes_the_hash() {
        let t = PodTemplateSpec::default();
        assert_ne!(template_hash(&t, None), template_hash(&t, Some(1)));
        assert_eq!(template_hash(&t, Some(1)), template_hash(&t, Some(1)));
        assert!(
            template_hash(&t, None)
                .chars()
                .all(|c| ALPHANUMS.contains(&(c as u8)))
        );
    }
}
