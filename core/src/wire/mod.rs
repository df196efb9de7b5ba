//! The wire contract of a GraveyardDB node: the gRPC service generated at build time from
//! `proto/graveyard/v1` ([`v1`]), and the one place that converts between it and the core's
//! types and errors, for the server and for [`crate::Client`] alike.
//!
//! Direction conventions:
//! - core -> wire is infallible (`From` impls and `*_to_wire` functions);
//! - wire -> core checks what the protobuf types cannot express (UUID lengths, enum values,
//!   required messages) and fails with the error the core itself would give for the same
//!   mistake: INVALID_ARGUMENT, or INVALID_SCHEMA for schema definitions. The message names the
//!   field, so a client can fix its request.
//!
//! Errors: [`error_to_status`] puts the core error's code and typed fields into an
//! [`ErrorDetail`](pb::ErrorDetail) inside the standard `google.rpc.Status` details, and
//! [`status_to_error`] rebuilds the exact error from it.

use std::time::Duration;

use crate::schema::{
    CompatibilityMode, Field, FieldType, ObjectType, RegisteredSchema, Schema, SchemaRef, SchemaUpsert,
    UnknownFields, Violation, ViolationRule,
};
use crate::{
    AppendResult, CurrentRevision, Direction, Error, ErrorCode, EventData, EventRef, ExpectedVersion, Filter,
    GroupInfo, GroupSettings, GroupStrategy, GroupTarget, NackAction, RecordedEvent, ReplayInfo, Result,
    Snapshot, StreamInfo, StreamMetadata, StreamSummary, SubscriptionStart, Uuid, CONTENT_TYPE_JSON,
};
use prost::Message;
use tonic::{Code, Status};

use self::google::rpc;
use self::v1 as pb;

/// Generated from `proto/graveyard/v1/*.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("graveyard.v1");
}

/// The standard gRPC error envelope (`google.rpc.Status`).
pub mod google {
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

/// The encoded `FileDescriptorSet` of the wire contract (proto/graveyard/v1 and google.rpc),
/// which nodes serve through gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/graveyard_descriptor_set.bin"));

/// The type URL of [`pb::ErrorDetail`] inside `google.rpc.Status.details`.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/graveyard.v1.ErrorDetail";

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}

// ---- ids and events -------------------------------------------------------------------------

/// An event id on the wire: 16 bytes, or empty for "none".
pub fn uuid_from_wire(bytes: &[u8], what: &str) -> Result<Option<Uuid>> {
    match bytes.len() {
        0 => Ok(None),
        16 => Ok(Some(Uuid::from_slice(bytes).expect("16 bytes are a UUID"))),
        n => Err(invalid(format!("{what} is {n} bytes; a UUID is 16 bytes (or empty to generate one)"))),
    }
}

/// The events of an append. Errors name the event by its index in the append, as the core does.
pub fn events_from_wire(events: Vec<pb::EventData>) -> Result<Vec<EventData>> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let id = uuid_from_wire(&event.id, &format!("event {index}: id"))?;
            let content_type = event.content_type.unwrap_or_else(|| CONTENT_TYPE_JSON.to_owned());
            Ok(EventData {
                id,
                event_type: event.r#type,
                data: event.data,
                metadata: event.metadata,
                content_type,
            })
        })
        .collect()
}

impl From<EventData> for pb::EventData {
    fn from(event: EventData) -> Self {
        pb::EventData {
            id: event.id.map(|id| id.as_bytes().to_vec()).unwrap_or_default(),
            r#type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            content_type: Some(event.content_type),
        }
    }
}

/// An event read in place, copied once: straight into its wire form.
pub fn event_ref_to_wire(event: &EventRef<'_>) -> pb::RecordedEvent {
    pb::RecordedEvent {
        stream: event.stream.to_owned(),
        revision: event.revision,
        position: event.position,
        id: event.id.as_bytes().to_vec(),
        r#type: event.event_type.to_owned(),
        content_type: event.content_type.to_owned(),
        data: event.data.to_vec(),
        metadata: event.metadata.to_vec(),
        timestamp: event.timestamp,
        shredded: event.shredded,
        schema_version: event.schema_version,
    }
}

impl From<RecordedEvent> for pb::RecordedEvent {
    fn from(event: RecordedEvent) -> Self {
        pb::RecordedEvent {
            stream: event.stream,
            revision: event.revision,
            position: event.position,
            id: event.id.as_bytes().to_vec(),
            r#type: event.event_type,
            content_type: event.content_type,
            data: event.data,
            metadata: event.metadata,
            timestamp: event.timestamp,
            shredded: event.shredded,
            schema_version: event.schema_version,
        }
    }
}

