//! The runner of the language-neutral scenarios of `conformance/*.json`, shared by the runs
//! against the embedded store (core/tests/conformance.rs) and against a cluster through
//! `graveyard::Client` (server/tests/cluster_conformance.rs).
//!
//! The format is specified in `conformance/README.md`; this runner is its reference
//! implementation. A scenario is parsed and checked whole before any step runs, so an unknown
//! op or key fails the scenario instead of letting a step pass vacuously. Every scenario runs
//! (each on a fresh store) and all failures are reported at the end. `CONFORMANCE_FILTER=<text>`
//! runs only the files whose name contains the text.

#![allow(dead_code)] // each test crate that includes this uses its own part

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use graveyard::schema::{RegisteredSchema, Schema, SchemaUpsert};
use graveyard::{
    AppendResult, CurrentRevision, Direction, Error, ErrorCode, EventData, ExpectedVersion, Filter,
    ReadAllOptions, ReadOptions, RecordedEvent, Result, Snapshot, StreamInfo, StreamMetadata, Uuid,
    CONTENT_TYPE_BINARY, CONTENT_TYPE_JSON,
};
use serde_json::{json, Map, Value};

type Res<T> = std::result::Result<T, String>;

/// Runs every scenario (or those `CONFORMANCE_FILTER` names), each on a store `open` creates, and
/// panics with every failure.
pub fn run_all(open: &mut Open<'_>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance");
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario (*.json) in {}", dir.display());
    files.retain(|path| path.file_name().is_some_and(|name| name.to_string_lossy().contains(&filter)));
    assert!(!files.is_empty(), "CONFORMANCE_FILTER={filter:?} matches no scenario in {}", dir.display());

    let mut failures = Vec::new();
    let mut steps = 0;
    for file in &files {
        let label = format!("conformance/{}", file.file_name().unwrap_or_default().to_string_lossy());
        match run_file(file, &label, open) {
            Ok(report) => {
                steps += report.steps;
                failures.extend(report.failures);
            }
            Err(failure) => failures.push(failure),
        }
    }
    println!("conformance: {} scenario(s), {steps} step(s) run, {} failure(s)", files.len(), failures.len());
    if !failures.is_empty() {
        panic!(
            "{} conformance failure(s) (format: conformance/README.md):\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

struct Report {
    steps: usize,
    failures: Vec<String>,
}

/// Parses and runs one scenario file on a store `open` creates. `Err` is a failure that
/// prevented running it at all.
fn run_file(file: &Path, label: &str, open: &mut Open<'_>) -> Res<Report> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("--- {label}: cannot read: {e}"))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("--- {label}: invalid JSON: {e}"))?;
    let mut ids = Ids::default();
    let scenario =
        parse_scenario(&value, &mut ids).map_err(|e| format!("--- {label}: malformed scenario: {e}"))?;
    let streams = scenario.streams();
    let fresh =
        Fresh { max_event_size: scenario.max_event_size, master_key: scenario.master_key, streams: &streams };
    let mut store = open(&fresh)
        .map_err(|e| format!("--- {label}: scenario {:?}: cannot open a fresh store: {e}", scenario.name))?;

    let mut report = Report { steps: 0, failures: Vec::new() };
    for (index, step) in scenario.steps.iter().enumerate() {
        report.steps += 1;
        let outcome = match catch_unwind(AssertUnwindSafe(|| execute(store.as_mut(), &step.op))) {
            Ok(outcome) => outcome,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                report.failures.push(failure(
                    label,
                    &scenario.name,
                    index,
                    step,
                    &format!("the operation panicked: {message}\n  (the rest of the scenario is skipped)"),
                ));
                break;
            }
        };
        if let Some(problem) = check(&step.expect, &outcome, &mut ids) {
            report.failures.push(failure(label, &scenario.name, index, step, &problem));
        }
    }
    store.close();
    Ok(report)
}

fn failure(label: &str, scenario: &str, index: usize, step: &Step, problem: &str) -> String {
    let mut raw = step.raw.to_string();
    if raw.len() > 400 {
        let mut cut = 400;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        raw.truncate(cut);
        raw.push_str(" ...");
    }
    format!("--- {label}: scenario {scenario:?}, step {index} ({})\n  step: {raw}\n  {problem}", step.op_name)
}

// ---------------------------------------------------------------------------------------------
// The scenario, parsed.

struct Scenario {
    name: String,
    max_event_size: Option<usize>,
    master_key: Option<[u8; 32]>,
    steps: Vec<Step>,
}

struct Step {
    op_name: String,
    op: Op,
    expect: Expect,
    raw: Value,
}

enum Op {
    Append {
        stream: String,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    },
    ReadStream {
        stream: String,
        options: ReadOptions,
    },
    ReadAll {
        options: ReadAllOptions,
    },
    StreamInfo {
        stream: String,
    },
    SetStreamMetadata {
        stream: String,
        metadata: StreamMetadata,
    },
    GetStreamMetadata {
        stream: String,
    },
    DeleteStream {
        stream: String,
        expected: ExpectedVersion,
    },
    TombstoneStream {
        stream: String,
        expected: ExpectedVersion,
    },
    ShredStream {
        stream: String,
    },
    SaveSnapshot {
        stream: String,
        revision: u64,
        data: Vec<u8>,
    },
    GetSnapshot {
        stream: String,
    },
    HeadPosition,
    /// The definition is kept as JSON and read at run time: a malformed one is an outcome
    /// (INVALID_SCHEMA) to check, not a malformed scenario.
    UpsertSchema {
        definition: Value,
    },
    GetSchema {
        name: String,
        version: Option<u32>,
    },
    ListSchemas,
    Close,
    Reopen,
    Sleep(Duration),
}

impl Scenario {
    fn streams(&self) -> Vec<String> {
        let mut streams: Vec<String> = Vec::new();
        for step in &self.steps {
            let stream = match &step.op {
                Op::Append { stream, .. }
                | Op::ReadStream { stream, .. }
                | Op::StreamInfo { stream }
                | Op::SetStreamMetadata { stream, .. }
                | Op::GetStreamMetadata { stream }
                | Op::DeleteStream { stream, .. }
                | Op::TombstoneStream { stream, .. }
                | Op::ShredStream { stream }
                | Op::SaveSnapshot { stream, .. }
                | Op::GetSnapshot { stream } => stream,
                _ => continue,
            };
            if !streams.contains(stream) {
                streams.push(stream.clone());
            }
        }
        streams
    }
}

enum Expect {
    /// Neither `expect` nor `expect_error`: must succeed.
    Success,
    Result(Value),
    Error(Value),
}

/// Event-id placeholders (`$id:<name>`): one UUID per name, generated on first use, shared by
/// the arguments and the expectations of a scenario.
#[derive(Default)]
struct Ids(HashMap<String, Uuid>);

impl Ids {
    fn resolve(&mut self, text: &str) -> Res<Uuid> {
        match text.strip_prefix("$id:") {
            Some(name) if !name.is_empty() => {
                Ok(*self.0.entry(name.to_string()).or_insert_with(Uuid::new_v4))
            }
            Some(_) => Err("an id placeholder needs a name: \"$id:<name>\"".into()),
            None => Uuid::parse_str(text)
                .map_err(|e| format!("id {text:?} is neither a UUID nor \"$id:<name>\": {e}")),
        }
    }
}

fn object<'a>(value: &'a Value, what: &str, allowed: &[&str]) -> Res<&'a Map<String, Value>> {
    let map = value.as_object().ok_or_else(|| format!("{what} must be an object, got {value}"))?;
    if let Some(key) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(format!("unknown key {key:?} in {what} (known: {})", allowed.join(", ")));
    }
    Ok(map)
}

