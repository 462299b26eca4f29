//! Name, label and annotation rules, with upstream's messages
//! (`k8s.io/apimachinery/pkg/util/validation` and `pkg/api/validation`).
//!
//! The `is_*` functions return the list of problems with a value (empty when valid), in
//! upstream's words, so callers wrap them into [`FieldError`]s at the right path. kubectl prints
//! these messages verbatim, so the wording (including upstream's double spaces in example lists)
//! is kept byte for byte.

use crate::field::{ErrorList, FieldError, FieldPath, Value};

/// Longest DNS-1123 subdomain (and config key).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest DNS-1123 / DNS-1035 label.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest label value and name part of a qualified name.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Largest total size of an object's annotations (keys plus values), in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const C_IDENTIFIER_FMT: &str = "[A-Za-z_][A-Za-z0-9_]*";
const HTTP_HEADER_NAME_FMT: &str = "[-A-Za-z0-9]+";

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const C_IDENTIFIER_MSG: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'";
const RELAXED_ENV_NAME_MSG: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";
const HTTP_HEADER_NAME_MSG: &str =
    "a valid HTTP header must consist of alphanumeric characters or '-'";

/// Upstream's "too long" detail: `must be no more than N characters`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Upstream's empty detail: `must be non-empty`.
pub fn empty_error() -> &'static str {
    "must be non-empty"
}

/// Upstream's range detail: `must be between lo and hi, inclusive`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// Upstream's regex detail: the message, examples and the pattern, formatted exactly as
/// `RegexError` does (including its `',  or '` separators).
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(ex);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// Labels of [`matches_dns1123_label`] joined by dots.
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Problems with `value` as a DNS-1123 subdomain (most object names).
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Problems with `value` as a DNS-1123 label (namespace names).
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Problems with `value` as a DNS-1035 label (service names: must start with a letter).
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    let starts_with_letter = value
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_lowercase());
    if !(starts_with_letter && matches_dns1123_label(value)) {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Problems with `value` as a path segment name (may not be `.` or `..`, contain `/` or `%`).
pub fn is_valid_path_segment_name(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if value.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// A name prefix (`generateName`) made checkable by a name rule: a random suffix follows the
/// prefix, so upstream's `maskTrailingDash` replaces a trailing `x-` with `a`.
pub fn mask_trailing_dash(prefix: &str) -> String {
    if prefix.len() > 1 && prefix.ends_with('-') {
        format!("{}a", &prefix[..prefix.len() - 2])
    } else {
        prefix.to_string()
    }
}

/// Problems with `value` as a qualified name (`prefix/name`: label and annotation keys,
/// finalizers, resource names).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_VALUE_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Problems with `value` as a label value.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Problems with `value` as a ConfigMap or Secret data key.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok {
        errs.push(regex_error(
            CONFIG_KEY_MSG,
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(chdir_prefix_problems(value));
    errs
}

fn chdir_prefix_problems(value: &str) -> Vec<String> {
    match value {
        "." => vec!["must not be '.'".to_string()],
        ".." => vec!["must not be '..'".to_string()],
        v if v.starts_with("..") => vec!["must not start with '..'".to_string()],
        _ => Vec::new(),
    }
}

/// Problems with `value` as a C identifier.
pub fn is_c_identifier(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Vec::new()
    } else {
        vec![regex_error(
            C_IDENTIFIER_MSG,
            C_IDENTIFIER_FMT,
            &["my_name", "MY_NAME", "MyName"],
        )]
    }
}

/// Problems with `value` as an environment variable name. Kubernetes 1.33 enables
/// `RelaxedEnvironmentVariableValidation` by default: any printable ASCII except `=`.
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push(format!("environment variable name {}", empty_error()));
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_NAME_MSG.to_string());
    }
    errs
}

/// Problems with `port` as a port number (1-65535).
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Problems with `value` outside `lo..=hi`.
pub fn is_in_range(value: i64, lo: i64, hi: i64) -> Vec<String> {
    if (lo..=hi).contains(&value) {
        Vec::new()
    } else {
        vec![inclusive_range_error(lo, hi)]
    }
}

/// Problems with `id` as a Unix user or group id.
pub fn is_valid_user_id(id: i64) -> Vec<String> {
    is_in_range(id, 0, 0xffff_ffff)
}

/// Problems with `port` as an IANA service name (container and service port names).
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Problems with `value` as an HTTP header name.
pub fn is_http_header_name(value: &str) -> Vec<String> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_NAME_MSG,
            HTTP_HEADER_NAME_FMT,
            &["X-Header-Name"],
        )]
    }
}

/// Parse an IP the way Go's `ParseIPSloppy` does: IPv4 octets may carry leading zeros.
pub fn parse_ip_sloppy(value: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = value.parse::<std::net::IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    Some(std::net::IpAddr::from(octets))
}