impl TryFrom<pb::RecordedEvent> for RecordedEvent {
    type Error = Error;
    fn try_from(event: pb::RecordedEvent) -> Result<Self> {
        let id = uuid_from_wire(&event.id, "recorded event id")?
            .ok_or_else(|| invalid("a recorded event has no id"))?;
        Ok(RecordedEvent {
            stream: event.stream,
            revision: event.revision,
            position: event.position,
            id,
            event_type: event.r#type,
            content_type: event.content_type,
            data: event.data,
            metadata: event.metadata,
            timestamp: event.timestamp,
            shredded: event.shredded,
            schema_version: event.schema_version,
        })
    }
}

// ---- versions and results -------------------------------------------------------------------

impl From<ExpectedVersion> for pb::ExpectedVersion {
    fn from(expected: ExpectedVersion) -> Self {
        use pb::expected_version::Kind;
        let (kind, revision) = match expected {
            ExpectedVersion::Any => (Kind::Any, 0),
            ExpectedVersion::NoStream => (Kind::NoStream, 0),
            ExpectedVersion::StreamExists => (Kind::StreamExists, 0),
            ExpectedVersion::Exact(n) => (Kind::Exact, n),
        };
        pb::ExpectedVersion { kind: kind.into(), revision }
    }
}

impl TryFrom<pb::ExpectedVersion> for ExpectedVersion {
    type Error = Error;
    fn try_from(expected: pb::ExpectedVersion) -> Result<Self> {
        use pb::expected_version::Kind;
        let kind = Kind::try_from(expected.kind)
            .map_err(|_| invalid(format!("expected version: unknown kind {}", expected.kind)))?;
        if kind != Kind::Exact && expected.revision != 0 {
            return Err(invalid(format!(
                "expected version: a revision ({}) is only meaningful with KIND_EXACT",
                expected.revision
            )));
        }
        Ok(match kind {
            Kind::Any => ExpectedVersion::Any,
            Kind::NoStream => ExpectedVersion::NoStream,
            Kind::StreamExists => ExpectedVersion::StreamExists,
            Kind::Exact => ExpectedVersion::Exact(expected.revision),
        })
    }
}

/// An optional expected version: absent is `Any`.
pub fn expected_from_wire(expected: Option<pb::ExpectedVersion>) -> Result<ExpectedVersion> {
    expected.map_or(Ok(ExpectedVersion::Any), ExpectedVersion::try_from)
}

impl From<CurrentRevision> for pb::CurrentRevision {
    fn from(current: CurrentRevision) -> Self {
        match current {
            CurrentRevision::NoStream => pb::CurrentRevision { revision: None },
            CurrentRevision::Revision(n) => pb::CurrentRevision { revision: Some(n) },
        }
    }
}

impl From<pb::CurrentRevision> for CurrentRevision {
    fn from(current: pb::CurrentRevision) -> Self {
        current.revision.map_or(CurrentRevision::NoStream, CurrentRevision::Revision)
    }
}

impl From<AppendResult> for pb::AppendResult {
    fn from(r: AppendResult) -> Self {
        pb::AppendResult {
            first_revision: r.first_revision,
            last_revision: r.last_revision,
            first_position: r.first_position,
            last_position: r.last_position,
        }
    }
}

impl From<pb::AppendResult> for AppendResult {
    fn from(r: pb::AppendResult) -> Self {
        AppendResult {
            first_revision: r.first_revision,
            last_revision: r.last_revision,
            first_position: r.first_position,
            last_position: r.last_position,
        }
    }
}

// ---- reads ----------------------------------------------------------------------------------

pub fn direction_from_wire(direction: i32) -> Result<Direction> {
    match pb::Direction::try_from(direction) {
        Ok(pb::Direction::Forwards) => Ok(Direction::Forwards),
        Ok(pb::Direction::Backwards) => Ok(Direction::Backwards),
        Err(_) => Err(invalid(format!("direction: unknown value {direction}"))),
    }
}

pub fn direction_to_wire(direction: Direction) -> i32 {
    match direction {
        Direction::Forwards => pb::Direction::Forwards.into(),
        Direction::Backwards => pb::Direction::Backwards.into(),
    }
}

impl From<Filter> for pb::Filter {
    fn from(filter: Filter) -> Self {
        pb::Filter { stream_prefixes: filter.stream_prefixes, event_types: filter.event_types }
    }
}

impl From<pb::Filter> for Filter {
    fn from(filter: pb::Filter) -> Self {
        Filter { stream_prefixes: filter.stream_prefixes, event_types: filter.event_types }
    }
}

/// An optional filter: absent matches everything.
pub fn filter_from_wire(filter: Option<pb::Filter>) -> Filter {
    filter.map(Filter::from).unwrap_or_default()
}

impl From<SubscriptionStart> for pb::SubscriptionStart {
    fn from(start: SubscriptionStart) -> Self {
        use pb::subscription_start::Kind;
        let (kind, checkpoint) = match start {
            SubscriptionStart::Start => (Kind::Start, 0),
            SubscriptionStart::End => (Kind::End, 0),
            SubscriptionStart::After(c) => (Kind::After, c),
        };
        pb::SubscriptionStart { kind: kind.into(), checkpoint }
    }
}