fn required<'a>(map: &'a Map<String, Value>, key: &str, what: &str) -> Res<&'a Value> {
    map.get(key).ok_or_else(|| format!("{what} needs {key:?}"))
}

fn uint(value: &Value, what: &str) -> Res<u64> {
    value.as_u64().ok_or_else(|| format!("{what} must be a non-negative integer, got {value}"))
}

/// Absent and `null` are both "not set".
fn optional_uint(map: &Map<String, Value>, key: &str, what: &str) -> Res<Option<u64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => uint(value, &format!("{what}.{key}")).map(Some),
    }
}

fn parse_scenario(value: &Value, ids: &mut Ids) -> Res<Scenario> {
    let map = object(value, "the scenario", &["name", "description", "options", "steps"])?;
    let name = required(map, "name", "the scenario")?
        .as_str()
        .filter(|name| !name.is_empty())
        .ok_or("\"name\" must be a non-empty string")?
        .to_string();
    required(map, "description", "the scenario")?.as_str().ok_or("\"description\" must be a string")?;
    let (max_event_size, master_key) = match map.get("options") {
        None => (None, None),
        Some(options) => {
            let options = object(options, "\"options\"", &["max_event_size", "master_key"])?;
            let max_event_size = optional_uint(options, "max_event_size", "options")?
                .map(|size| {
                    usize::try_from(size).map_err(|_| "options.max_event_size is too large".to_string())
                })
                .transpose()?;
            let master_key = options.get("master_key").map(parse_master_key).transpose()?;
            (max_event_size, master_key)
        }
    };
    let steps = required(map, "steps", "the scenario")?.as_array().ok_or("\"steps\" must be an array")?;
    if steps.is_empty() {
        return Err("\"steps\" is empty".into());
    }
    let steps = steps
        .iter()
        .enumerate()
        .map(|(index, step)| parse_step(step, ids).map_err(|e| format!("step {index}: {e}")))
        .collect::<Res<Vec<_>>>()?;
    Ok(Scenario { name, max_event_size, master_key, steps })
}

