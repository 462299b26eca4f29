//! Values printed as Go's `fmt` prints decoded JSON (`%v` of `map[string]interface{}`), which
//! upstream's patch errors quote: `map[image:x name:web]`, `[a b]`, `<nil>`.

use serde_json::Value;

/// `%v` of a decoded JSON value: maps with sorted keys, lists space-separated, strings bare.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_value).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_value(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// `%s` of a decoded JSON value: strings bare, anything else as Go's bad-verb form.
pub fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".into(),
        Value::Bool(b) => format!("%!s(bool={b})"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("%!s(int64={n})"),
        Value::Number(_) => format!("%!s(float64={})", go_value(v)),
        other => go_value(other),
    }
}

/// A float64 as `%v` prints it: shortest digits, exponent form below 1e-4 and from 1e21.
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let e = format!("{f:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go() {
        assert_eq!(
            go_value(&json!({"name": "p", "$patch": "bogus", "n": [1, 2.5, null, true]})),
            "map[$patch:bogus n:[1 2.5 <nil> true] name:p]"
        );
        assert_eq!(go_value(&json!(1e21)), "1e+21");
        assert_eq!(go_value(&json!(0.00001)), "1e-05");
        assert_eq!(go_s(&json!(3)), "%!s(int64=3)");
    }
}
