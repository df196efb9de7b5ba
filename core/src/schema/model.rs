//! The schema model: what a user declares and what `$schema-<name>` streams store, as JSON.
//!
//! Every struct refuses unknown keys when read from JSON: a misspelt rule (`"requried": true`)
//! would otherwise vanish silently and the contract would be weaker than its author believes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// A named contract for the JSON data of the events whose type is `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Also the event type it governs.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "UnknownFields::is_allow")]
    pub unknown_fields: UnknownFields,
    /// The rule the *next* upsert of this schema must keep with this version.
    #[serde(default, skip_serializing_if = "CompatibilityMode::is_backward")]
    pub compatibility: CompatibilityMode,
}

impl Schema {
    pub fn new(name: impl Into<String>) -> Schema {
        Schema {
            name: name.into(),
            description: None,
            fields: Vec::new(),
            unknown_fields: UnknownFields::Allow,
            compatibility: CompatibilityMode::Backward,
        }
    }

    pub fn field(mut self, field: Field) -> Schema {
        self.fields.push(field);
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Schema {
        self.description = Some(description.into());
        self
    }

    pub fn reject_unknown_fields(mut self) -> Schema {
        self.unknown_fields = UnknownFields::Reject;
        self
    }

    pub fn compatibility(mut self, mode: CompatibilityMode) -> Schema {
        self.compatibility = mode;
        self
    }

    /// Reads a schema from its JSON form. Malformed JSON is an `INVALID_SCHEMA` like any other
    /// problem of the definition, so callers handle one error code for "this schema is wrong".
    pub fn from_json(json: &[u8]) -> Result<Schema> {
        serde_json::from_slice(json).map_err(|e| Error::InvalidSchema {
            schema: schema_name_hint(json),
            problems: vec![format!("not a schema definition: {e}")],
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a schema always serialises: its map keys are strings")
    }
}

/// The `name` of a definition that did not parse, when it has one, so the error names its schema.
fn schema_name_hint(json: &[u8]) -> String {
    serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

/// One field of an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The field must be present and not null. Cannot be combined with `nullable`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    /// Inclusive bounds of numbers and integers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Inclusive bounds of the length of strings (in characters) and arrays (in items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// A regular expression (Rust `regex` syntax) the *whole* string must match: it is anchored
    /// at both ends, so `a+` refuses `"baa"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Written into the data when the field is absent or null, then stored as part of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Field {
    pub fn new(name: impl Into<String>, field_type: FieldType) -> Field {
        Field {
            name: name.into(),
            field_type,
            required: false,
            nullable: false,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
            default: None,
            description: None,
        }
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn nullable(mut self) -> Field {
        self.nullable = true;
        self
    }

    pub fn min(mut self, min: f64) -> Field {
        self.min = Some(min);
        self
    }

    pub fn max(mut self, max: f64) -> Field {
        self.max = Some(max);
        self
    }

    pub fn min_length(mut self, min_length: u64) -> Field {
        self.min_length = Some(min_length);
        self
    }

    pub fn max_length(mut self, max_length: u64) -> Field {
        self.max_length = Some(max_length);
        self
    }

    pub fn pattern(mut self, pattern: impl Into<String>) -> Field {
        self.pattern = Some(pattern.into());
        self
    }

    pub fn default(mut self, default: Value) -> Field {
        self.default = Some(default);
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Field {
        self.description = Some(description.into());
        self
    }
}

/// The JSON shape of a field: `"number"`, `"integer"`, `"string"`, `"boolean"`,
/// `{"enum": ["a", "b"]}`, `{"array": <type>}`, `{"object": {"fields": [...]}}` or
/// `{"ref": {"name": "Address", "version": 2}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Any JSON number.
    Number,
    /// A JSON number written without a fraction or an exponent. `3.0` is refused: most
    /// consumers deserialise integers with serde or `JSON.parse` into integer types, which fail
    /// or round on it.
    Integer,
    String,
    Boolean,
    /// A string among the variants (case-sensitive).
    Enum(Vec<String>),
    /// An array whose items all have this type; items are never null.
    Array(Box<FieldType>),
    /// An object declared in place.
    Object(ObjectType),
    /// An object described by another schema (or by this schema itself, for recursive data).
    Ref(SchemaRef),
}

impl FieldType {
    pub fn enumeration<S: Into<String>>(variants: impl IntoIterator<Item = S>) -> FieldType {
        FieldType::Enum(variants.into_iter().map(Into::into).collect())
    }

    pub fn array(element: FieldType) -> FieldType {
        FieldType::Array(Box::new(element))
    }

    pub fn object(fields: Vec<Field>) -> FieldType {
        FieldType::Object(ObjectType::new(fields))
    }

    /// The latest version of schema `name` when the referring schema is upserted (or this
    /// schema itself when `name` is its own name).
    pub fn reference(name: impl Into<String>) -> FieldType {
        FieldType::Ref(SchemaRef { name: name.into(), version: None })
    }

    pub fn reference_version(name: impl Into<String>, version: u32) -> FieldType {
        FieldType::Ref(SchemaRef { name: name.into(), version: Some(version) })
    }

    /// The name used in problems, violations and compatibility reasons.
    pub fn kind(&self) -> &'static str {
        match self {
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Enum(_) => "enum",
            FieldType::Array(_) => "array",
            FieldType::Object(_) | FieldType::Ref(_) => "object",
        }
    }
}

/// An object type declared inside a field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectType {
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "UnknownFields::is_allow")]
    pub unknown_fields: UnknownFields,
}

impl ObjectType {
    pub fn new(fields: Vec<Field>) -> ObjectType {
        ObjectType { fields, unknown_fields: UnknownFields::Allow }
    }

    pub fn reject_unknown_fields(mut self) -> ObjectType {
        self.unknown_fields = UnknownFields::Reject;
        self
    }
}

/// A reference to another schema. A version pins the exact contract; without one the
/// registry pins the latest version when the referring schema is upserted and stores the
/// pinned form, so a stored schema version means the same thing forever. A reference to the
/// schema's own name without a version is a reference to itself (recursive data).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// What to do with object members that no field declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownFields {
    /// Keep them, unchecked.
    #[default]
    Allow,
    /// Refuse the data with one `unknown_field` violation per member.
    Reject,
}

impl UnknownFields {
    fn is_allow(&self) -> bool {
        *self == UnknownFields::Allow
    }
}

/// What an upsert must keep with the version it replaces. The mode of the version in force
/// governs the upsert that replaces it, so relaxing the rule is itself a visible version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompatibilityMode {
    /// Any change is accepted.
    None,
    /// Data written with the previous version is valid under the new one (readers can
    /// upgrade first).
    #[default]
    Backward,
    /// Data written with the new version is valid under the previous one (writers can
    /// upgrade first).
    Forward,
    /// Both.
    Full,
}

impl CompatibilityMode {
    fn is_backward(&self) -> bool {
        *self == CompatibilityMode::Backward
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityMode::None => "none",
            CompatibilityMode::Backward => "backward",
            CompatibilityMode::Forward => "forward",
            CompatibilityMode::Full => "full",
        }
    }
}