/// `options.master_key`: 64 hex digits.
fn parse_master_key(value: &Value) -> Res<[u8; 32]> {
    let text = value.as_str().filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let text = text.ok_or("options.master_key must be a string of 64 hex digits")?;
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex digits");
    }
    Ok(key)
}

const STEP_KEYS: &[&str] = &["op", "note", "expect", "expect_error"];

fn parse_step(value: &Value, ids: &mut Ids) -> Res<Step> {
    let map = value.as_object().ok_or_else(|| format!("a step must be an object, got {value}"))?;
    let op_name = required(map, "op", "a step")?.as_str().ok_or("\"op\" must be a string")?.to_string();
    let (arguments, result_keys): (&[&str], &[&str]) = match op_name.as_str() {
        "append" => (&["stream", "expected_version", "events"], &APPEND_RESULT_KEYS),
        "read_stream" => (&["stream", "direction", "from", "limit"], &READ_RESULT_KEYS),
        "read_all" => (&["direction", "from", "limit", "filter"], &READ_RESULT_KEYS),
        "stream_info" => (&["stream"], &["current", "next_revision", "deleted", "shredded", "metadata"]),
        "shred_stream" => (&["stream"], &[]),
        "set_stream_metadata" => (&["stream", "metadata"], &[]),
        "get_stream_metadata" => (&["stream"], &METADATA_KEYS),
        "delete_stream" | "tombstone_stream" => (&["stream", "expected_version"], &[]),
        "save_snapshot" => (&["stream", "revision", "data"], &[]),
        "get_snapshot" => (&["stream"], &["snapshot"]),
        "head_position" => (&[], &["head_position"]),
        "upsert_schema" => (&["schema"], &["name", "version", "changed"]),
        "get_schema" => (&["name", "version"], &["name", "version", "schema"]),
        "list_schemas" => (&[], &["schemas"]),
        "close" | "reopen" => (&[], &[]),
        "sleep" => (&["ms"], &[]),
        other => return Err(format!("unknown op {other:?}")),
    };
    let allowed: Vec<&str> = STEP_KEYS.iter().chain(arguments).copied().collect();
    object(value, &format!("a {op_name:?} step"), &allowed)?;

    let stream = || -> Res<String> { string(required(map, "stream", "the step")?, "\"stream\"") };
    let expected = || -> Res<ExpectedVersion> {
        map.get("expected_version")
            .map_or(Ok(ExpectedVersion::Any), |v| expected_version(v, "\"expected_version\""))
    };
    let op = match op_name.as_str() {
        "append" => {
            let events =
                required(map, "events", "an append")?.as_array().ok_or("\"events\" must be an array")?;
            let events = events
                .iter()
                .enumerate()
                .map(|(i, event)| parse_event(event, ids).map_err(|e| format!("events[{i}]: {e}")))
                .collect::<Res<Vec<_>>>()?;
            Op::Append { stream: stream()?, expected: expected()?, events }
        }
        "read_stream" => {
            let (direction, from, limit) = read_arguments(map)?;
            Op::ReadStream { stream: stream()?, options: ReadOptions { direction, from, limit } }
        }
        "read_all" => {
            let (direction, from, limit) = read_arguments(map)?;
            let filter = map.get("filter").map_or(Ok(Filter::default()), parse_filter)?;
            Op::ReadAll { options: ReadAllOptions { direction, from, limit, filter } }
        }
        "stream_info" => Op::StreamInfo { stream: stream()? },
        "set_stream_metadata" => {
            let metadata = object(
                required(map, "metadata", "the step")?,
                "\"metadata\"",
                &["max_count", "max_age_ms", "truncate_before"],
            )?;
            Op::SetStreamMetadata {
                stream: stream()?,
                metadata: StreamMetadata {
                    max_count: optional_uint(metadata, "max_count", "metadata")?,
                    max_age: optional_uint(metadata, "max_age_ms", "metadata")?.map(Duration::from_millis),
                    truncate_before: optional_uint(metadata, "truncate_before", "metadata")?,
                },
            }
        }
        "get_stream_metadata" => Op::GetStreamMetadata { stream: stream()? },
        "delete_stream" => Op::DeleteStream { stream: stream()?, expected: expected()? },
        "tombstone_stream" => Op::TombstoneStream { stream: stream()?, expected: expected()? },
        "shred_stream" => Op::ShredStream { stream: stream()? },
        "save_snapshot" => Op::SaveSnapshot {
            stream: stream()?,
            revision: uint(required(map, "revision", "the step")?, "\"revision\"")?,
            data: bytes(required(map, "data", "the step")?, "\"data\"")?.0,
        },
        "get_snapshot" => Op::GetSnapshot { stream: stream()? },
        "head_position" => Op::HeadPosition,
        "upsert_schema" => {
            let mut definition = required(map, "schema", "the step")?.clone();
            // The name may be a generated string (to test its length limit).
            if let Some(name) = definition.get_mut("name").filter(|name| name.is_object()) {
                *name = Value::String(string(name, "schema.name")?);
            }
            Op::UpsertSchema { definition }
        }
        "get_schema" => Op::GetSchema {
            name: string(required(map, "name", "the step")?, "\"name\"")?,
            version: optional_uint(map, "version", "the step")?
                .map(|v| u32::try_from(v).map_err(|_| format!("\"version\" {v} is too large")))
                .transpose()?,
        },
        "list_schemas" => Op::ListSchemas,
        "close" => Op::Close,
        "reopen" => Op::Reopen,
        "sleep" => Op::Sleep(Duration::from_millis(uint(required(map, "ms", "a sleep")?, "\"ms\"")?)),
        _ => unreachable!("ops are matched above"),
    };

    let expect = match (map.get("expect"), map.get("expect_error")) {
        (Some(_), Some(_)) => return Err("a step has either \"expect\" or \"expect_error\", not both".into()),
        (None, None) => Expect::Success,
        (Some(expect), None) => {
            object(expect, "\"expect\"", result_keys)?;
            Expect::Result(expect.clone())
        }
        (None, Some(expect)) => {
            let code = required(
                expect.as_object().ok_or("\"expect_error\" must be an object")?,
                "code",
                "\"expect_error\"",
            )?;
            let code = code
                .as_str()
                .and_then(ErrorCode::parse)
                .ok_or_else(|| format!("unknown error code {code}"))?;
            let fields: &[&str] = match code {
                ErrorCode::WrongExpectedVersion => &["code", "stream", "expected", "actual"],
                ErrorCode::StreamDeleted => &["code", "stream"],
                ErrorCode::SchemaViolation => &["code", "schema", "version", "event", "violations"],
                ErrorCode::InvalidSchema => &["code", "schema", "problem_count"],
                _ => &["code"],
            };
            object(expect, "\"expect_error\"", fields)?;
            if let Some(expected) = expect.get("expected") {
                expected_version(expected, "expect_error.expected")?;
            }
            Expect::Error(expect.clone())
        }
    };
    Ok(Step { op_name, op, expect, raw: value.clone() })
}