/// An optional start: absent is the first event.
pub fn start_from_wire(start: Option<pb::SubscriptionStart>) -> Result<SubscriptionStart> {
    use pb::subscription_start::Kind;
    let Some(start) = start else { return Ok(SubscriptionStart::Start) };
    let kind =
        Kind::try_from(start.kind).map_err(|_| invalid(format!("start: unknown kind {}", start.kind)))?;
    if kind != Kind::After && start.checkpoint != 0 {
        return Err(invalid(format!(
            "start: a checkpoint ({}) is only meaningful with KIND_AFTER",
            start.checkpoint
        )));
    }
    Ok(match kind {
        Kind::Start => SubscriptionStart::Start,
        Kind::End => SubscriptionStart::End,
        Kind::After => SubscriptionStart::After(start.checkpoint),
    })
}

// ---- streams --------------------------------------------------------------------------------

impl From<StreamMetadata> for pb::StreamMetadata {
    fn from(m: StreamMetadata) -> Self {
        pb::StreamMetadata {
            max_count: m.max_count,
            max_age_ms: m.max_age.map(crate::types::millis_ceil),
            truncate_before: m.truncate_before,
        }
    }
}

impl From<pb::StreamMetadata> for StreamMetadata {
    fn from(m: pb::StreamMetadata) -> Self {
        StreamMetadata {
            max_count: m.max_count,
            max_age: m.max_age_ms.map(Duration::from_millis),
            truncate_before: m.truncate_before,
        }
    }
}

impl From<StreamSummary> for pb::StreamSummary {
    fn from(s: StreamSummary) -> Self {
        pb::StreamSummary {
            name: s.name,
            next_revision: s.next_revision,
            last_position: s.last_position,
            deleted: s.deleted,
            deleted_before: s.deleted_before,
            tombstoned: s.tombstoned,
            shredded: s.shredded,
        }
    }
}

impl From<pb::StreamSummary> for StreamSummary {
    fn from(s: pb::StreamSummary) -> Self {
        StreamSummary {
            name: s.name,
            next_revision: s.next_revision,
            last_position: s.last_position,
            deleted: s.deleted,
            deleted_before: s.deleted_before,
            tombstoned: s.tombstoned,
            shredded: s.shredded,
        }
    }
}

impl From<StreamInfo> for pb::StreamInfo {
    fn from(info: StreamInfo) -> Self {
        pb::StreamInfo {
            current: Some(info.current.into()),
            next_revision: info.next_revision,
            deleted: info.deleted,
            metadata: Some(info.metadata.into()),
            shredded: info.shredded,
        }
    }
}

impl From<pb::StreamInfo> for StreamInfo {
    fn from(info: pb::StreamInfo) -> Self {
        StreamInfo {
            current: info.current.map_or(CurrentRevision::NoStream, CurrentRevision::from),
            next_revision: info.next_revision,
            deleted: info.deleted,
            shredded: info.shredded,
            metadata: info.metadata.map(StreamMetadata::from).unwrap_or_default(),
        }
    }
}

impl From<Snapshot> for pb::Snapshot {
    fn from(s: Snapshot) -> Self {
        pb::Snapshot { stream: s.stream, revision: s.revision, data: s.data, timestamp: s.timestamp }
    }
}

impl From<pb::Snapshot> for Snapshot {
    fn from(s: pb::Snapshot) -> Self {
        Snapshot { stream: s.stream, revision: s.revision, data: s.data, timestamp: s.timestamp }
    }
}

// ---- consumer groups ------------------------------------------------------------------------

impl From<GroupTarget> for pb::GroupTarget {
    fn from(target: GroupTarget) -> Self {
        let target = match target {
            GroupTarget::All(filter) => pb::group_target::Target::All(filter.into()),
            GroupTarget::Stream(stream) => pb::group_target::Target::Stream(stream),
        };
        pb::GroupTarget { target: Some(target) }
    }
}

/// A group's target: required.
pub fn group_target_from_wire(target: Option<pb::GroupTarget>) -> Result<GroupTarget> {
    match target.and_then(|t| t.target) {
        Some(pb::group_target::Target::All(filter)) => Ok(GroupTarget::All(filter.into())),
        Some(pb::group_target::Target::Stream(stream)) => Ok(GroupTarget::Stream(stream)),
        None => Err(invalid("a consumer group needs a target: all (with a filter) or a stream")),
    }
}

impl From<GroupSettings> for pb::GroupSettings {
    fn from(s: GroupSettings) -> Self {
        pb::GroupSettings {
            max_retries: Some(s.max_retries),
            ack_timeout_ms: Some(crate::types::millis_ceil(s.ack_timeout)),
            max_in_flight: Some(s.max_in_flight),
            strategy: match s.strategy {
                GroupStrategy::RoundRobin => pb::GroupStrategy::RoundRobin.into(),
                GroupStrategy::PinnedByStream => pb::GroupStrategy::PinnedByStream.into(),
            },
        }
    }
}

