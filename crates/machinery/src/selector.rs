//! Label and field selectors: upstream's string syntax (`app=web,env in (a,b),!beta`,
//! `metadata.name=x,status.phase!=Running`), its parse errors, and matching.
//!
//! Clients send selectors as strings (`?labelSelector=`, `?fieldSelector=`) and read the
//! server's parse errors verbatim, so the grammar, the validation of keys and values, and every
//! error message follow upstream's `k8s.io/apimachinery/pkg/labels` and `pkg/fields`.
//! Objects carry selectors in structured form (`metav1.LabelSelector`), which
//! [`LabelSelector::from_match`] converts with upstream's rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::field::{ErrorList, FieldError, FieldPath, Value};

/// A label requirement operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (also matches objects without the key).
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)` (also matches objects without the key).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>1` (numeric; used by node affinity).
    GreaterThan,
    /// `key<1`.
    LessThan,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key the requirement is about (a qualified name such as `app` or
    /// `example.com/tier`).
    pub key: String,
    /// How the label's value relates to [`Requirement::values`].
    pub operator: Operator,
    /// The values compared against: one for `=`, `!=`, `>`, `<`; a set for `in`/`notin`;
    /// none for `exists`/`!`.
    pub values: Vec<String>,
}

impl Requirement {
    /// Build a requirement with upstream's checks (`labels.NewRequirement`): the key must be a
    /// qualified name, every value a valid label value, and the number of values must suit the
    /// operator. The error is upstream's aggregated field-error message, so callers can hand it
    /// to users unchanged.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        let mut errs = ErrorList::new();
        let key_problems = checks::qualified_name(key);
        if !key_problems.is_empty() {
            errs.push(FieldError::invalid(
                FieldPath::new("key"),
                key,
                key_problems.join("; "),
            ));
        }
        check_value_count(operator, &values, &mut errs);
        let values_path = FieldPath::new("values");
        for (i, value) in values.iter().enumerate() {
            let problems = checks::label_value(value);
            if !problems.is_empty() {
                let path = values_path.index(i).key(key);
                errs.push(FieldError::invalid(
                    path,
                    value.as_str(),
                    problems.join("; "),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(errs.aggregate_message());
        }
        Ok(Self {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// Whether a label set satisfies the requirement. `!=` and `notin` hold for objects
    /// without the key, as upstream (so `env notin (prod)` selects unlabelled objects too).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.has_value(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => value.is_some_and(|v| self.compares(v)),
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// The numeric comparison of `>`/`<`; a label or requirement value that is not an integer
    /// never matches.
    fn compares(&self, label_value: &str) -> bool {
        let [wanted] = self.values.as_slice() else {
            return false;
        };
        let (Ok(have), Ok(wanted)) = (label_value.parse::<i64>(), wanted.parse::<i64>()) else {
            return false;
        };
        match self.operator {
            Operator::GreaterThan => have > wanted,
            Operator::LessThan => have < wanted,
            _ => false,
        }
    }
}

/// Upstream's rule on how many values each operator takes, with its messages.
fn check_value_count(operator: Operator, values: &[String], errs: &mut ErrorList) {
    let path = || FieldPath::new("values");
    let shown = || Value::Raw(checks::go_json_strings(values));
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            errs.push(FieldError::invalid(
                path(),
                shown(),
                "for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        Operator::Equals | Operator::NotEquals if values.len() != 1 => {
            errs.push(FieldError::invalid(
                path(),
                shown(),
                "exact-match compatibility requires one single value",
            ));
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errs.push(FieldError::invalid(
                path(),
                shown(),
                "values set must be empty for exists and does not exist",
            ));
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(FieldError::invalid(
                    path(),
                    shown(),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    let detail = "for 'Gt', 'Lt' operators, the value must be an integer";
                    errs.push(FieldError::invalid(path().index(i), v.as_str(), detail));
                }
            }
        }
        _ => {}
    }
}

/// Upstream's string form of one requirement: `a=b`, `a!=b`, `a in (x,y)`, `!a`, with several
/// values sorted.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Exists => return f.write_str(&self.key),
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        let joined = values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{op}({joined})", self.key),
            _ => write!(f, "{}{op}{joined}", self.key),
        }
    }
}

/// A label selector: all requirements must match. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// The requirements, sorted by key as upstream keeps them.
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parse the string syntax (`?labelSelector=`), with upstream's error messages.
    ///
    /// The requirements come out sorted by key, with `in`/`notin` value sets sorted and
    /// de-duplicated, as upstream's `labels.Parse` returns them.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut requirements = Parser::new(s).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    /// The selector of a `metav1.LabelSelector`: `matchLabels` plus `matchExpressions` given as
    /// (key, operator `In|NotIn|Exists|DoesNotExist`, values). Errors name the bad operator or values.
    ///
    /// Upstream (`metav1.LabelSelectorAsSelector`) turns an absent selector into one that
    /// matches nothing; callers holding an `Option` must do that themselves, since an empty
    /// `matchLabels` and `matchExpressions` select everything.
    pub fn from_match(
        match_labels: &BTreeMap<String, String>,
        expressions: &[(String, String, Vec<String>)],
    ) -> Result<Self, String> {
        let mut requirements = Vec::with_capacity(match_labels.len() + expressions.len());
        for (key, value) in match_labels {
            requirements.push(Requirement::new(
                key,
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for (key, operator, values) in expressions {
            let operator = match operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        Value::quote(other)
                    ));
                }
            };
            requirements.push(Requirement::new(key, operator, values.clone())?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    /// The selector matching exactly a label set (`labels.SelectorFromSet`), as controllers
    /// build from a `matchLabels`-only selector or a Service's `spec.selector`. Like upstream,
    /// the set is not validated.
    pub fn from_set(labels: &BTreeMap<String, String>) -> Self {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            })
            .collect();
        Self { requirements }
    }

    /// Whether the selector restricts nothing (and so matches every object).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The single value the selector demands for `key`, if its first requirement on `key` is
    /// `key=value` or `key in (value)`: lets a caller use an index instead of scanning.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

/// Upstream's canonical string: requirements sorted by key, joined by commas.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<&Requirement> = self.requirements.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        for (i, r) in sorted.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A field requirement operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One requirement of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path as the client wrote it (`metadata.name`, `status.phase`); which fields
    /// a resource supports is the resource strategy's business.
    pub field: String,
    /// Whether the field must equal or differ from [`FieldRequirement::value`].
    pub operator: FieldOperator,
    /// The value, unescaped.
    pub value: String,
}

/// Upstream's string form: `field=value` or `field!=value`, the value escaped.
impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector: all requirements must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// The requirements, in upstream's order (sorted by their written form).
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parse the string syntax (`?fieldSelector=`), with upstream's escaping and error messages.
    ///
    /// Terms are split at unescaped commas; each term splits at its first `!=`, `==` or `=`;
    /// in values `\\`, `\,` and `\=` stand for `\`, `,` and `=`. A term with neither field nor
    /// value (`=`) is dropped, as upstream does.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut terms = split_field_terms(s);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw_value)) = split_field_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            let value = unescape_field_value(raw_value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value,
            });
        }
        Ok(Self { requirements })
    }

    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object matches, given a lookup of its field values (a missing field has the
    /// value `""`).
    pub fn matches(&self, field: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = field(&r.field).unwrap_or_default();
            match r.operator {
                FieldOperator::Equals => v == r.value,
                FieldOperator::NotEquals => v != r.value,
            }
        })
    }

    /// The value the selector demands for `field` (`metadata.name=x`), if any: lets the server
    /// turn a list into a get, and a kubelet watch on `spec.nodeName` into an index lookup.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