const APPEND_RESULT_KEYS: [&str; 4] = ["first_revision", "last_revision", "first_position", "last_position"];
const READ_RESULT_KEYS: [&str; 3] = ["events", "count", "timestamps_non_decreasing"];
const METADATA_KEYS: [&str; 3] = ["max_count", "max_age_ms", "truncate_before"];

fn read_arguments(map: &Map<String, Value>) -> Res<(Direction, Option<u64>, u64)> {
    let direction = match map.get("direction").map(|d| d.as_str()) {
        None | Some(Some("forwards")) => Direction::Forwards,
        Some(Some("backwards")) => Direction::Backwards,
        Some(_) => {
            return Err(format!(
                "\"direction\" must be \"forwards\" or \"backwards\", got {}",
                map["direction"]
            ))
        }
    };
    let from = map.get("from").map(|v| uint(v, "\"from\"")).transpose()?;
    let limit = map.get("limit").map(|v| uint(v, "\"limit\"")).transpose()?.unwrap_or(u64::MAX);
    Ok((direction, from, limit))
}

fn parse_filter(value: &Value) -> Res<Filter> {
    let map = object(value, "\"filter\"", &["stream_prefixes", "event_types"])?;
    let list = |key: &str| -> Res<Vec<String>> {
        match map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                items.iter().map(|item| string(item, &format!("filter.{key}"))).collect()
            }
            Some(other) => Err(format!("filter.{key} must be an array, got {other}")),
        }
    };
    Ok(Filter { stream_prefixes: list("stream_prefixes")?, event_types: list("event_types")? })
}