/// Settings: each absent field (or absent settings) takes the core's default.
pub fn group_settings_from_wire(settings: Option<pb::GroupSettings>) -> Result<GroupSettings> {
    let defaults = GroupSettings::default();
    let Some(s) = settings else { return Ok(defaults) };
    let strategy = match pb::GroupStrategy::try_from(s.strategy) {
        Ok(pb::GroupStrategy::RoundRobin) => GroupStrategy::RoundRobin,
        Ok(pb::GroupStrategy::PinnedByStream) => GroupStrategy::PinnedByStream,
        Err(_) => return Err(invalid(format!("group settings: unknown strategy {}", s.strategy))),
    };
    Ok(GroupSettings {
        max_retries: s.max_retries.unwrap_or(defaults.max_retries),
        ack_timeout: s.ack_timeout_ms.map_or(defaults.ack_timeout, Duration::from_millis),
        max_in_flight: s.max_in_flight.unwrap_or(defaults.max_in_flight),
        strategy,
    })
}

impl From<GroupInfo> for pb::GroupInfo {
    fn from(info: GroupInfo) -> Self {
        pb::GroupInfo {
            name: info.name,
            target: Some(info.target.into()),
            settings: Some(info.settings.into()),
            checkpoint: info.checkpoint,
            lag: info.lag,
            members: info.members,
            in_flight: info.in_flight,
            buffered: info.buffered,
            parked_stream: info.parked_stream,
            parked: info.parked,
            replaying: info.replaying,
        }
    }
}

impl TryFrom<pb::GroupInfo> for GroupInfo {
    type Error = Error;
    fn try_from(info: pb::GroupInfo) -> Result<Self> {
        Ok(GroupInfo {
            name: info.name,
            target: group_target_from_wire(info.target)?,
            settings: group_settings_from_wire(info.settings)?,
            checkpoint: info.checkpoint,
            lag: info.lag,
            members: info.members,
            in_flight: info.in_flight,
            buffered: info.buffered,
            parked_stream: info.parked_stream,
            parked: info.parked,
            replaying: info.replaying,
        })
    }
}

impl From<ReplayInfo> for pb::ReplayParkedResponse {
    fn from(info: ReplayInfo) -> Self {
        pb::ReplayParkedResponse {
            first_revision: info.revisions.start,
            end_revision: info.revisions.end,
            parked: info.parked,
            replaying: info.replaying,
        }
    }
}

impl TryFrom<pb::ReplayParkedResponse> for ReplayInfo {
    type Error = Error;
    fn try_from(info: pb::ReplayParkedResponse) -> Result<Self> {
        if info.first_revision > info.end_revision {
            return Err(Error::Internal("a replay answer whose revisions end before they start".into()));
        }
        Ok(ReplayInfo {
            revisions: info.first_revision..info.end_revision,
            parked: info.parked,
            replaying: info.replaying,
        })
    }
}

pub fn nack_action_from_wire(action: i32) -> Result<NackAction> {
    match pb::NackAction::try_from(action) {
        Ok(pb::NackAction::Retry) => Ok(NackAction::Retry),
        Ok(pb::NackAction::Park) => Ok(NackAction::Park),
        Ok(pb::NackAction::Skip) => Ok(NackAction::Skip),
        Ok(pb::NackAction::Unspecified) => Err(invalid("a nack names its action: retry, park or skip")),
        Err(_) => Err(invalid(format!("nack: unknown action {action}"))),
    }
}

pub fn nack_action_to_wire(action: NackAction) -> i32 {
    match action {
        NackAction::Retry => pb::NackAction::Retry.into(),
        NackAction::Park => pb::NackAction::Park.into(),
        NackAction::Skip => pb::NackAction::Skip.into(),
    }
}

// ---- schemas --------------------------------------------------------------------------------

impl From<&Schema> for pb::Schema {
    fn from(schema: &Schema) -> Self {
        pb::Schema {
            name: schema.name.clone(),
            description: schema.description.clone(),
            fields: schema.fields.iter().map(field_to_wire).collect(),
            unknown_fields: unknown_fields_to_wire(schema.unknown_fields),
            compatibility: match schema.compatibility {
                CompatibilityMode::None => pb::Compatibility::None,
                CompatibilityMode::Backward => pb::Compatibility::Backward,
                CompatibilityMode::Forward => pb::Compatibility::Forward,
                CompatibilityMode::Full => pb::Compatibility::Full,
            }
            .into(),
        }
    }
}

fn unknown_fields_to_wire(unknown: UnknownFields) -> i32 {
    match unknown {
        UnknownFields::Allow => pb::UnknownFields::Allow.into(),
        UnknownFields::Reject => pb::UnknownFields::Reject.into(),
    }
}

