//! Validation of JSON data against a compiled schema, and the violations it reports.
//!
//! The success path allocates nothing: paths are a chain of stack frames rendered to text only
//! when a violation is reported, and violations are only built on failure. Filling a default
//! clones it (the data must own it).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::compiled::{CompiledObject, CompiledType, LengthRange, NumberRange, StringRules};

/// Most violations one validation reports. Every one clones an offending value and renders a
/// path and a message, so data crafted to break a rule in each of millions of array items
/// would otherwise cost far more memory than the event itself.
pub const MAX_VIOLATIONS: usize = 100;

/// How deep defaults nest when a default is expanded at compile time before the expansion is
/// taken for an endless one (a default that, once filled, needs itself again).
const MAX_DEFAULT_DEPTH: u32 = 64;
/// How many nested defaults one default may expand into; bounds the work of schemas whose
/// defaults branch (two fields that each default to an object holding both again).
const MAX_DEFAULT_EXPANSION: usize = 10_000;

/// The rule a value broke. The snake_case names (`as_str`, serde) are stable: bindings and
/// users match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationRule {
    /// A required field is absent and has no default.
    Required,
    /// Null where the field (or an array item) cannot be null.
    Nullable,
    /// The JSON type does not match the field's type.
    Type,
    Min,
    Max,
    MinLength,
    MaxLength,
    Pattern,
    /// A string that is not one of the enum's variants.
    Enum,
    /// A member no field declares, in an object that rejects unknown fields.
    UnknownField,
    /// The event data itself is not a JSON object.
    NotAnObject,
    /// The event's content type is not `application/json`.
    ContentType,
}

impl ViolationRule {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationRule::Required => "required",
            ViolationRule::Nullable => "nullable",
            ViolationRule::Type => "type",
            ViolationRule::Min => "min",
            ViolationRule::Max => "max",
            ViolationRule::MinLength => "min_length",
            ViolationRule::MaxLength => "max_length",
            ViolationRule::Pattern => "pattern",
            ViolationRule::Enum => "enum",
            ViolationRule::UnknownField => "unknown_field",
            ViolationRule::NotAnObject => "not_an_object",
            ViolationRule::ContentType => "content_type",
        }
    }
}

impl fmt::Display for ViolationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way the data broke its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Where: `address.zip`, `items[2].qty`; empty for the data itself.
    pub path: String,
    pub rule: ViolationRule,
    /// The offending value; null when the value is absent.
    pub value: Value,
    /// For people; not stable. It never repeats the value, which may be personal data.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} ({})", self.message, self.rule)
        } else {
            write!(f, "{}: {} ({})", self.path, self.message, self.rule)
        }
    }
}

/// What a successful validation did to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidationOutcome {
    /// Defaults written into the data. When zero the data is unchanged, so its original bytes
    /// can be stored as they are.
    pub defaults_filled: usize,
}

impl ValidationOutcome {
    pub fn changed(&self) -> bool {
        self.defaults_filled > 0
    }
}

pub(super) fn validate_root(
    objects: &[CompiledObject],
    data: &mut Value,
) -> Result<ValidationOutcome, Vec<Violation>> {
    let mut walk = Walk::new(false);
    match data {
        Value::Object(map) => walk.object(objects, &objects[0], map, &Path::Root),
        other => walk.report(&Path::Root, ViolationRule::NotAnObject, other, || {
            format!("must be a JSON object, not {}", json_kind(other))
        }),
    }
    if walk.violations.is_empty() {
        Ok(ValidationOutcome { defaults_filled: walk.defaults_filled })
    } else {
        Err(walk.violations)
    }
}

/// The compile-time check of a field's default, which also expands it: the defaults it
/// receives are checked and expanded in turn, so the stored form is final and validation can
/// insert it without looking inside.
pub(super) struct DefaultCheck {
    pub violations: Vec<Violation>,
    /// The expansion did not end (or grew past [`MAX_DEFAULT_EXPANSION`]).
    pub endless: bool,
}

pub(super) fn expand_default(
    objects: &[CompiledObject],
    ty: &CompiledType,
    default: &mut Value,
    field_path: &str,
) -> DefaultCheck {
    let mut walk = Walk::new(true);
    let path = Path::Field(&Path::Root, field_path);
    walk.value(objects, ty, default, &path);
    DefaultCheck { violations: walk.violations, endless: walk.endless_default }
}