fn parse_event(value: &Value, ids: &mut Ids) -> Res<EventData> {
    let map = object(value, "an event", &["id", "type", "data", "metadata", "content_type"])?;
    let event_type = string(required(map, "type", "an event")?, "\"type\"")?;
    let (data, is_json) = match map.get("data") {
        Some(data) => bytes(data, "\"data\"")?,
        None => (Vec::new(), false),
    };
    let content_type = match map.get("content_type") {
        Some(content_type) => string(content_type, "\"content_type\"")?,
        None if is_json => CONTENT_TYPE_JSON.to_string(),
        None => CONTENT_TYPE_BINARY.to_string(),
    };
    let mut event = EventData::new(event_type, data, content_type);
    if let Some(metadata) = map.get("metadata") {
        event.metadata = bytes(metadata, "\"metadata\"")?.0;
    }
    if let Some(id) = map.get("id") {
        event.id =
            Some(ids.resolve(id.as_str().ok_or_else(|| format!("\"id\" must be a string, got {id}"))?)?);
    }
    Ok(event)
}

fn expected_version(value: &Value, what: &str) -> Res<ExpectedVersion> {
    match value {
        Value::String(s) if s == "any" => Ok(ExpectedVersion::Any),
        Value::String(s) if s == "no_stream" => Ok(ExpectedVersion::NoStream),
        Value::String(s) if s == "stream_exists" => Ok(ExpectedVersion::StreamExists),
        Value::Object(_) => {
            let map = object(value, what, &["exact"])?;
            Ok(ExpectedVersion::Exact(uint(required(map, "exact", what)?, &format!("{what}.exact"))?))
        }
        _ => Err(format!(
            "{what} must be \"any\", \"no_stream\", \"stream_exists\" or {{\"exact\": n}}, got {value}"
        )),
    }
}

/// A string, or a generated one: `{"repeat": s, "times": n}`, `{"concat": [s, ...]}`.
fn string(value: &Value, what: &str) -> Res<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Object(map) if map.contains_key("repeat") => {
            object(value, what, &["repeat", "times"])?;
            let unit = map["repeat"].as_str().ok_or_else(|| format!("{what}.repeat must be a string"))?;
            let times = uint(required(map, "times", what)?, &format!("{what}.times"))?;
            Ok(unit.repeat(usize::try_from(times).map_err(|_| format!("{what}.times is too large"))?))
        }
        Value::Object(map) if map.contains_key("concat") => {
            object(value, what, &["concat"])?;
            let parts = map["concat"].as_array().ok_or_else(|| format!("{what}.concat must be an array"))?;
            parts.iter().map(|part| string(part, what)).collect()
        }
        _ => Err(format!(
            "{what} must be a string, {{\"repeat\": s, \"times\": n}} or {{\"concat\": [...]}}, got {value}"
        )),
    }
}

/// Bytes in one of the README's forms; the flag says whether they were given as a JSON value.
fn bytes(value: &Value, what: &str) -> Res<(Vec<u8>, bool)> {
    if let Some(map) = value.as_object().filter(|map| map.len() == 1) {
        if let Some(text) = map.get("utf8") {
            return Ok((string(text, &format!("{what}.utf8"))?.into_bytes(), false));
        }
        if let Some(encoded) = map.get("base64") {
            let encoded = encoded.as_str().ok_or_else(|| format!("{what}.base64 must be a string"))?;
            return Ok((base64_decode(encoded).map_err(|e| format!("{what}.base64: {e}"))?, false));
        }
        if let Some(json) = map.get("json") {
            return Ok((json.to_string().into_bytes(), true));
        }
    }
    Ok((value.to_string().into_bytes(), true))
}

// ---------------------------------------------------------------------------------------------
// Running a step.