fn field_to_wire(field: &Field) -> pb::SchemaField {
    pb::SchemaField {
        name: field.name.clone(),
        r#type: Some(field_type_to_wire(&field.field_type)),
        required: field.required,
        nullable: field.nullable,
        min: field.min,
        max: field.max,
        min_length: field.min_length,
        max_length: field.max_length,
        pattern: field.pattern.clone(),
        default_json: field.default.as_ref().map(|v| v.to_string()),
        description: field.description.clone(),
    }
}

fn field_type_to_wire(field_type: &FieldType) -> pb::FieldType {
    use pb::field_type::Kind;
    let scalar = |s: pb::ScalarType| Kind::Scalar(s.into());
    let kind = match field_type {
        FieldType::Number => scalar(pb::ScalarType::Number),
        FieldType::Integer => scalar(pb::ScalarType::Integer),
        FieldType::String => scalar(pb::ScalarType::String),
        FieldType::Boolean => scalar(pb::ScalarType::Boolean),
        FieldType::Enum(variants) => Kind::Enumeration(pb::EnumType { variants: variants.clone() }),
        FieldType::Array(element) => Kind::Array(Box::new(field_type_to_wire(element))),
        FieldType::Object(object) => Kind::Object(pb::ObjectType {
            fields: object.fields.iter().map(field_to_wire).collect(),
            unknown_fields: unknown_fields_to_wire(object.unknown_fields),
        }),
        FieldType::Ref(reference) => {
            Kind::Reference(pb::SchemaRef { name: reference.name.clone(), version: reference.version })
        }
    };
    pb::FieldType { kind: Some(kind) }
}

/// A schema definition from the wire. Every problem the wire form can have (a field without a
/// type, an unknown enum value, a default that is not JSON) is reported, all at once, as
/// INVALID_SCHEMA: the same code the core gives for any other problem of a definition.
pub fn schema_from_wire(schema: pb::Schema) -> Result<Schema> {
    let mut problems = Vec::new();
    let unknown_fields = unknown_fields_from_wire(schema.unknown_fields, "", &mut problems);
    let compatibility = match pb::Compatibility::try_from(schema.compatibility) {
        Ok(pb::Compatibility::None) => CompatibilityMode::None,
        Ok(pb::Compatibility::Backward) => CompatibilityMode::Backward,
        Ok(pb::Compatibility::Forward) => CompatibilityMode::Forward,
        Ok(pb::Compatibility::Full) => CompatibilityMode::Full,
        Err(_) => {
            problems.push(format!("unknown compatibility mode {}", schema.compatibility));
            CompatibilityMode::Backward
        }
    };
    let fields = fields_from_wire(schema.fields, "", &mut problems);
    if !problems.is_empty() {
        return Err(Error::InvalidSchema { schema: schema.name, problems });
    }
    Ok(Schema { name: schema.name, description: schema.description, fields, unknown_fields, compatibility })
}

fn unknown_fields_from_wire(value: i32, path: &str, problems: &mut Vec<String>) -> UnknownFields {
    match pb::UnknownFields::try_from(value) {
        Ok(pb::UnknownFields::Allow) => UnknownFields::Allow,
        Ok(pb::UnknownFields::Reject) => UnknownFields::Reject,
        Err(_) => {
            problems.push(format!("{}unknown unknown_fields value {value}", at(path)));
            UnknownFields::Allow
        }
    }
}

/// `field 'a.b': ` (the prefix of a problem), or nothing at the top.
fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("field '{path}': ")
    }
}

fn fields_from_wire(fields: Vec<pb::SchemaField>, parent: &str, problems: &mut Vec<String>) -> Vec<Field> {
    fields.into_iter().map(|f| field_from_wire(f, parent, problems)).collect()
}

fn field_from_wire(field: pb::SchemaField, parent: &str, problems: &mut Vec<String>) -> Field {
    let path = if parent.is_empty() { field.name.clone() } else { format!("{parent}.{}", field.name) };
    let field_type = match field.r#type {
        Some(t) => field_type_from_wire(t, &path, problems),
        None => {
            problems.push(format!("{}has no type", at(&path)));
            FieldType::String
        }
    };
    let default = field.default_json.and_then(|json| match serde_json::from_str(&json) {
        Ok(value) => Some(value),
        Err(e) => {
            problems.push(format!("{}default_json is not JSON: {e}", at(&path)));
            None
        }
    });
    Field {
        name: field.name,
        field_type,
        required: field.required,
        nullable: field.nullable,
        min: field.min,
        max: field.max,
        min_length: field.min_length,
        max_length: field.max_length,
        pattern: field.pattern,
        default,
        description: field.description,
    }
}