/// Upstream's string form: the requirements joined by commas, values escaped.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Escape a literal value for a field selector string (`fields.EscapeValue`): `\`, `,` and `=`
/// get a backslash, so any value can round-trip through [`FieldSelector::parse`].
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The terms of a field selector: split at commas not preceded by a backslash, escapes kept.
fn split_field_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Split a term at the first operator from the left (`!=` before `==` before `=` at each
/// position), so `a==b` is `a` equals `b` and `a=!b` is `a` equals `!b`.
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, kind)| (&term[..i], *kind, &rest[op.len()..]))
    })
}

/// Undo [`escape_field_value`], refusing unknown escapes and bare `,`/`=` as upstream does.
/// Upstream prints the offending bare character as its code point (`61` for `=`); kept so.
fn unescape_field_value(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
                None => {
                    return Err("invalid field selector: invalid escape sequence: \\".to_string());
                }
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A token of the label selector language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    Identifier,
    Comma,
    OpenParen,
    CloseParen,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    In,
    NotIn,
}

/// Splits a label selector into tokens the way upstream's lexer does: byte-wise, whitespace
/// (space, tab, CR, LF) separating, `=!(),<>` forming operators, and a NUL byte ending the input.
struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn is_whitespace(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\r' | b'\n')
    }

    fn is_special(b: u8) -> bool {
        matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
    }

    /// The next byte, or 0 at the end (upstream treats a NUL byte the same way).
    fn read(&mut self) -> u8 {
        match self.input.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn next_token(&mut self) -> (Token, &'a str) {
        let mut b = self.read();
        while Self::is_whitespace(b) {
            b = self.read();
        }
        match b {
            0 => (Token::End, ""),
            b if Self::is_special(b) => {
                self.pos -= 1;
                self.special()
            }
            _ => {
                self.pos -= 1;
                self.word()
            }
        }
    }

    /// An operator or punctuation: `==` and `!=` are the only two-byte ones.
    fn special(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let first = self.read();
        let second = self.input.as_bytes().get(self.pos).copied();
        let token = match (first, second) {
            (b'=', Some(b'=')) => Token::DoubleEquals,
            (b'!', Some(b'=')) => Token::NotEquals,
            (b'=', _) => Token::Equals,
            (b'!', _) => Token::Not,
            (b'(', _) => Token::OpenParen,
            (b')', _) => Token::CloseParen,
            (b',', _) => Token::Comma,
            (b'>', _) => Token::GreaterThan,
            _ => Token::LessThan,
        };
        if matches!(token, Token::DoubleEquals | Token::NotEquals) {
            self.pos += 1;
        }
        let literal = &self.input[start..self.pos];
        // Upstream's scanner swallows a NUL byte that directly follows an operator.
        if self.input.as_bytes().get(self.pos) == Some(&0) {
            self.pos += 1;
        }
        (token, literal)
    }

    /// A key, a value, or the keywords `in`/`notin`.
    fn word(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let mut end = start;
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if Self::is_special(b) || Self::is_whitespace(b) {
                self.pos -= 1;
                break;
            }
            end = self.pos;
        }
        let word = &self.input[start..end];
        let token = match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        (token, word)
    }
}