/// What a scenario runs against: the operations of the contract, with the signatures of
/// `graveyard::Db`. The embedded runner implements it with a `Db`; the cluster runner
/// (server/tests/cluster_conformance.rs) with a `graveyard::Client` on a 3-node cluster.
pub trait Store {
    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult>;
    fn read_stream(&mut self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>>;
    fn read_all(&mut self, options: ReadAllOptions) -> Result<Vec<RecordedEvent>>;
    fn stream_info(&mut self, stream: &str) -> Result<StreamInfo>;
    fn set_stream_metadata(&mut self, stream: &str, metadata: StreamMetadata) -> Result<()>;
    fn get_stream_metadata(&mut self, stream: &str) -> Result<StreamMetadata>;
    fn delete_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()>;
    fn tombstone_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()>;
    fn shred_stream(&mut self, stream: &str) -> Result<()>;
    fn save_snapshot(&mut self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()>;
    fn get_snapshot(&mut self, stream: &str) -> Result<Option<Snapshot>>;
    fn head_position(&mut self) -> Result<u64>;
    fn upsert_schema(&mut self, schema: &Schema) -> Result<SchemaUpsert>;
    fn get_schema(&mut self, name: &str, version: Option<u32>) -> Result<RegisteredSchema>;
    fn list_schemas(&mut self) -> Result<Vec<RegisteredSchema>>;
    /// Closes the store: every operation after it fails with CLOSED.
    fn close(&mut self);
    /// Closes the store and opens it again on the same data.
    fn reopen(&mut self) -> Result<()>;
}

/// What a fresh store for one scenario must be.
pub struct Fresh<'a> {
    /// The scenario's `max_event_size` option.
    pub max_event_size: Option<usize>,
    /// The scenario's `master_key` option: the store is encrypted with it.
    pub master_key: Option<[u8; 32]>,
    /// Every stream name the scenario's steps name, valid or not, without repeats.
    pub streams: &'a [String],
}

/// Opens a fresh, empty store for one scenario.
pub type Open<'a> = dyn FnMut(&Fresh<'_>) -> Res<Box<dyn Store>> + 'a;

enum Outcome {
    Ok(Value),
    Err { actual: Value, message: String },
}

fn execute(db: &mut dyn Store, op: &Op) -> Outcome {
    {
        let result: graveyard::Result<Value> = match op {
            Op::Append { stream, expected, events } => {
                db.append(stream, *expected, events.clone()).map(|r| append_json(&r))
            }
            Op::ReadStream { stream, options } => db.read_stream(stream, *options).map(|e| read_json(&e)),
            Op::ReadAll { options } => db.read_all(options.clone()).map(|e| read_json(&e)),
            Op::StreamInfo { stream } => db.stream_info(stream).map(|info| info_json(&info)),
            Op::SetStreamMetadata { stream, metadata } => {
                db.set_stream_metadata(stream, *metadata).map(|()| json!({}))
            }
            Op::GetStreamMetadata { stream } => db.get_stream_metadata(stream).map(|m| metadata_json(&m)),
            Op::DeleteStream { stream, expected } => db.delete_stream(stream, *expected).map(|()| json!({})),
            Op::TombstoneStream { stream, expected } => {
                db.tombstone_stream(stream, *expected).map(|()| json!({}))
            }
            Op::ShredStream { stream } => db.shred_stream(stream).map(|()| json!({})),
            Op::SaveSnapshot { stream, revision, data } => {
                db.save_snapshot(stream, *revision, data.clone()).map(|()| json!({}))
            }
            Op::GetSnapshot { stream } => {
                db.get_snapshot(stream).map(|s| json!({ "snapshot": s.as_ref().map(snapshot_json) }))
            }
            Op::HeadPosition => db.head_position().map(|p| json!({ "head_position": p })),
            Op::UpsertSchema { definition } => Schema::from_json(definition.to_string().as_bytes())
                .and_then(|schema| db.upsert_schema(&schema))
                .map(|u| json!({ "name": u.name, "version": u.version, "changed": u.changed })),
            Op::GetSchema { name, version } => db.get_schema(name, *version).map(|s| registered_json(&s)),
            Op::ListSchemas => db
                .list_schemas()
                .map(|list| json!({ "schemas": list.iter().map(registered_json).collect::<Vec<_>>() })),
            Op::Close => {
                db.close();
                Ok(json!({}))
            }
            Op::Reopen => db.reopen().map(|()| json!({})),
            Op::Sleep(duration) => {
                std::thread::sleep(*duration);
                Ok(json!({}))
            }
        };
        match result {
            Ok(value) => Outcome::Ok(value),
            Err(error) => Outcome::Err { actual: error_json(&error), message: error.to_string() },
        }
    }
}

/// Bytes in an actual result are wrapped in this marker so the matcher compares them as bytes.
const BYTES_MARKER: &str = "$bytes";

fn bytes_json(bytes: &[u8]) -> Value {
    let inner = match std::str::from_utf8(bytes) {
        Ok(text) => json!({ "utf8": text }),
        Err(_) => json!({ "base64": base64_encode(bytes) }),
    };
    json!({ BYTES_MARKER: inner })
}

fn append_json(r: &AppendResult) -> Value {
    json!({
        "first_revision": r.first_revision,
        "last_revision": r.last_revision,
        "first_position": r.first_position,
        "last_position": r.last_position,
    })
}