fn field_type_from_wire(field_type: pb::FieldType, path: &str, problems: &mut Vec<String>) -> FieldType {
    use pb::field_type::Kind;
    match field_type.kind {
        Some(Kind::Scalar(scalar)) => match pb::ScalarType::try_from(scalar) {
            Ok(pb::ScalarType::Number) => FieldType::Number,
            Ok(pb::ScalarType::Integer) => FieldType::Integer,
            Ok(pb::ScalarType::String) => FieldType::String,
            Ok(pb::ScalarType::Boolean) => FieldType::Boolean,
            Ok(pb::ScalarType::Unspecified) | Err(_) => {
                problems.push(format!("{}unknown scalar type {scalar}", at(path)));
                FieldType::String
            }
        },
        Some(Kind::Enumeration(e)) => FieldType::Enum(e.variants),
        Some(Kind::Array(element)) => {
            FieldType::Array(Box::new(field_type_from_wire(*element, &format!("{path}[]"), problems)))
        }
        Some(Kind::Object(object)) => FieldType::Object(ObjectType {
            unknown_fields: unknown_fields_from_wire(object.unknown_fields, path, problems),
            fields: fields_from_wire(object.fields, path, problems),
        }),
        Some(Kind::Reference(r)) => FieldType::Ref(SchemaRef { name: r.name, version: r.version }),
        None => {
            problems.push(format!("{}has a type with no kind", at(path)));
            FieldType::String
        }
    }
}

impl From<&RegisteredSchema> for pb::RegisteredSchema {
    fn from(registered: &RegisteredSchema) -> Self {
        pb::RegisteredSchema { version: registered.version, schema: Some((&registered.schema).into()) }
    }
}

impl TryFrom<pb::RegisteredSchema> for RegisteredSchema {
    type Error = Error;
    fn try_from(registered: pb::RegisteredSchema) -> Result<Self> {
        let schema = registered.schema.ok_or_else(|| invalid("a registered schema has no definition"))?;
        Ok(RegisteredSchema { version: registered.version, schema: schema_from_wire(schema)? })
    }
}

impl From<SchemaUpsert> for pb::UpsertSchemaResponse {
    fn from(upsert: SchemaUpsert) -> Self {
        pb::UpsertSchemaResponse { name: upsert.name, version: upsert.version, changed: upsert.changed }
    }
}

impl From<pb::UpsertSchemaResponse> for SchemaUpsert {
    fn from(upsert: pb::UpsertSchemaResponse) -> Self {
        SchemaUpsert { name: upsert.name, version: upsert.version, changed: upsert.changed }
    }
}

impl From<&Violation> for pb::Violation {
    fn from(v: &Violation) -> Self {
        pb::Violation {
            path: v.path.clone(),
            rule: v.rule.as_str().to_owned(),
            value_json: v.value.to_string(),
            message: v.message.clone(),
            value_truncated: false,
        }
    }
}

impl TryFrom<pb::Violation> for Violation {
    type Error = Error;
    fn try_from(v: pb::Violation) -> Result<Self> {
        let rule: ViolationRule = serde_json::from_value(serde_json::Value::String(v.rule.clone()))
            .map_err(|_| invalid(format!("unknown violation rule '{}'", v.rule)))?;
        // The node wrote the value as JSON; text that does not parse (a value the node cut to
        // fit the status) is kept as a string rather than dropped.
        let value = serde_json::from_str(&v.value_json).unwrap_or(serde_json::Value::String(v.value_json));
        Ok(Violation { path: v.path, rule, value, message: v.message })
    }
}

// ---- errors ---------------------------------------------------------------------------------

/// The gRPC status code of each error code: a coarse hint for generic gRPC tooling (retry
/// policies, dashboards). Clients map errors by the [`pb::ErrorDetail`] code, never by this.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::WrongExpectedVersion => Code::FailedPrecondition,
        ErrorCode::StreamDeleted => Code::FailedPrecondition,
        ErrorCode::SchemaViolation => Code::InvalidArgument,
        ErrorCode::InvalidSchema => Code::InvalidArgument,
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::Encryption => Code::DataLoss,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::Unavailable => Code::Unavailable,
        // The node's store is closing: the request may succeed on another node, or after a
        // restart. Retry-safe, like UNAVAILABLE.
        ErrorCode::Closed => Code::Unavailable,
        ErrorCode::Corruption => Code::DataLoss,
        ErrorCode::IncompatibleFormat => Code::FailedPrecondition,
        ErrorCode::Io => Code::Internal,
        ErrorCode::Internal => Code::Internal,
        ErrorCode::Unsupported => Code::Unimplemented,
    }
}