/// Whether `in`/`notin` are keywords (after a key) or plain words (keys and values).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// A recursive-descent parser over the whole token list, with upstream's grammar:
/// `requirement (',' requirement)*` where a requirement is `[!]key [op value | in|notin (values)]`.
struct Parser<'a> {
    tokens: Vec<(Token, &'a str)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        let mut lexer = Lexer { input, pos: 0 };
        let mut tokens = Vec::new();
        loop {
            let item = lexer.next_token();
            tokens.push(item);
            if item.0 == Token::End {
                break;
            }
        }
        Self { tokens, pos: 0 }
    }

    fn in_context(token: Token, context: Context) -> Token {
        match token {
            Token::In | Token::NotIn if context == Context::Values => Token::Identifier,
            t => t,
        }
    }

    fn peek(&self, context: Context) -> (Token, &'a str) {
        let (token, literal) = self.tokens[self.pos];
        (Self::in_context(token, context), literal)
    }

    fn next(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.peek(context);
        // The final End token is never consumed past: callers stop at End.
        self.pos = (self.pos + 1).min(self.tokens.len() - 1);
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.peek(Context::Values);
            match token {
                Token::Identifier | Token::Not => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    match self.next(Context::Values) {
                        (Token::End, _) => return Ok(requirements),
                        (Token::Comma, _) => {
                            let (after, literal) = self.peek(Context::Values);
                            if after != Token::Identifier && after != Token::Not {
                                return Err(format!(
                                    "found '{literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        (_, literal) => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.key_and_unary_operator()?;
        if let Some(operator) = unary {
            return Requirement::new(key, operator, Vec::new());
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(key, operator, values.into_iter().collect())
    }

    /// The key, and `Exists`/`DoesNotExist` when nothing but `,` or the end follows it.
    /// (`!key` followed by something else is caught by the caller as a stray token.)
    fn key_and_unary_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let (mut token, mut literal) = self.next(Context::Values);
        let negated = token == Token::Not;
        if negated {
            (token, literal) = self.next(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let problems = checks::qualified_name(literal);
        if !problems.is_empty() {
            return Err(
                FieldError::invalid(FieldPath::new("<nil>"), literal, problems.join("; "))
                    .to_string(),
            );
        }
        let ends = matches!(self.peek(Context::Values).0, Token::End | Token::Comma);
        let unary = match (negated, ends) {
            (true, _) => Some(Operator::DoesNotExist),
            (false, true) => Some(Operator::Exists),
            (false, false) => None,
        };
        Ok((literal, unary))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.next(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// `(a,b,...)`: empty members (`(,a)`, `()`) stand for the empty value.
    fn value_set(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.next(Context::Values);
        if token != Token::OpenParen {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.peek(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.value_list()?;
                if self.next(Context::Values).0 != Token::CloseParen {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::CloseParen => {
                self.next(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// The members of a value set up to (not including) the closing parenthesis.
    fn value_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.next(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal.to_string());
                    match self.peek(Context::Values) {
                        (Token::Comma, _) => continue,
                        (Token::CloseParen, _) => return Ok(values),
                        (_, after) => return Err(format!("found '{after}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.peek(Context::Values).0 {
                        Token::CloseParen => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.next(Context::Values);
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The value after `=`, `!=`, `>`, `<`: empty when `,` or the end follows.
    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        if matches!(self.peek(Context::Values).0, Token::End | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.next(Context::Values) {
            (Token::Identifier, literal) => Ok(BTreeSet::from([literal.to_string()])),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }
}

/// The small syntax checks selectors need, with upstream's messages
/// (`k8s.io/apimachinery/pkg/util/validation`), kept local so selectors do not depend on the
/// object-validation module.
mod checks {
    const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const DNS1123_SUBDOMAIN_FMT: &str =
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    const NAME_MAX: usize = 63;
    const LABEL_VALUE_MAX: usize = 63;
    const SUBDOMAIN_MAX: usize = 253;

    /// Upstream's wording of a failed pattern, with examples.
    fn regex_error(msg: &str, pattern: &str, examples: &[&str]) -> String {
        let shown: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
        format!(
            "{msg} (e.g. {}regex used for validation is '{pattern}')",
            shown.join(" or ")
        )
    }

    fn max_len_error(max: usize) -> String {
        format!("must be no more than {max} characters")
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
    fn is_name_part(s: &str) -> bool {
        let b = s.as_bytes();
        let (Some(first), Some(last)) = (b.first(), b.last()) else {
            return false;
        };
        first.is_ascii_alphanumeric()
            && last.is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    }

    /// One DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
    fn is_dns_label(s: &str) -> bool {
        let b = s.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let (Some(first), Some(last)) = (b.first(), b.last()) else {
            return false;
        };
        alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
    }

    fn dns1123_subdomain(s: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if s.len() > SUBDOMAIN_MAX {
            problems.push(max_len_error(SUBDOMAIN_MAX));
        }
        if !s.split('.').all(is_dns_label) {
            problems.push(regex_error(
                DNS1123_SUBDOMAIN_MSG,
                DNS1123_SUBDOMAIN_FMT,
                &["example.com"],
            ));
        }
        problems
    }

    /// Problems with a label key (`IsQualifiedName`): `[prefix/]name`.
    pub(super) fn qualified_name(value: &str) -> Vec<String> {
        let parts: Vec<&str> = value.split('/').collect();
        let mut problems = Vec::new();
        let name = match parts.as_slice() {
            [name] => *name,
            [prefix, name] => {
                if prefix.is_empty() {
                    problems.push("prefix part must be non-empty".to_string());
                } else {
                    problems.extend(
                        dns1123_subdomain(prefix)
                            .into_iter()
                            .map(|m| format!("prefix part {m}")),
                    );
                }
                *name
            }
            _ => {
                let shape = regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"],
                );
                let hint =
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
                return vec![format!("a qualified name {shape}{hint}")];
            }
        };
        if name.is_empty() {
            problems.push("name part must be non-empty".to_string());
        } else if name.len() > NAME_MAX {
            problems.push(format!("name part {}", max_len_error(NAME_MAX)));
        }
        if !is_name_part(name) {
            let shape = regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            problems.push(format!("name part {shape}"));
        }
        problems
    }

    /// Problems with a label value (`IsValidLabelValue`): empty, or a name part.
    pub(super) fn label_value(value: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if value.len() > LABEL_VALUE_MAX {
            problems.push(max_len_error(LABEL_VALUE_MAX));
        }
        if !value.is_empty() && !is_name_part(value) {
            problems.push(regex_error(
                LABEL_VALUE_MSG,
                LABEL_VALUE_FMT,
                &["MyValue", "my_value", "12345"],
            ));
        }
        problems
    }

    /// A string list as Go's `encoding/json` prints it in a field error (`null` when empty,
    /// HTML-sensitive characters escaped).
    pub(super) fn go_json_strings(values: &[String]) -> String {
        if values.is_empty() {
            return "null".to_string();
        }
        let items: Vec<String> = values.iter().map(|v| go_json_string(v)).collect();
        format!("[{}]", items.join(","))
    }

    fn go_json_string(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)))
                }
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME_PART_SHAPE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE_SHAPE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn parses_valid_label_selectors_to_canonical_form() {
        let cases = [
            ("", ""),
            ("   ", ""),
            ("x=a", "x=a"),
            ("x==a", "x=a"),
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("z=c,x=a", "x=a,z=c"),
            (" x = a , y != b ", "x=a,y!=b"),
            ("\tx\n=\ra", "x=a"),
            ("x=", "x="),
            ("x= ", "x="),
            ("x=,z= ", "x=,z="),
            ("x", "x"),
            ("!x", "!x"),
            ("! x", "!x"),
            ("x>1", "x>1"),
            ("x<1", "x<1"),
            ("x>1,z<5", "x>1,z<5"),
            ("x in (b,a)", "x in (a,b)"),
            ("x in (a,a,b)", "x in (a,b)"),
            ("x notin (a)", "x notin (a)"),
            ("x in ()", "x in ()"),
            (
                "x in (foo,,baz),y,z notin ()",
                "x in (,baz,foo),y,z notin ()",
            ),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,)", "x in (,a)"),
            ("in in (in)", "in in (in)"),
            ("notin notin (notin)", "notin notin (notin)"),
            ("x=in", "x=in"),
            ("example.com/tier=front", "example.com/tier=front"),
            ("x=a,x!=b", "x=a,x!=b"),
            ("sel=yes,app=web", "app=web,sel=yes"),
            ("sel=yes,app!=web", "app!=web,sel=yes"),
            ("sel=yes,env in (prod,dev)", "env in (dev,prod),sel=yes"),
            ("sel=yes,env notin (prod)", "env notin (prod),sel=yes"),
            ("sel=yes,!env", "!env,sel=yes"),
        ];
        for (input, canonical) in cases {
            let parsed = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "input {input:?}");
            let again = LabelSelector::parse(canonical).unwrap();
            assert_eq!(
                again, parsed,
                "canonical form of {input:?} parses back to the same selector"
            );
        }
    }

    #[test]
    fn parse_builds_sorted_requirements() {
        let s = LabelSelector::parse("z notin (b,a),!y,x>3,w").unwrap();
        assert_eq!(
            s.requirements,
            vec![
                req("w", Operator::Exists, &[]),
                req("x", Operator::GreaterThan, &["3"]),
                req("y", Operator::DoesNotExist, &[]),
                req("z", Operator::NotIn, &["a", "b"]),
            ]
        );
        assert!(LabelSelector::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_label_selectors_with_upstream_messages() {
        let cases = [
            (
                ",",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            ("x=a,", "found '', expected: identifier after ','"),
            ("x=a,,y=b", "found ',', expected: identifier after ','"),
            ("x=a y=b", "found 'y', expected: ',' or 'end of string'"),
            ("x==a==b", "found '==', expected: ',' or 'end of string'"),
            ("x=a y", "found 'y', expected: ',' or 'end of string'"),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            (
                "(x)",
                "found '(', expected: !, identifier, or 'end of string'",
            ),
            (
                "x b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "x in x",
                "unable to parse requirement: found 'x' expected: '('",
            ),
            (
                "x in (a",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "x in (a b)",
                "unable to parse requirement: found 'b', expected: ',' or ')'",
            ),
            (
                "x in (=",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "x in (,,)",
                "unable to parse requirement: found ')', expected: ',', or identifier",
            ),
            (
                "x=(a)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "!!x",
                "unable to parse requirement: found '!', expected: identifier",
            ),
            (
                "x>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "x<1.5",
                "unable to parse requirement: values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                LabelSelector::parse(input),
                Err(message.to_string()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn validates_label_keys_and_values_like_upstream() {
        let cases = [
            ("a%=b".to_string(), format!("unable to parse requirement: <nil>: Invalid value: \"a%\": name part {NAME_PART_SHAPE}")),
            ("-a".to_string(), format!("unable to parse requirement: <nil>: Invalid value: \"-a\": name part {NAME_PART_SHAPE}")),
            (
                "a/".to_string(),
                format!("unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; name part {NAME_PART_SHAPE}"),
            ),
            (
                "/a".to_string(),
                "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty".to_string(),
            ),
            (
                "Ex.com/a".to_string(),
                "unable to parse requirement: <nil>: Invalid value: \"Ex.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string(),
            ),
            (
                "a/b/c".to_string(),
                format!("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name {NAME_PART_SHAPE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
            ),
            (
                format!("{}=b", "k".repeat(64)),
                format!("unable to parse requirement: <nil>: Invalid value: \"{}\": name part must be no more than 63 characters", "k".repeat(64)),
            ),
            ("a=b%".to_string(), format!("unable to parse requirement: values[0][a]: Invalid value: \"b%\": {LABEL_VALUE_SHAPE}")),
            ("a=ns/name".to_string(), format!("unable to parse requirement: values[0][a]: Invalid value: \"ns/name\": {LABEL_VALUE_SHAPE}")),
            ("a in (x,-y)".to_string(), format!("unable to parse requirement: values[0][a]: Invalid value: \"-y\": {LABEL_VALUE_SHAPE}")),
            (
                format!("a={}", "v".repeat(64)),
                format!("unable to parse requirement: values[0][a]: Invalid value: \"{}\": must be no more than 63 characters", "v".repeat(64)),
            ),
            ("x=a||y=b".to_string(), format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {LABEL_VALUE_SHAPE}")),
            ("x>+1".to_string(), format!("unable to parse requirement: values[0][x]: Invalid value: \"+1\": {LABEL_VALUE_SHAPE}")),
            (
                "a>-1".to_string(),
                format!("unable to parse requirement: values[0][a]: Invalid value: \"-1\": {LABEL_VALUE_SHAPE}"),
            ),
            (
                "a>x%".to_string(),
                format!(
                    "unable to parse requirement: [values[0]: Invalid value: \"x%\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: \"x%\": {LABEL_VALUE_SHAPE}]"
                ),
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                LabelSelector::parse(&input),
                Err(message),
                "input {input:?}"
            );
        }
        assert!(LabelSelector::parse(&format!("{}/{}=v", "d".repeat(253), "k".repeat(63))).is_ok());
    }

    #[test]
    fn nul_byte_acts_like_upstream_scanner() {
        // Upstream's scanner ends the input at a NUL where a token starts, and swallows one that
        // ends a word or follows an operator.
        assert_eq!(
            LabelSelector::parse("a=b \0c=d").unwrap().to_string(),
            "a=b"
        );
        assert_eq!(
            LabelSelector::parse("a=b\0,c=d").unwrap().to_string(),
            "a=b,c=d"
        );
        assert_eq!(LabelSelector::parse("a=\0b").unwrap().to_string(), "a=b");
    }

    #[test]
    fn matches_label_sets() {
        let web_prod = labels(&[("sel", "yes"), ("app", "web"), ("env", "prod")]);
        let bare = labels(&[]);
        let cases: [(&str, &BTreeMap<String, String>, bool); 20] = [
            ("", &bare, true),
            ("app=web", &web_prod, true),
            ("app==web", &web_prod, true),
            ("app=db", &web_prod, false),
            ("app=web", &bare, false),
            ("app!=db", &web_prod, true),
            ("app!=web", &web_prod, false),
            ("app!=web", &bare, true),
            ("env in (prod,dev)", &web_prod, true),
            ("env in (dev)", &web_prod, false),
            ("env in (prod)", &bare, false),
            ("env notin (prod)", &web_prod, false),
            ("env notin (prod)", &bare, true),
            ("app", &web_prod, true),
            ("app", &bare, false),
            ("!app", &web_prod, false),
            ("!app", &bare, true),
            ("app=", &labels(&[("app", "")]), true),
            ("app=", &bare, false),
            ("app=web,env=dev", &web_prod, false),
        ];
        for (selector, set, expected) in cases {
            assert_eq!(
                LabelSelector::parse(selector).unwrap().matches(set),
                expected,
                "{selector} on {set:?}"
            );
        }
    }

    #[test]
    fn compares_numbers_for_gt_and_lt() {
        let cases = [
            ("n>5", "6", true),
            ("n>5", "5", false),
            ("n<5", "4", true),
            ("n<5", "-10", true),
            ("n<5", "5", false),
            ("n>5", "six", false),
            ("n>5", "", false),
            ("n>-", "6", false),
        ];
        for (selector, value, expected) in cases {
            let r = match LabelSelector::parse(selector) {
                Ok(s) => s.requirements[0].clone(),
                // `n>-` is not parseable; build it by hand to test matching alone.
                Err(_) => req("n", Operator::GreaterThan, &["-"]),
            };
            assert_eq!(
                r.matches(&labels(&[("n", value)])),
                expected,
                "{selector} on {value:?}"
            );
        }
        assert!(!LabelSelector::parse("n>5").unwrap().matches(&labels(&[])));
    }

    /// The configmaps of the kubectl scenario `selectors and output formats`.
    #[test]
    fn kubectl_scenario_selections() {
        let objects = [
            (
                "sel-a",
                labels(&[("sel", "yes"), ("app", "web"), ("env", "prod")]),
            ),
            (
                "sel-b",
                labels(&[("sel", "yes"), ("app", "web"), ("env", "dev")]),
            ),
            (
                "sel-c",
                labels(&[("sel", "yes"), ("app", "db"), ("env", "prod")]),
            ),
            ("sel-d", labels(&[("sel", "yes"), ("app", "db")])),
            ("other", labels(&[("app", "web"), ("env", "prod")])),
        ];
        let cases = [
            ("sel=yes,app=web", "sel-a sel-b"),
            ("sel=yes,app!=web", "sel-c sel-d"),
            ("sel=yes,env in (prod,dev)", "sel-a sel-b sel-c"),
            ("sel=yes,env notin (prod)", "sel-b sel-d"),
            ("sel=yes,!env", "sel-d"),
        ];
        for (selector, expected) in cases {
            let s = LabelSelector::parse(selector).unwrap();
            let names: Vec<&str> = objects
                .iter()
                .filter(|(_, l)| s.matches(l))
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(names.join(" "), expected, "{selector}");
        }
    }

    #[test]
    fn converts_match_labels_and_expressions() {
        let expr = |k: &str, op: &str, vs: &[&str]| {
            (
                k.to_string(),
                op.to_string(),
                vs.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            )
        };
        let s = LabelSelector::from_match(
            &labels(&[("b", "2"), ("a", "1")]),
            &[
                expr("c", "In", &["y", "x"]),
                expr("d", "NotIn", &["z"]),
                expr("e", "Exists", &[]),
                expr("f", "DoesNotExist", &[]),
            ],
        )
        .unwrap();
        assert_eq!(s.to_string(), "a=1,b=2,c in (x,y),d notin (z),e,!f");
        assert_eq!(
            s.requirements[2].values,
            vec!["y", "x"],
            "values keep their given order"
        );
        assert!(s.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "x"), ("e", "")])));
        assert!(!s.matches(&labels(&[
            ("a", "1"),
            ("b", "2"),
            ("c", "x"),
            ("e", ""),
            ("f", "")
        ])));

        let empty = LabelSelector::from_match(&BTreeMap::new(), &[]).unwrap();
        assert!(empty.is_empty() && empty.matches(&labels(&[("any", "thing")])));

        let errors = [
            (expr("a", "Equals", &["x"]), "\"Equals\" is not a valid label selector operator".to_string()),
            (expr("a", "", &[]), "\"\" is not a valid label selector operator".to_string()),
            (expr("a", "In", &[]), "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".to_string()),
            (expr("a", "NotIn", &[]), "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".to_string()),
            (
                expr("a", "Exists", &["x", "<y>"]),
                "values: Invalid value: [\"x\",\"\\u003cy\\u003e\"]: values set must be empty for exists and does not exist, values[1][a]: Invalid value: \"<y>\": "
                    .to_string()
                    + LABEL_VALUE_SHAPE,
            ),
            (expr("a", "DoesNotExist", &["x"]), "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist".to_string()),
            (expr("a b", "Exists", &[]), format!("key: Invalid value: \"a b\": name part {NAME_PART_SHAPE}")),
            (expr("a", "In", &["ok", "no!"]), format!("values[1][a]: Invalid value: \"no!\": {LABEL_VALUE_SHAPE}")),
        ];
        for (e, message) in errors {
            let got = LabelSelector::from_match(&BTreeMap::new(), std::slice::from_ref(&e));
            let expected = if message.contains(", values[1]") {
                format!("[{message}]")
            } else {
                message
            };
            assert_eq!(got, Err(expected), "{e:?}");
        }
        assert_eq!(
            LabelSelector::from_match(&labels(&[("app", "a b")]), &[]),
            Err(format!(
                "values[0][app]: Invalid value: \"a b\": {LABEL_VALUE_SHAPE}"
            ))
        );
    }

    #[test]
    fn requirement_new_checks_value_counts() {
        let one = |op| Requirement::new("k", op, vec![]).unwrap_err();
        assert_eq!(
            one(Operator::Equals),
            "values: Invalid value: null: exact-match compatibility requires one single value"
        );
        assert_eq!(
            one(Operator::GreaterThan),
            "values: Invalid value: null: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        assert!(Requirement::new("k", Operator::LessThan, vec!["10".into()]).is_ok());
    }

    #[test]
    fn from_set_and_exact_match() {
        let s = LabelSelector::from_set(&labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(s.to_string(), "a=1,b=2");
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), None);
        let s = LabelSelector::parse("a in (x),b in (x,y),c!=z").unwrap();
        assert_eq!(s.requires_exact_match("a"), Some("x"));
        assert_eq!(s.requires_exact_match("b"), None);
        assert_eq!(s.requires_exact_match("c"), None);
        assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn display_sorts_hand_built_selectors() {
        let s = LabelSelector {
            requirements: vec![
                req("z", Operator::In, &["b", "a"]),
                req("a", Operator::LessThan, &["3"]),
            ],
        };
        assert_eq!(s.to_string(), "a<3,z in (a,b)");
    }

    fn field(f: &str, operator: FieldOperator, v: &str) -> FieldRequirement {
        FieldRequirement {
            field: f.into(),
            operator,
            value: v.into(),
        }
    }

    #[test]
    fn parses_field_selectors() {
        use FieldOperator::{Equals, NotEquals};
        let cases: Vec<(&str, Vec<FieldRequirement>, &str)> = vec![
            ("", vec![], ""),
            (",", vec![], ""),
            ("=", vec![], ""),
            (
                "metadata.name=x",
                vec![field("metadata.name", Equals, "x")],
                "metadata.name=x",
            ),
            (
                "metadata.name==x",
                vec![field("metadata.name", Equals, "x")],
                "metadata.name=x",
            ),
            (
                "metadata.name!=x",
                vec![field("metadata.name", NotEquals, "x")],
                "metadata.name!=x",
            ),
            (
                "metadata.name=",
                vec![field("metadata.name", Equals, "")],
                "metadata.name=",
            ),
            ("=x", vec![field("", Equals, "x")], "=x"),
            (
                "status.phase!=Running,metadata.namespace=default",
                vec![
                    field("metadata.namespace", Equals, "default"),
                    field("status.phase", NotEquals, "Running"),
                ],
                "metadata.namespace=default,status.phase!=Running",
            ),
            (
                "a=x,,b=y",
                vec![field("a", Equals, "x"), field("b", Equals, "y")],
                "a=x,b=y",
            ),
            (r"a=x\,y", vec![field("a", Equals, "x,y")], r"a=x\,y"),
            (r"a=x\=y", vec![field("a", Equals, "x=y")], r"a=x\=y"),
            (r"a=x\\y", vec![field("a", Equals, r"x\y")], r"a=x\\y"),
            (
                r"a=\\,b=c",
                vec![field("a", Equals, r"\"), field("b", Equals, "c")],
                r"a=\\,b=c",
            ),
            ("a=!x", vec![field("a", Equals, "!x")], "a=!x"),
            ("a!x=y", vec![field("a!x", Equals, "y")], "a!x=y"),
            (" a = b ", vec![field(" a ", Equals, " b ")], " a = b "),
            (
                "spec.nodeName=nöde",
                vec![field("spec.nodeName", Equals, "nöde")],
                "spec.nodeName=nöde",
            ),
        ];
        for (input, requirements, canonical) in cases {
            let parsed = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.requirements, requirements, "input {input:?}");
            assert_eq!(parsed.to_string(), canonical, "input {input:?}");
            assert_eq!(
                FieldSelector::parse(canonical).unwrap(),
                parsed,
                "canonical form of {input:?} round-trips"
            );
        }
    }

    #[test]
    fn rejects_malformed_field_selectors_with_upstream_messages() {
        let cases = [
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            (
                "a=b,foo",
                "invalid selector: 'a=b,foo'; can't understand 'foo'",
            ),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a!==b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a===b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                r"a=\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=\!",
                r"invalid field selector: invalid escape sequence: \!",
            ),
            (
                r"a=x\",
                r"invalid field selector: invalid escape sequence: \",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                FieldSelector::parse(input),
                Err(message.to_string()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn matches_fields_and_reports_exact_values() {
        let s = FieldSelector::parse("metadata.name=web,status.phase!=Failed").unwrap();
        let object = |name: &'static str, phase: Option<&'static str>| {
            move |f: &str| match f {
                "metadata.name" => Some(name.to_string()),
                "status.phase" => phase.map(str::to_string),
                _ => None,
            }
        };
        assert!(s.matches(object("web", Some("Running"))));
        assert!(s.matches(object("web", None)));
        assert!(!s.matches(object("web", Some("Failed"))));
        assert!(!s.matches(object("db", Some("Running"))));
        assert!(
            FieldSelector::parse("spec.nodeName=")
                .unwrap()
                .matches(|_| None)
        );
        assert_eq!(s.requires_exact_match("metadata.name"), Some("web"));
        assert_eq!(s.requires_exact_match("status.phase"), None);
        assert!(FieldSelector::parse("").unwrap().is_empty());
    }

    #[test]
    fn escapes_field_values() {
        for (raw, escaped) in [
            ("plain", "plain"),
            ("a,b", r"a\,b"),
            ("a=b", r"a\=b"),
            (r"a\b", r"a\\b"),
            ("a!b", "a!b"),
        ] {
            assert_eq!(escape_field_value(raw), escaped);
            assert_eq!(unescape_field_value(escaped).as_deref(), Ok(raw));
        }
    }
}