/// Where a value sits, as a chain of frames on the stack.
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.write(out);
                if !matches!(parent, Path::Root) {
                    out.push('.');
                }
                out.push_str(name);
            }
            Path::Index(parent, index) => {
                parent.write(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

struct Walk {
    violations: Vec<Violation>,
    defaults_filled: usize,
    /// Compile time only: descend into the defaults filled in (see [`expand_default`]).
    expand_defaults: bool,
    /// How many filled defaults enclose the value being checked. Violations inside them are
    /// not reported: each default is checked, and its problems reported, on its own.
    default_depth: u32,
    endless_default: bool,
}

impl Walk {
    fn new(expand_defaults: bool) -> Walk {
        Walk {
            violations: Vec::new(),
            defaults_filled: 0,
            expand_defaults,
            default_depth: 0,
            endless_default: false,
        }
    }

    fn full(&self) -> bool {
        self.violations.len() >= MAX_VIOLATIONS || self.endless_default
    }

    #[cold]
    fn report(
        &mut self,
        path: &Path<'_>,
        rule: ViolationRule,
        value: &Value,
        message: impl FnOnce() -> String,
    ) {
        if self.default_depth > 0 || self.violations.len() >= MAX_VIOLATIONS {
            return;
        }
        self.violations.push(Violation {
            path: path.render(),
            rule,
            value: value.clone(),
            message: message(),
        });
    }

    fn object(
        &mut self,
        objects: &[CompiledObject],
        object: &CompiledObject,
        map: &mut Map<String, Value>,
        path: &Path<'_>,
    ) {
        // Field names are unique (compile refuses duplicates), so when this count equals the
        // map's size every member is declared and unknown members need no search.
        let mut declared_members = 0usize;
        for field in object.fields.iter() {
            if self.full() {
                return;
            }
            let field_path = Path::Field(path, &field.name);
            match map.get_mut(field.name.as_str()) {
                Some(value) => {
                    declared_members += 1;
                    if !value.is_null() {
                        self.value(objects, &field.ty, value, &field_path);
                    } else if let Some(default) = &field.default {
                        *value = default.clone();
                        self.filled_default(objects, &field.ty, value, &field_path);
                    } else if !field.nullable {
                        self.report(&field_path, ViolationRule::Nullable, &Value::Null, || {
                            "must not be null".to_owned()
                        });
                    }
                }
                None => {
                    if let Some(default) = &field.default {
                        declared_members += 1;
                        let value = map.entry(field.name.clone()).or_insert_with(|| default.clone());
                        self.filled_default(objects, &field.ty, value, &field_path);
                    } else if field.required {
                        self.report(&field_path, ViolationRule::Required, &Value::Null, || {
                            "is required".to_owned()
                        });
                    }
                }
            }
        }
        if object.reject_unknown && map.len() > declared_members {
            for (name, value) in map.iter() {
                if object.field(name).is_none() {
                    self.report(&Path::Field(path, name), ViolationRule::UnknownField, value, || {
                        "is not a declared field, and unknown fields are rejected".to_owned()
                    });
                }
            }
        }
    }

    fn filled_default(
        &mut self,
        objects: &[CompiledObject],
        ty: &CompiledType,
        value: &mut Value,
        path: &Path<'_>,
    ) {
        self.defaults_filled += 1;
        if !self.expand_defaults {
            return;
        }
        if self.default_depth >= MAX_DEFAULT_DEPTH || self.defaults_filled > MAX_DEFAULT_EXPANSION {
            self.endless_default = true;
            return;
        }
        self.default_depth += 1;
        self.value(objects, ty, value, path);
        self.default_depth -= 1;
    }

    fn value(&mut self, objects: &[CompiledObject], ty: &CompiledType, value: &mut Value, path: &Path<'_>) {
        match (ty, value) {
            (CompiledType::Number(range), Value::Number(n)) => self.range(range, n, path),
            (CompiledType::Integer(range), Value::Number(n)) => {
                if n.is_i64() || n.is_u64() {
                    self.range(range, n, path);
                } else {
                    let n = Value::Number(n.clone());
                    self.report(path, ViolationRule::Type, &n, || {
                        "must be an integer (a number written without a fraction or an exponent)".to_owned()
                    });
                }
            }
            (CompiledType::String(rules), Value::String(s)) => self.string(rules, s, path),
            (CompiledType::Boolean, Value::Bool(_)) => {}
            (CompiledType::Enum(variants), Value::String(s)) => {
                if variants.binary_search_by(|v| v.as_str().cmp(s)).is_err() {
                    let s = Value::String(s.clone());
                    self.report(path, ViolationRule::Enum, &s, || enum_message(variants));
                }
            }
            (CompiledType::Array { length, element }, Value::Array(items)) => {
                self.length(*length, items.len(), "items", path, || Value::Array(items.clone()));
                for (index, item) in items.iter_mut().enumerate() {
                    if self.full() {
                        return;
                    }
                    let item_path = Path::Index(path, index);
                    if item.is_null() {
                        self.report(&item_path, ViolationRule::Nullable, item, || {
                            "array items must not be null".to_owned()
                        });
                    } else {
                        self.value(objects, element, item, &item_path);
                    }
                }
            }
            (CompiledType::Object(object), Value::Object(map)) => {
                let (objects, object) = object.resolve(objects);
                self.object(objects, object, map, path);
            }
            (ty, value) => self.report(path, ViolationRule::Type, value, || {
                format!("must be {}, not {}", expected_kind(ty), json_kind(value))
            }),
        }
    }

    fn range(&mut self, range: &NumberRange, n: &Number, path: &Path<'_>) {
        if let Some(min) = range.min {
            if compare_number(n, min) == Ordering::Less {
                self.report(path, ViolationRule::Min, &Value::Number(n.clone()), || {
                    format!("must be at least {min}")
                });
            }
        }
        if let Some(max) = range.max {
            if compare_number(n, max) == Ordering::Greater {
                self.report(path, ViolationRule::Max, &Value::Number(n.clone()), || {
                    format!("must be at most {max}")
                });
            }
        }
    }

    fn string(&mut self, rules: &StringRules, s: &str, path: &Path<'_>) {
        let length = rules.length;
        // The byte length settles most limits without counting characters.
        if !length.settled_by_bytes(s.len()) {
            self.length(length, s.chars().count(), "characters", path, || Value::String(s.to_owned()));
        }
        if let Some(pattern) = &rules.pattern {
            if !pattern.regex.is_match(s) {
                self.report(path, ViolationRule::Pattern, &Value::String(s.to_owned()), || {
                    format!("must match the pattern {}", pattern.source)
                });
            }
        }
    }

    fn length(
        &mut self,
        range: LengthRange,
        len: usize,
        unit: &str,
        path: &Path<'_>,
        value: impl FnOnce() -> Value,
    ) {
        if let Some(min) = range.min.filter(|&min| len < min) {
            self.report(path, ViolationRule::MinLength, &value(), || {
                format!("must have at least {min} {unit} (has {len})")
            });
        } else if let Some(max) = range.max.filter(|&max| len > max) {
            self.report(path, ViolationRule::MaxLength, &value(), || {
                format!("must have at most {max} {unit} (has {len})")
            });
        }
    }
}

/// Compares a JSON number with a finite bound exactly: integers beyond 2^53 are not rounded
/// to the nearest double first, so `9007199254740993` is above a max of `9007199254740992`.
pub(super) fn compare_number(n: &Number, bound: f64) -> Ordering {
    // 2^63 and 2^64 are exact doubles; every double in [-2^63, 2^63) or [0, 2^64) that is
    // floored converts to the integer type exactly.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    let (whole, fraction) = (bound.floor(), bound - bound.floor());
    let with_fraction = |ordering: Ordering| match ordering {
        Ordering::Equal if fraction > 0.0 => Ordering::Less,
        other => other,
    };
    if let Some(i) = n.as_i64() {
        if bound >= TWO_POW_63 {
            Ordering::Less
        } else if bound < -TWO_POW_63 {
            Ordering::Greater
        } else {
            with_fraction(i.cmp(&(whole as i64)))
        }
    } else if let Some(u) = n.as_u64() {
        if bound >= TWO_POW_64 {
            Ordering::Less
        } else if bound < 0.0 {
            Ordering::Greater
        } else {
            with_fraction(u.cmp(&(whole as u64)))
        }
    } else {
        n.as_f64().and_then(|f| f.partial_cmp(&bound)).unwrap_or(Ordering::Equal)
    }
}

/// Lists the variants, up to a point: the message is repeated in every violation of the field.
fn enum_message(variants: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut message = format!("must be one of: {}", variants[..variants.len().min(SHOWN)].join(", "));
    if variants.len() > SHOWN {
        message.push_str(&format!(" (and {} more)", variants.len() - SHOWN));
    }
    message
}

fn expected_kind(ty: &CompiledType) -> &'static str {
    match ty {
        CompiledType::Number(_) => "a number",
        CompiledType::Integer(_) => "an integer",
        CompiledType::String(_) => "a string",
        CompiledType::Boolean => "a boolean",
        CompiledType::Enum(_) => "a string (one of the enum's variants)",
        CompiledType::Array { .. } => "an array",
        CompiledType::Object(_) => "an object",
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