/// The typed fields of a core error, on the wire.
pub fn error_detail(error: &Error) -> pb::ErrorDetail {
    let mut detail = pb::ErrorDetail { code: error.code().as_str().to_owned(), ..Default::default() };
    match error {
        Error::WrongExpectedVersion { stream, expected, actual } => {
            detail.stream = stream.clone();
            detail.expected = Some((*expected).into());
            detail.actual = Some((*actual).into());
        }
        Error::StreamDeleted { stream } => detail.stream = stream.clone(),
        Error::SchemaViolation { schema, version, event, violations } => {
            detail.schema = schema.clone();
            detail.schema_version = Some(*version);
            detail.event_index = Some(*event as u64);
            detail.violations = violations.iter().map(pb::Violation::from).collect();
        }
        Error::InvalidSchema { schema, problems } => {
            detail.schema = schema.clone();
            detail.problems = problems.clone();
        }
        Error::InvalidArgument(m)
        | Error::NotFound(m)
        | Error::Encryption(m)
        | Error::Unauthenticated(m)
        | Error::PermissionDenied(m)
        | Error::Unavailable(m)
        | Error::Corruption(m)
        | Error::IncompatibleFormat(m)
        | Error::Unsupported(m)
        | Error::Io(m)
        | Error::Internal(m) => detail.message = m.clone(),
        Error::Closed => {}
    }
    detail
}

/// Longest status message, in bytes (UTF-8, cut at a character boundary).
const MAX_STATUS_MESSAGE: usize = 1024;
/// Largest encoded [`pb::ErrorDetail`]. A status travels in HTTP/2 trailers, which clients cap
/// (16 KiB by default in hyper, so in tonic): the detail (base64 in the trailer, with the message
/// again in the envelope) and the percent-encoded message must fit together, or the client gets
/// a protocol error instead of the typed error.
const MAX_DETAIL_BYTES: usize = 7 * 1024;
/// What a violation's offending value is cut to when the detail is over its budget.
const MAX_VIOLATION_VALUE: usize = 256;

/// The status a node answers a failed request with: the gRPC code of the error's code, its
/// text, and its [`pb::ErrorDetail`] in the standard details.
pub fn error_to_status(error: &Error) -> Status {
    detail_status(grpc_code(error.code()), error.to_string(), error_detail(error))
}

/// A status for an error that is not a core error (authentication, a malformed session), with
/// its code in an [`pb::ErrorDetail`] like every other.
pub fn code_status(code: ErrorCode, message: impl Into<String>) -> Status {
    let message = message.into();
    let detail =
        pb::ErrorDetail { code: code.as_str().to_owned(), message: message.clone(), ..Default::default() };
    detail_status(grpc_code(code), message, detail)
}

fn detail_status(code: Code, message: String, mut detail: pb::ErrorDetail) -> Status {
    let message = truncated(message, MAX_STATUS_MESSAGE);
    fit(&mut detail);
    let envelope = rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: ERROR_DETAIL_TYPE_URL.to_owned(),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, envelope.encode_to_vec().into())
}

/// `text` cut to at most `max` bytes at a character boundary, marked when cut.
fn truncated(mut text: String, max: usize) -> String {
    const MARK: &str = "… (truncated)";
    if text.len() > max {
        let mut end = max - MARK.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(MARK);
    }
    text
}

/// Brings a detail within [`MAX_DETAIL_BYTES`], cutting what the caller already has or can
/// recompute first, and saying what was cut: long offending values (the client sent them), then
/// the last violations or problems (counted in `*_omitted`). Codes and typed fields of conflicts
/// are small and never cut.
fn fit(detail: &mut pb::ErrorDetail) {
    detail.message = truncated(std::mem::take(&mut detail.message), MAX_STATUS_MESSAGE);
    if detail.encoded_len() <= MAX_DETAIL_BYTES {
        return;
    }
    for violation in &mut detail.violations {
        if violation.value_json.len() > MAX_VIOLATION_VALUE {
            violation.value_json = truncated(std::mem::take(&mut violation.value_json), MAX_VIOLATION_VALUE);
            violation.value_truncated = true;
        }
        violation.message = truncated(std::mem::take(&mut violation.message), MAX_VIOLATION_VALUE);
        violation.path = truncated(std::mem::take(&mut violation.path), MAX_VIOLATION_VALUE);
    }
    for problem in &mut detail.problems {
        *problem = truncated(std::mem::take(problem), MAX_VIOLATION_VALUE * 2);
    }
    while detail.encoded_len() > MAX_DETAIL_BYTES && !detail.violations.is_empty() {
        detail.violations.pop();
        detail.violations_omitted += 1;
    }
    while detail.encoded_len() > MAX_DETAIL_BYTES && !detail.problems.is_empty() {
        detail.problems.pop();
        detail.problems_omitted += 1;
    }
}

/// A status as a message, for an answer that carries its failure in a field (an
/// `AppendSession` answer): its code, message and details, as its trailers would carry them.
/// The code and message are the status's own (an envelope could disagree with them); only the
/// details come from its envelope.
pub fn status_to_message(status: &Status) -> rpc::Status {
    let details = match rpc::Status::decode(status.details()) {
        Ok(envelope) if !status.details().is_empty() => envelope.details,
        _ => Vec::new(),
    };
    rpc::Status { code: status.code() as i32, message: status.message().to_owned(), details }
}

