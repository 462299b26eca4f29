//! Kubernetes resource quantities (`100m`, `1Gi`, `1e3`, `0.5`), as upstream's
//! `k8s.io/apimachinery/pkg/api/resource.Quantity` reads and prints them.
//!
//! Validation needs to compare quantities (requests may not exceed limits, limit ranges) and
//! print them in upstream's canonical form inside error messages (`must be less than or equal to
//! cpu limit of 500m`). A [`Quantity`] holds its value exactly in nano-units (the finest
//! precision upstream keeps; smaller fractions round up, as upstream does) and remembers the
//! notation it was written in, which decides how it is printed back.

use std::cmp::Ordering;
use std::fmt;

/// Nano-units per unit.
const NANO: i128 = 1_000_000_000;

/// How a quantity was written, which decides its canonical printed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decimal SI suffixes (`m`, `k`, `M`, ...) or none.
    DecimalSi,
    /// Binary suffixes (`Ki`, `Mi`, ...).
    BinarySi,
    /// Scientific notation (`1e3`).
    DecimalExponent,
}

/// Why a quantity string could not be read; messages are upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity.
    Format,
    /// The number part could not be read.
    Numeric,
    /// The suffix is not a known one.
    Suffix,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            Self::Numeric => "unable to parse quantity's numeric part",
            Self::Suffix => "unable to parse quantity's suffix",
        })
    }
}

impl std::error::Error for QuantityError {}

/// A parsed resource quantity: an exact value in nano-units and its notation.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// The multiplier a suffix stands for.
enum Scale {
    /// `10^n`.
    Decimal(i32),
    /// `1024^n`.
    Binary(u32),
}

impl Quantity {
    /// Zero, in decimal notation.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// A whole number of units in decimal notation.
    pub fn from_units(units: i64) -> Self {
        Self {
            nanos: i128::from(units) * NANO,
            format: Format::DecimalSi,
        }
    }

    /// Read a quantity as upstream's `ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let (negative, rest) = split_sign(s);
        let num_len = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let (number, suffix) = rest.split_at(num_len);
        check_shape(number, suffix)?;
        let (mantissa, frac_digits) = read_number(number)?;
        let (scale, format) = read_suffix(suffix)?;
        let nanos = scaled_nanos(mantissa, frac_digits, scale);
        Ok(Self {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// The value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The value in milli-units, rounded up (upstream's `MilliValue`).
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }

    /// The value in units, rounded up (upstream's `Value`).
    pub fn value(&self) -> i128 {
        ceil_div(self.nanos, NANO)
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The notation the quantity was written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The sum of two quantities, in the notation of the first (used for pod totals).
    pub fn add(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.format,
        }
    }

    /// The sum as upstream's `Quantity.Add` keeps it: in the notation of the first, unless the
    /// first is zero (then the second's), so `0 + 20Mi` prints `20Mi` in quota usage.
    pub fn plus(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// The difference, with [`Quantity::plus`]'s choice of notation.
    pub fn minus(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// Whether the value is exactly zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Upstream's canonical string (`1500m`, `1Gi`, `1536Mi`, `1e3`).
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let body = match self.format {
            Format::BinarySi if abs >= 1024 * NANO as u128 && abs.is_multiple_of(NANO as u128) => {
                binary_string(abs / NANO as u128)
            }
            Format::DecimalExponent => decimal_string(abs, true),
            _ => decimal_string(abs, false),
        };
        format!("{sign}{body}")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    }
}

/// The regular expression's shape: a number of digits and dots, then `[eEinumkKMGTP]*[-+]?[0-9]*`.
fn check_shape(number: &str, suffix: &str) -> Result<(), QuantityError> {
    if number.is_empty() {
        return Err(QuantityError::Format);
    }
    let letters = suffix
        .bytes()
        .take_while(|c| b"eEinumkKMGTP".contains(c))
        .count();
    let rest = &suffix.as_bytes()[letters..];
    let digits = rest
        .strip_prefix(b"-")
        .or_else(|| rest.strip_prefix(b"+"))
        .unwrap_or(rest);
    if digits.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(QuantityError::Format)
    }
}

/// The digits as an integer and the number of digits after the point.
fn read_number(number: &str) -> Result<(i128, u32), QuantityError> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(QuantityError::Numeric);
    }
    // Digits beyond nano precision only matter for rounding up.
    let kept = &frac_part[..frac_part.len().min(18)];
    let dropped_nonzero = frac_part[kept.len()..].bytes().any(|c| c != b'0');
    let mut mantissa: i128 = 0;
    for c in int_part.bytes().chain(kept.bytes()) {
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(i128::from(c - b'0'));
    }
    if dropped_nonzero {
        mantissa = mantissa.saturating_add(1);
    }
    Ok((mantissa, kept.len() as u32))
}