/// Validate `value` as an IP address at `path`.
pub fn validate_ip(value: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if parse_ip_sloppy(value).is_none() {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    errs
}

/// Whether `value` is a CIDR (`10.0.0.0/8`, `2001:db8::/64`).
pub fn is_valid_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else {
        return false;
    };
    let Some(ip) = parse_ip_sloppy(ip) else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    !bits.is_empty()
        && bits.bytes().all(|c| c.is_ascii_digit())
        && bits.parse::<u32>().is_ok_and(|b| b <= max)
}

/// Validate `value` as a CIDR at `path`.
pub fn validate_cidr(value: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if !is_valid_cidr(value) {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
    }
    errs
}

/// Validate a label map at `path` (`metadata.labels`): keys are qualified names, values label
/// values.
pub fn validate_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, v) in labels {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
        for m in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path.clone(), v.as_str(), m));
        }
    }
    errs
}

/// Validate an annotation map at `path` (`metadata.annotations`): keys are qualified names
/// (case-insensitive) and the total size is at most 256 KiB.
pub fn validate_annotations<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path.clone(),
            TOTAL_ANNOTATION_SIZE_LIMIT,
        ));
    }
    errs
}

/// Validate that `value` is not negative (`must be greater than or equal to 0`).
pub fn validate_nonnegative(value: i64, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if value < 0 {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "must be greater than or equal to 0",
        ));
    }
    errs
}

/// Validate a required DNS-1123 label at `path` (container, volume and port names).
pub fn validate_dns1123_label(value: &str, path: &FieldPath) -> ErrorList {
    wrap(is_dns1123_label(value), value, path)
}

/// Validate a DNS-1123 subdomain at `path`.
pub fn validate_dns1123_subdomain(value: &str, path: &FieldPath) -> ErrorList {
    wrap(is_dns1123_subdomain(value), value, path)
}

/// Validate a qualified name at `path`.
pub fn validate_qualified_name(value: &str, path: &FieldPath) -> ErrorList {
    wrap(is_qualified_name(value), value, path)
}

/// Turn problem messages about `value` into `Invalid` errors at `path`.
pub fn wrap(msgs: Vec<String>, value: &str, path: &FieldPath) -> ErrorList {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path.clone(), Value::from(value), m))
        .collect::<Vec<_>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_message_matches_golden() {
        let m = is_dns1123_subdomain("Bad_Name");
        assert_eq!(
            m,
            vec![
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert!(is_dns1123_subdomain("a.b-c.d").is_empty());
        assert!(!is_dns1123_subdomain("a..b").is_empty());
        assert!(!is_dns1123_subdomain("").is_empty());
        assert_eq!(
            is_dns1123_subdomain(&"a".repeat(254))[0],
            "must be no more than 253 characters"
        );
    }

    #[test]
    fn labels_and_dns1035() {
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
        assert!(is_dns1123_label("123-abc").is_empty());
        assert!(is_dns1035_label("abc-1").is_empty());
        assert_eq!(
            is_dns1035_label("1abc"),
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn qualified_names() {
        assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
        assert!(is_qualified_name("MyName").is_empty());
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            is_qualified_name("a_"),
            vec![
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(is_qualified_name("a/b/c").len(), 1);
        assert!(is_valid_label_value("").is_empty());
        assert!(!is_valid_label_value("-x").is_empty());
    }

    #[test]
    fn ports_ips_and_keys() {
        assert_eq!(
            is_valid_port_num(0),
            vec!["must be between 1 and 65535, inclusive"]
        );
        assert!(is_valid_port_name("http").is_empty());
        assert_eq!(is_valid_port_name("80").len(), 1);
        assert!(parse_ip_sloppy("010.0.0.1").is_some());
        assert!(parse_ip_sloppy("10.0.0").is_none());
        assert!(is_valid_cidr("10.0.0.0/8") && !is_valid_cidr("10.0.0.0/33"));
        assert!(is_config_map_key("a.b_C-1").is_empty());
        assert_eq!(is_config_map_key("..a"), vec!["must not start with '..'"]);
        assert!(is_env_var_name("1 weird.name").is_empty());
        assert_eq!(is_env_var_name("A=B").len(), 1);
    }

    #[test]
    fn label_map_and_annotation_size() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("ok".to_string(), "bad value".to_string());
        let errs = validate_labels(&m, &FieldPath::new("metadata").child("labels"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs.aggregate_message()
                .starts_with("metadata.labels: Invalid value: \"bad value\": a valid label")
        );
        let mut a = std::collections::BTreeMap::new();
        a.insert("k".to_string(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT));
        let errs = validate_annotations(&a, &FieldPath::new("metadata").child("annotations"));
        assert_eq!(
            errs.aggregate_message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }
}