/// The status a message of [`status_to_message`] stands for, as if it had come in trailers.
pub fn status_from_message(message: &rpc::Status) -> Status {
    let code = Code::from(message.code);
    if message.details.is_empty() {
        return Status::new(code, message.message.clone());
    }
    Status::with_details(code, message.message.clone(), message.encode_to_vec().into())
}

/// The [`pb::ErrorDetail`] a status carries, if it carries one.
pub fn status_detail(status: &Status) -> Option<pb::ErrorDetail> {
    let envelope = rpc::Status::decode(status.details()).ok()?;
    envelope
        .details
        .iter()
        .find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
        .and_then(|any| pb::ErrorDetail::decode(any.value.as_slice()).ok())
}

/// The core error a status stands for: rebuilt exactly from its [`pb::ErrorDetail`] when it has
/// one; otherwise (a status from the transport or from a proxy) inferred from the gRPC code,
/// keeping the status message.
pub fn status_to_error(status: &Status) -> Error {
    match status_detail(status) {
        Some(detail) => error_from_detail(detail, status.message()),
        None => error_from_code(status.code(), status.message()),
    }
}

/// Rebuilds the core error of an [`pb::ErrorDetail`]; `status_message` is the status text, used
/// only by codes this build does not know. A detail the node cut to fit its status
/// (`violations_omitted`, `problems_omitted`, `value_truncated`) rebuilds into an error with
/// what was kept.
pub fn error_from_detail(detail: pb::ErrorDetail, status_message: &str) -> Error {
    let Some(code) = ErrorCode::parse(&detail.code) else {
        return Error::Internal(format!("{}: {status_message}", detail.code));
    };
    match code {
        ErrorCode::WrongExpectedVersion => {
            let expected = match detail.expected.map(ExpectedVersion::try_from) {
                Some(Ok(expected)) => expected,
                _ => return malformed(&detail.code, status_message),
            };
            Error::WrongExpectedVersion {
                stream: detail.stream,
                expected,
                actual: detail.actual.map_or(CurrentRevision::NoStream, CurrentRevision::from),
            }
        }
        ErrorCode::StreamDeleted => Error::StreamDeleted { stream: detail.stream },
        ErrorCode::SchemaViolation => {
            let violations: Result<Vec<Violation>> =
                detail.violations.into_iter().map(Violation::try_from).collect();
            let event = detail.event_index.and_then(|i| usize::try_from(i).ok());
            match (detail.schema_version, event, violations) {
                (Some(version), Some(event), Ok(violations)) => {
                    Error::SchemaViolation { schema: detail.schema, version, event, violations }
                }
                _ => malformed(&detail.code, status_message),
            }
        }
        ErrorCode::InvalidSchema => Error::InvalidSchema { schema: detail.schema, problems: detail.problems },
        ErrorCode::InvalidArgument => Error::InvalidArgument(detail.message),
        ErrorCode::NotFound => Error::NotFound(detail.message),
        ErrorCode::Encryption => Error::Encryption(detail.message),
        ErrorCode::Unauthenticated => Error::Unauthenticated(detail.message),
        ErrorCode::PermissionDenied => Error::PermissionDenied(detail.message),
        ErrorCode::Unavailable => Error::Unavailable(detail.message),
        ErrorCode::Closed => Error::Closed,
        ErrorCode::Corruption => Error::Corruption(detail.message),
        ErrorCode::IncompatibleFormat => Error::IncompatibleFormat(detail.message),
        ErrorCode::Io => Error::Io(detail.message),
        ErrorCode::Internal => Error::Internal(detail.message),
        ErrorCode::Unsupported => Error::Unsupported(detail.message),
    }
}

/// An error detail whose typed fields do not parse (a node of another version, or a proxy):
/// its text is all there is, and it is kept.
fn malformed(code: &str, status_message: &str) -> Error {
    Error::Internal(format!("{code} (malformed error detail): {status_message}"))
}

fn error_from_code(code: Code, message: &str) -> Error {
    let message = message.to_owned();
    match code {
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Aborted => {
            Error::Unavailable(message)
        }
        // RESOURCE_EXHAUSTED and OUT_OF_RANGE are how gRPC refuses a message over its size limit.
        Code::InvalidArgument | Code::OutOfRange | Code::ResourceExhausted => Error::InvalidArgument(message),
        Code::NotFound => Error::NotFound(message),
        Code::DataLoss => Error::Corruption(message),
        Code::Unauthenticated => Error::Unauthenticated(message),
        Code::PermissionDenied => Error::PermissionDenied(message),
        other => Error::Internal(format!("{}: {message}", grpc_code_name(other))),
    }
}

fn grpc_code_name(code: Code) -> &'static str {
    match code {
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::Unknown => "UNKNOWN",
        _ => "INTERNAL",
    }
}