fn read_suffix(suffix: &str) -> Result<(Scale, Format), QuantityError> {
    let decimal = |e| Ok((Scale::Decimal(e), Format::DecimalSi));
    let binary = |e| Ok((Scale::Binary(e), Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let exp: i32 = s[1..].parse().map_err(|_| QuantityError::Suffix)?;
            Ok((Scale::Decimal(exp), Format::DecimalExponent))
        }
        _ => Err(QuantityError::Suffix),
    }
}

/// `mantissa / 10^frac_digits * scale`, in nano-units, rounded up.
fn scaled_nanos(mantissa: i128, frac_digits: u32, scale: Scale) -> i128 {
    let (mut num, mut den) = (mantissa, 10i128.saturating_pow(frac_digits));
    match scale {
        Scale::Binary(n) => {
            num = num
                .saturating_mul(1024i128.saturating_pow(n))
                .saturating_mul(NANO)
        }
        Scale::Decimal(e) => {
            let e = e + 9;
            if e >= 0 {
                num = num.saturating_mul(10i128.saturating_pow(e.unsigned_abs()));
            } else {
                den = den.saturating_mul(10i128.saturating_pow(e.unsigned_abs()));
            }
        }
    }
    ceil_div(num, den)
}

fn ceil_div(num: i128, den: i128) -> i128 {
    let q = num / den;
    if num % den != 0 && (num > 0) == (den > 0) {
        q + 1
    } else {
        q
    }
}

/// `n` (whole units) with the largest binary suffix dividing it.
fn binary_string(mut n: u128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut i = 0;
    while i < 6 && n.is_multiple_of(1024) {
        n /= 1024;
        i += 1;
    }
    format!("{n}{}", SUFFIXES[i])
}

/// `nanos` as an integer mantissa times a power of ten that is a multiple of three.
fn decimal_string(nanos: u128, exponent_notation: bool) -> String {
    let (mut mantissa, mut exp) = (nanos, -9i32);
    while mantissa.is_multiple_of(1000) && mantissa != 0 {
        mantissa /= 1000;
        exp += 3;
    }
    if exponent_notation && exp >= 0 {
        return if exp == 0 {
            mantissa.to_string()
        } else {
            format!("{mantissa}e{exp}")
        };
    }
    let suffix = match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return format!("{mantissa}e{exp}"),
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn parses_and_compares() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("0.5").milli_value(), 500);
        assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
        assert!(q("500m") < q("1"));
        assert_eq!(q("1000m"), q("1"));
        assert!(q("-1").is_negative());
        assert_eq!(q(".5").milli_value(), 500);
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("100m", "100m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("512", "512"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("-2Ki", "-2Ki"),
            ("0.1m", "100u"),
        ] {
            assert_eq!(q(input).canonical(), want, "{input}");
        }
    }

    #[test]
    fn errors_are_upstreams() {
        let e = Quantity::parse("abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert_eq!(Quantity::parse("1Qi"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1kk"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1.2.3"), Err(QuantityError::Numeric));
        assert_eq!(Quantity::parse(""), Err(QuantityError::Format));
    }
}
