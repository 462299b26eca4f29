//! Label and field selectors: upstream's string syntax (`app=web,env in (a,b),!beta`,
//! `metadata.name=x,status.phase!=Running`), its parse errors, and matching.

use std::collections::BTreeMap;

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
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether a label set satisfies the requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let _ = labels;
        true
    }
}

/// A label selector: all requirements must match. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parse the string syntax (`?labelSelector=`), with upstream's error messages.
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        Ok(Self::default())
    }

    /// The selector of a `metav1.LabelSelector`: `matchLabels` plus `matchExpressions` given as
    /// (key, operator `In|NotIn|Exists|DoesNotExist`, values). Errors name the bad operator or values.
    pub fn from_match(
        match_labels: &BTreeMap<String, String>,
        expressions: &[(String, String, Vec<String>)],
    ) -> Result<Self, String> {
        let _ = (match_labels, expressions);
        Ok(Self::default())
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
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
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A field selector: all requirements must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parse the string syntax (`?fieldSelector=`), with upstream's escaping and error messages.
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        Ok(Self::default())
    }

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
}