fn read_json(events: &[RecordedEvent]) -> Value {
    let mut by_position: Vec<&RecordedEvent> = events.iter().collect();
    by_position.sort_by_key(|e| e.position);
    let non_decreasing = by_position.windows(2).all(|pair| pair[0].timestamp <= pair[1].timestamp);
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "stream": e.stream,
                "revision": e.revision,
                "position": e.position,
                "id": e.id.to_string(),
                "type": e.event_type,
                "content_type": e.content_type,
                "data": bytes_json(&e.data),
                "metadata": bytes_json(&e.metadata),
                "shredded": e.shredded,
                "schema_version": e.schema_version,
            })
        })
        .collect();
    json!({ "count": events.len(), "events": events, "timestamps_non_decreasing": non_decreasing })
}

fn current_json(current: CurrentRevision) -> Value {
    match current {
        CurrentRevision::NoStream => json!("no_stream"),
        CurrentRevision::Revision(n) => json!(n),
    }
}

fn expected_json(expected: ExpectedVersion) -> Value {
    match expected {
        ExpectedVersion::Any => json!("any"),
        ExpectedVersion::NoStream => json!("no_stream"),
        ExpectedVersion::StreamExists => json!("stream_exists"),
        ExpectedVersion::Exact(n) => json!({ "exact": n }),
    }
}

fn metadata_json(m: &StreamMetadata) -> Value {
    let max_age = m.max_age.map(|age| {
        if age.as_micros() % 1000 == 0 {
            json!(age.as_millis())
        } else {
            json!(age.as_secs_f64() * 1000.0)
        }
    });
    json!({ "max_count": m.max_count, "max_age_ms": max_age, "truncate_before": m.truncate_before })
}

fn info_json(info: &StreamInfo) -> Value {
    json!({
        "current": current_json(info.current),
        "next_revision": info.next_revision,
        "deleted": info.deleted,
        "shredded": info.shredded,
        "metadata": metadata_json(&info.metadata),
    })
}

fn registered_json(s: &RegisteredSchema) -> Value {
    let definition: Value = serde_json::from_slice(&s.schema.to_json()).expect("a schema serialises to JSON");
    json!({ "name": s.schema.name, "version": s.version, "schema": definition })
}

fn snapshot_json(s: &Snapshot) -> Value {
    json!({ "stream": s.stream, "revision": s.revision, "data": bytes_json(&s.data) })
}

fn error_json(error: &Error) -> Value {
    match error {
        Error::WrongExpectedVersion { stream, expected, actual } => json!({
            "code": error.code().as_str(),
            "stream": stream,
            "expected": expected_json(*expected),
            "actual": current_json(*actual),
        }),
        Error::StreamDeleted { stream } => json!({ "code": error.code().as_str(), "stream": stream }),
        Error::SchemaViolation { schema, version, event, violations } => json!({
            "code": error.code().as_str(),
            "schema": schema,
            "version": version,
            "event": event,
            "violations": violations
                .iter()
                .map(|v| json!({ "path": v.path, "rule": v.rule.as_str(), "value": v.value }))
                .collect::<Vec<_>>(),
        }),
        Error::InvalidSchema { schema, problems } => {
            json!({ "code": error.code().as_str(), "schema": schema, "problem_count": problems.len() })
        }
        _ => json!({ "code": error.code().as_str() }),
    }
}

// ---------------------------------------------------------------------------------------------
// Matching an outcome against the expectation.

/// `None` when the outcome is as expected, else what differs.
fn check(expect: &Expect, outcome: &Outcome, ids: &mut Ids) -> Option<String> {
    let (wanted, expected) = match expect {
        Expect::Success => ("success", None),
        Expect::Result(expected) => ("success", Some(expected)),
        Expect::Error(expected) => ("error", Some(expected)),
    };
    let (got, actual, message) = match outcome {
        Outcome::Ok(actual) => ("success", actual, None),
        Outcome::Err { actual, message } => ("error", actual, Some(message)),
    };
    let expected_text = expected.map_or("(success, result not compared)".to_string(), Value::to_string);
    let actual_text = format!(
        "{got} {}{}",
        display(actual),
        message.map(|m| format!("  (message: {m})")).unwrap_or_default()
    );
    if wanted != got {
        return Some(format!("expected: {wanted} {expected_text}\n  actual:   {actual_text}"));
    }
    let mut differences = Vec::new();
    if let Some(expected) = expected {
        matches(ids, "$", None, expected, actual, &mut differences);
    }
    if differences.is_empty() {
        return None;
    }
    Some(format!(
        "expected: {wanted} {expected_text}\n  actual:   {actual_text}\n  differences:\n    {}",
        differences.join("\n    ")
    ))
}

/// Partial match of `expected` against `actual` (README, "Matching"); appends each difference.
fn matches(
    ids: &mut Ids,
    path: &str,
    key: Option<&str>,
    expected: &Value,
    actual: &Value,
    out: &mut Vec<String>,
) {
    // Bytes: compared whole, in the form the expectation uses.
    if let Some(inner) = actual.as_object().and_then(|m| m.get(BYTES_MARKER)) {
        let actual_bytes = match inner.get("utf8") {
            Some(text) => text.as_str().unwrap_or_default().as_bytes().to_vec(),
            None => base64_decode(inner["base64"].as_str().unwrap_or_default()).unwrap_or_default(),
        };
        let equal = match bytes(expected, path) {
            Err(e) => return out.push(format!("at {path}: bad bytes expectation: {e}")),
            Ok((wanted, true)) => {
                let wanted: Value = serde_json::from_slice(&wanted).expect("serialised above");
                serde_json::from_slice::<Value>(&actual_bytes).is_ok_and(|got| json_equal(&wanted, &got))
            }
            Ok((wanted, false)) => wanted == actual_bytes,
        };
        if !equal {
            out.push(format!("at {path}: expected bytes {expected}, actual {inner}"));
        }
        return;
    }
    if key == Some("id") {
        if let (Some(got), Some(version)) =
            (actual.as_str(), expected.as_object().and_then(|m| m.get("uuid_version")))
        {
            let ok = expected.as_object().is_some_and(|m| m.len() == 1)
                && Uuid::parse_str(got).is_ok_and(|id| Some(id.get_version_num() as u64) == version.as_u64());
            if !ok {
                out.push(format!("at {path}: expected a UUID matching {expected}, actual {actual}"));
            }
            return;
        }
        if let (Some(got), Some(text)) = (actual.as_str(), expected.as_str()) {
            match ids.resolve(text) {
                Ok(id) if id.to_string() == got => {}
                Ok(id) => out.push(format!("at {path}: expected id {text} = {id}, actual {got}")),
                Err(e) => out.push(format!("at {path}: {e}")),
            }
            return;
        }
    }
    match (expected, actual) {
        (_, Value::String(got)) => match string(expected, path) {
            Ok(wanted) if &wanted == got => {}
            Ok(wanted) => {
                out.push(format!("at {path}: expected {}, actual {}", shorten(&wanted), shorten(got)))
            }
            Err(_) => out.push(format!("at {path}: expected {expected}, actual {actual}")),
        },
        (Value::Object(wanted), Value::Object(got)) => {
            for (k, v) in wanted {
                let sub = format!("{path}.{k}");
                match got.get(k) {
                    Some(actual) => matches(ids, &sub, Some(k), v, actual, out),
                    None => out.push(format!(
                        "at {sub}: the result has no {k:?} (it has: {})",
                        got.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
        (Value::Array(wanted), Value::Array(got)) => {
            if wanted.len() != got.len() {
                out.push(format!("at {path}: expected {} element(s), actual {}", wanted.len(), got.len()));
            }
            for (i, (w, g)) in wanted.iter().zip(got).enumerate() {
                matches(ids, &format!("{path}[{i}]"), None, w, g, out);
            }
        }
        _ if json_equal(expected, actual) => {}
        _ => out.push(format!("at {path}: expected {expected}, actual {}", display(actual))),
    }
}

/// Deep equality; numbers compare by value, object key order does not matter.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The actual outcome as the README writes it: bytes markers removed, long strings shortened.
fn display(value: &Value) -> String {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(map) => match map.get(BYTES_MARKER) {
                Some(inner) => strip(inner),
                None => Value::Object(map.iter().map(|(k, v)| (k.clone(), strip(v))).collect()),
            },
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            Value::String(s) => Value::String(shorten(s)),
            other => other.clone(),
        }
    }
    strip(value).to_string()
}

fn shorten(text: &str) -> String {
    if text.len() <= 80 {
        return text.to_string();
    }
    let mut cut = 60;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes)", &text[..cut], text.len())
}

// ---------------------------------------------------------------------------------------------
// Standard base64 with padding (RFC 4648), enough for the scenarios.

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Res<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return Err("length is not a multiple of 4".into());
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (index, chunk) in text.chunks(4).enumerate() {
        let last = index == text.len() / 4 - 1;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return Err("misplaced padding".into());
        }
        let mut n = 0u32;
        for (i, &c) in chunk[..4 - padding].iter().enumerate() {
            let digit = BASE64
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| format!("invalid character {:?}", c as char))?;
            n |= (digit as u32) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - padding]);
    }
    Ok(out)
}
