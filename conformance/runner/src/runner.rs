//! The runner of the conformance scenarios (`conformance/*.json`; the format and the protocol are
//! specified in conformance/README.md). It is the one parser and matcher for every
//! implementation: it checks each scenario whole before its first step, normalises every step
//! into a request of the protocol (placeholders resolved, generated strings expanded, bytes in
//! base64, defaults filled in), hands it to an [`Executor`] and matches the answer against the
//! expectation. An executor only dispatches requests to an implementation: the in-process one
//! over `graveyard::Store` (executor.rs), or an SDK's own in another process, speaking JSON lines
//! (process.rs, driven by the `graveyard-conformance` binary).
//!
//! This file is included by path into the core's and the server's conformance tests as well as
//! the binary: the core cannot depend on a crate that depends on the core. Each includer uses its
//! own part of it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use graveyard::{ErrorCode, Uuid};
use serde_json::{json, Map, Value};

pub type Res<T> = std::result::Result<T, String>;

/// JSON files of the scenario folder that are not scenarios: the golden vectors of
/// docs/boundary.md.
pub const NOT_SCENARIOS: &[&str] = &["boundary_vectors.json"];

/// How long a `next` waits when the step does not say: long enough for an event that must come
/// on a loaded machine. Steps that expect nothing give a short `timeout_ms` themselves.
pub const DEFAULT_NEXT_TIMEOUT_MS: u64 = 10_000;

/// What runs the steps: one request of the protocol in, one answer out (`{"ok": ...}`,
/// `{"error": {...}}` or `{"fail": "..."}`). `Err` means the executor itself broke (its process
/// died or stopped answering): the rest of the scenario is skipped.
pub trait Executor {
    fn call(&mut self, request: &Value) -> Res<Value>;
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub scenarios: usize,
    pub steps: usize,
    pub failures: Vec<String>,
}

/// The scenario files of `dir` whose name contains `filter`, sorted. Fails when the folder holds
/// no scenario, or when the filter matches none: a run that checks nothing must not pass.
pub fn scenario_files(dir: &Path, filter: &str) -> Res<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .map(|entry| {
            entry.map(|entry| entry.path()).map_err(|e| format!("cannot list {}: {e}", dir.display()))
        })
        .collect::<Res<Vec<_>>>()?
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| !NOT_SCENARIOS.iter().any(|name| path.file_name().is_some_and(|f| f == *name)))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no scenario (*.json) in {}", dir.display()));
    }
    files.retain(|path| path.file_name().is_some_and(|name| name.to_string_lossy().contains(filter)));
    if files.is_empty() {
        return Err(format!("the filter {filter:?} matches no scenario in {}", dir.display()));
    }
    Ok(files)
}

/// Runs every scenario of `dir` whose file name contains `filter` through `executor`.
pub fn run_dir(dir: &Path, filter: &str, executor: &mut dyn Executor) -> Res<Summary> {
    run_files(&scenario_files(dir, filter)?, executor)
}

fn run_files(files: &[PathBuf], executor: &mut dyn Executor) -> Res<Summary> {
    let mut summary = Summary::default();
    for file in files {
        let label = format!("conformance/{}", file.file_name().unwrap_or_default().to_string_lossy());
        summary.scenarios += 1;
        match run_file(file, &label, executor) {
            Ok(report) => {
                summary.steps += report.steps;
                summary.failures.extend(report.failures);
            }
            Err(failure) => summary.failures.push(failure),
        }
    }
    Ok(summary)
}

/// The cargo tests' entry: the scenarios of `dir` (`CONFORMANCE_FILTER=<text>` keeps the files
/// whose name contains the text) through `executor`; panics with every failure.
pub fn run_tests(dir: &Path, what: &str, executor: &mut dyn Executor) {
    run_tests_except(dir, what, &[], executor)
}

/// `run_tests` without the scenario files named in `except`, each with the reason the store
/// under test cannot run it, which the run prints.
pub fn run_tests_except(dir: &Path, what: &str, except: &[(&str, &str)], executor: &mut dyn Executor) {
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let mut files = scenario_files(dir, &filter).unwrap_or_else(|e| panic!("{e}"));
    for (name, why) in except {
        let before = files.len();
        files.retain(|file| file.file_name().is_none_or(|f| f != *name));
        if files.len() < before {
            println!("conformance ({what}): conformance/{name} not run: {why}");
        }
    }
    assert!(!files.is_empty(), "conformance ({what}): every scenario matched is excepted");
    let summary = run_files(&files, executor).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "conformance ({what}): {} scenario(s), {} step(s) run, {} failure(s)",
        summary.scenarios,
        summary.steps,
        summary.failures.len()
    );
    if !summary.failures.is_empty() {
        panic!(
            "{} conformance failure(s) ({what}; format: conformance/README.md):\n\n{}",
            summary.failures.len(),
            summary.failures.join("\n\n")
        );
    }
}

struct Report {
    steps: usize,
    failures: Vec<String>,
}

/// Parses one scenario file and runs it on a fresh store. `Err` is a failure that prevented
/// running it at all.
fn run_file(file: &Path, label: &str, executor: &mut dyn Executor) -> Res<Report> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("--- {label}: cannot read: {e}"))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("--- {label}: invalid JSON: {e}"))?;
    let mut names = Names::default();
    let scenario = parse_scenario(&value, &mut names.ids)
        .map_err(|e| format!("--- {label}: malformed scenario: {e}"))?;
    let begin = json!({
        "op": "begin",
        "scenario": scenario.name,
        "options": scenario.options,
        "streams": scenario.streams,
    });
    let opened = match call(executor, &begin) {
        Ok(answer) => match answer.get("ok") {
            Some(Value::Object(ok)) if ok.is_empty() && answer.as_object().is_some_and(|a| a.len() == 1) => {
                Ok(())
            }
            _ => Err(format!("the executor answered {}", display(&answer))),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = opened {
        return Err(format!("--- {label}: scenario {:?}: cannot open a fresh store: {e}", scenario.name));
    }

    let mut report = Report { steps: 0, failures: Vec::new() };
    // Sessions whose opening step failed: the executor does not have them, so the steps that
    // name them are not sent.
    let mut unopened: HashMap<String, usize> = HashMap::new();
    let mut broken = false;
    for (index, step) in scenario.steps.iter().enumerate() {
        report.steps += 1;
        let fail = |problem: &str| failure(label, &scenario.name, index, step, problem);
        if let Some(ms) = step.sleep {
            std::thread::sleep(Duration::from_millis(ms));
            continue;
        }
        if step.op_name == "reopen" {
            unopened.clear();
        }
        match &step.session {
            Some(SessionUse::Open(name)) => {
                unopened.remove(name);
            }
            Some(SessionUse::Use(name) | SessionUse::Close(name)) => {
                if let Some(opening) = unopened.get(name) {
                    let problem = format!("not run: session {name:?} did not open (step {opening} failed)");
                    if matches!(step.session, Some(SessionUse::Close(_))) {
                        unopened.remove(name);
                    }
                    report.failures.push(fail(&problem));
                    continue;
                }
            }
            None => {}
        }
        let request = match names.resolve_deliveries(&step.request) {
            Ok(request) => request,
            Err(e) => {
                report.failures.push(fail(&e));
                continue;
            }
        };
        let answer = match call(executor, &request) {
            Ok(answer) => answer,
            Err(e) => {
                report
                    .failures
                    .push(fail(&format!("the executor broke: {e}\n  (the rest of the scenario is skipped)")));
                broken = true;
                break;
            }
        };
        let outcome = match outcome(step.result, &answer) {
            Ok(outcome) => outcome,
            Err(e) => {
                if let Some(SessionUse::Open(name)) = &step.session {
                    unopened.insert(name.clone(), index);
                }
                report.failures.push(fail(&e));
                continue;
            }
        };
        if let (Some(SessionUse::Open(name)), Outcome::Err { .. }) = (&step.session, &outcome) {
            unopened.insert(name.clone(), index);
        }
        if let Some(problem) = check(&step.expect, &outcome, &mut names) {
            report.failures.push(fail(&problem));
        }
    }
    if !broken {
        match call(executor, &json!({ "op": "end" })) {
            Ok(answer) if answer == json!({ "ok": {} }) => {}
            Ok(answer) => report.failures.push(format!(
                "--- {label}: scenario {:?}: the executor answered {} to \"end\"",
                scenario.name,
                display(&answer)
            )),
            Err(e) => report.failures.push(format!(
                "--- {label}: scenario {:?}: the executor broke at \"end\": {e}",
                scenario.name
            )),
        }
    }
    Ok(report)
}

/// One call, with a panic of an in-process executor turned into a broken executor.
fn call(executor: &mut dyn Executor, request: &Value) -> Res<Value> {
    match catch_unwind(AssertUnwindSafe(|| executor.call(request))) {
        Ok(answer) => answer,
        Err(panic) => Err(format!(
            "it panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
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
// The scenario, parsed and normalised.

pub struct Scenario {
    pub name: String,
    /// `{"max_event_size": n | null, "master_key": "<64 hex digits>" | null}`.
    pub options: Value,
    /// Every stream the scenario may touch, valid or not, without repeats: the streams its
    /// steps name, the streams its groups target and the parked streams of its groups (a
    /// cluster executor places them all on one member).
    pub streams: Vec<String>,
    pub steps: Vec<Step>,
}

pub struct Step {
    pub op_name: String,
    /// The request of the protocol; ack and nack still name their deliveries.
    pub request: Value,
    result: ResultKind,
    expect: Expect,
    raw: Value,
    session: Option<SessionUse>,
    /// `sleep` is the runner's: it is never sent.
    sleep: Option<u64>,
}

enum SessionUse {
    Open(String),
    Use(String),
    Close(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SessionKind {
    Subscription,
    Member,
}

/// What an operation answers, which fixes how its answer is checked and normalised.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ResultKind {
    Nothing,
    Append,
    Read,
    StreamInfo,
    Metadata,
    Snapshot,
    Head,
    SchemaUpsert,
    Schema,
    Schemas,
    GroupInfo,
    Groups,
    Replay,
    SubscriptionNext,
    MemberNext,
}

const APPEND_KEYS: &[&str] = &["first_revision", "last_revision", "first_position", "last_position"];
const READ_KEYS: &[&str] = &["events", "count", "timestamps_non_decreasing"];
const INFO_KEYS: &[&str] = &["current", "next_revision", "deleted", "shredded", "metadata"];
const METADATA_KEYS: &[&str] = &["max_count", "max_age_ms", "truncate_before"];
const SCHEMA_UPSERT_KEYS: &[&str] = &["name", "version", "changed"];
const SCHEMA_KEYS: &[&str] = &["name", "version", "schema"];
const GROUP_INFO_KEYS: &[&str] = &[
    "name",
    "target",
    "settings",
    "checkpoint",
    "lag",
    "members",
    "in_flight",
    "buffered",
    "parked_stream",
    "parked",
    "replaying",
];
const SETTINGS_KEYS: &[&str] = &["max_retries", "ack_timeout_ms", "max_in_flight", "strategy"];
const REPLAY_KEYS: &[&str] = &["from", "to", "parked", "replaying"];
/// An event as executors answer it; the runner drops `timestamp` after checking the order of
/// the timestamps of a read, since clocks are never compared.
const EVENT_KEYS: &[&str] = &[
    "stream",
    "revision",
    "position",
    "id",
    "type",
    "content_type",
    "data",
    "metadata",
    "timestamp",
    "shredded",
    "schema_version",
];
const DELIVERY_KEYS: &[&str] = &["id", "attempt", "parked_revision", "event"];
const SNAPSHOT_KEYS: &[&str] = &["stream", "revision", "data", "timestamp"];

impl ResultKind {
    /// The keys an `expect` of this operation may name.
    fn expect_keys(self) -> &'static [&'static str] {
        match self {
            ResultKind::Nothing => &[],
            ResultKind::Append => APPEND_KEYS,
            ResultKind::Read => READ_KEYS,
            ResultKind::StreamInfo => INFO_KEYS,
            ResultKind::Metadata => METADATA_KEYS,
            ResultKind::Snapshot => &["snapshot"],
            ResultKind::Head => &["head_position"],
            ResultKind::SchemaUpsert => SCHEMA_UPSERT_KEYS,
            ResultKind::Schema => SCHEMA_KEYS,
            ResultKind::Schemas => &["schemas"],
            ResultKind::GroupInfo => GROUP_INFO_KEYS,
            ResultKind::Groups => &["groups"],
            ResultKind::Replay => REPLAY_KEYS,
            ResultKind::SubscriptionNext => &["event", "caught_up", "timeout", "ended"],
            ResultKind::MemberNext => &["delivery", "timeout", "ended"],
        }
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
pub struct Ids(HashMap<String, Uuid>);

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

/// The names a scenario gives to values it only learns while running.
#[derive(Default)]
struct Names {
    ids: Ids,
    /// `$delivery:<name>` -> the delivery id an executor answered, taken the first time the name
    /// is met in an expected delivery.
    deliveries: HashMap<String, String>,
}

const DELIVERY_PREFIX: &str = "$delivery:";

impl Names {
    /// The request with the `$delivery:` names of `deliveries` replaced by their ids.
    fn resolve_deliveries(&self, request: &Value) -> Res<Value> {
        let Some(list) = request.get("deliveries").and_then(Value::as_array) else {
            return Ok(request.clone());
        };
        let ids = list
            .iter()
            .map(|entry| {
                let text = entry.as_str().unwrap_or_default();
                match text.strip_prefix(DELIVERY_PREFIX) {
                    Some(name) => self.deliveries.get(name).cloned().map(Value::String).ok_or_else(|| {
                        format!("not run: {text} names no delivery yet (a delivery is named in the expectation of the `next` that receives it)")
                    }),
                    None => Ok(entry.clone()),
                }
            })
            .collect::<Res<Vec<_>>>()?;
        let mut request = request.clone();
        request["deliveries"] = Value::Array(ids);
        Ok(request)
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
fn optional_uint(map: &Map<String, Value>, key: &str, what: &str) -> Res<Value> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(value) => uint(value, &format!("{what}.{key}")).map(Value::from),
    }
}

pub fn parse_scenario(value: &Value, ids: &mut Ids) -> Res<Scenario> {
    let map = object(value, "the scenario", &["name", "description", "options", "steps"])?;
    let name = required(map, "name", "the scenario")?
        .as_str()
        .filter(|name| !name.is_empty())
        .ok_or("\"name\" must be a non-empty string")?
        .to_string();
    required(map, "description", "the scenario")?.as_str().ok_or("\"description\" must be a string")?;
    let mut options = json!({ "max_event_size": null, "master_key": null });
    if let Some(given) = map.get("options") {
        let given = object(given, "\"options\"", &["max_event_size", "master_key"])?;
        options["max_event_size"] = optional_uint(given, "max_event_size", "options")?;
        if let Some(key) = given.get("master_key") {
            let valid = key.as_str().filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
            let key = valid.ok_or("options.master_key must be a string of 64 hex digits")?;
            options["master_key"] = Value::String(key.to_ascii_lowercase());
        }
    }
    let steps = required(map, "steps", "the scenario")?.as_array().ok_or("\"steps\" must be an array")?;
    if steps.is_empty() {
        return Err("\"steps\" is empty".into());
    }
    let mut parser = Parser { ids, sessions: HashMap::new(), streams: Vec::new() };
    let steps = steps
        .iter()
        .enumerate()
        .map(|(index, step)| parser.step(step).map_err(|e| format!("step {index}: {e}")))
        .collect::<Res<Vec<_>>>()?;
    Ok(Scenario { name, options, streams: parser.streams, steps })
}

struct Parser<'a> {
    ids: &'a mut Ids,
    /// The sessions open at this point of the scenario.
    sessions: HashMap<String, SessionKind>,
    streams: Vec<String>,
}

const STEP_KEYS: &[&str] = &["op", "note", "expect", "expect_error"];

impl Parser<'_> {
    fn stream_named(&mut self, stream: &str) {
        if !self.streams.iter().any(|s| s == stream) {
            self.streams.push(stream.to_owned());
        }
    }

    fn session(&self, map: &Map<String, Value>) -> Res<(String, Option<SessionKind>)> {
        let name = required(map, "session", "the step")?
            .as_str()
            .filter(|name| !name.is_empty())
            .ok_or("\"session\" must be a non-empty string")?;
        Ok((name.to_owned(), self.sessions.get(name).copied()))
    }

    fn open_session(&self, map: &Map<String, Value>) -> Res<String> {
        match self.session(map)? {
            (name, Some(_)) => Err(format!("session {name:?} is already open (close_session it first)")),
            (name, None) => Ok(name),
        }
    }

    fn open(&self, map: &Map<String, Value>, kind: Option<SessionKind>) -> Res<(String, SessionKind)> {
        match self.session(map)? {
            (name, None) => Err(format!("session {name:?} is not open here")),
            (name, Some(k)) if kind.is_some_and(|kind| kind != k) => {
                Err(format!("session {name:?} is a {k:?} session, not a {:?}", kind.expect("checked")))
            }
            (name, Some(k)) => Ok((name, k)),
        }
    }

    fn step(&mut self, value: &Value) -> Res<Step> {
        let map = value.as_object().ok_or_else(|| format!("a step must be an object, got {value}"))?;
        let op_name = required(map, "op", "a step")?.as_str().ok_or("\"op\" must be a string")?.to_string();
        let arguments: &[&str] = match op_name.as_str() {
            "append" => &["stream", "expected_version", "events"],
            "read_stream" => &["stream", "direction", "from", "limit"],
            "read_all" => &["direction", "from", "limit", "filter"],
            "stream_info" | "get_stream_metadata" | "shred_stream" | "get_snapshot" => &["stream"],
            "set_stream_metadata" => &["stream", "metadata"],
            "delete_stream" | "tombstone_stream" => &["stream", "expected_version"],
            "save_snapshot" => &["stream", "revision", "data"],
            "head_position" | "list_schemas" | "close" | "reopen" | "list_groups" => &[],
            "upsert_schema" => &["schema"],
            "get_schema" => &["name", "version"],
            "sleep" => &["ms"],
            "subscribe_to_stream" => &["session", "stream", "start", "page_size"],
            "subscribe_to_all" => &["session", "start", "filter", "page_size"],
            "create_group" => &["group", "target", "start", "settings"],
            "update_group" => &["group", "settings"],
            "delete_group" | "group_info" => &["group"],
            "replay_parked" => &["group", "limit"],
            "join_group" => &["session", "group", "member"],
            "next" => &["session", "timeout_ms"],
            "ack" => &["session", "deliveries"],
            "nack" => &["session", "deliveries", "action"],
            "cancel" | "close_session" => &["session"],
            other => return Err(format!("unknown op {other:?}")),
        };
        let allowed: Vec<&str> = STEP_KEYS.iter().chain(arguments).copied().collect();
        object(value, &format!("a {op_name:?} step"), &allowed)?;

        let mut request = Map::new();
        request.insert("op".into(), Value::String(op_name.clone()));
        let mut result = ResultKind::Nothing;
        let mut session = None;
        let mut opens = None;
        let mut sleep = None;
        let stream = |parser: &mut Parser, request: &mut Map<String, Value>| -> Res<()> {
            let stream = string(required(map, "stream", "the step")?, "\"stream\"")?;
            parser.stream_named(&stream);
            request.insert("stream".into(), Value::String(stream));
            Ok(())
        };
        let expected = |request: &mut Map<String, Value>| -> Res<()> {
            let value = match map.get("expected_version") {
                None => json!("any"),
                Some(value) => expected_version(value, "\"expected_version\"")?,
            };
            request.insert("expected_version".into(), value);
            Ok(())
        };
        let group = |request: &mut Map<String, Value>| -> Res<String> {
            let group = string(required(map, "group", "the step")?, "\"group\"")?;
            request.insert("group".into(), Value::String(group.clone()));
            Ok(group)
        };
        match op_name.as_str() {
            "append" => {
                result = ResultKind::Append;
                stream(self, &mut request)?;
                expected(&mut request)?;
                let events =
                    required(map, "events", "an append")?.as_array().ok_or("\"events\" must be an array")?;
                let events = events
                    .iter()
                    .enumerate()
                    .map(|(i, event)| parse_event(event, self.ids).map_err(|e| format!("events[{i}]: {e}")))
                    .collect::<Res<Vec<_>>>()?;
                request.insert("events".into(), Value::Array(events));
            }
            "read_stream" => {
                result = ResultKind::Read;
                stream(self, &mut request)?;
                read_arguments(map, &mut request)?;
            }
            "read_all" => {
                result = ResultKind::Read;
                read_arguments(map, &mut request)?;
                request.insert(
                    "filter".into(),
                    map.get("filter").map_or_else(|| parse_filter(&json!({})), parse_filter)?,
                );
            }
            "stream_info" => {
                result = ResultKind::StreamInfo;
                stream(self, &mut request)?;
            }
            "get_stream_metadata" => {
                result = ResultKind::Metadata;
                stream(self, &mut request)?;
            }
            "shred_stream" => stream(self, &mut request)?,
            "get_snapshot" => {
                result = ResultKind::Snapshot;
                stream(self, &mut request)?;
            }
            "set_stream_metadata" => {
                stream(self, &mut request)?;
                let metadata = object(required(map, "metadata", "the step")?, "\"metadata\"", METADATA_KEYS)?;
                let mut normalised = Map::new();
                for key in METADATA_KEYS {
                    normalised.insert((*key).into(), optional_uint(metadata, key, "metadata")?);
                }
                request.insert("metadata".into(), Value::Object(normalised));
            }
            "delete_stream" | "tombstone_stream" => {
                stream(self, &mut request)?;
                expected(&mut request)?;
            }
            "save_snapshot" => {
                stream(self, &mut request)?;
                let revision = uint(required(map, "revision", "the step")?, "\"revision\"")?;
                request.insert("revision".into(), revision.into());
                let data = bytes(required(map, "data", "the step")?, "\"data\"")?.0;
                request.insert("data".into(), Value::String(base64_encode(&data)));
            }
            "head_position" => result = ResultKind::Head,
            "list_schemas" => result = ResultKind::Schemas,
            "close" => {}
            "reopen" => self.sessions.clear(),
            "upsert_schema" => {
                result = ResultKind::SchemaUpsert;
                // Kept as JSON, read by the implementation: a malformed definition is an outcome
                // (INVALID_SCHEMA) to check, not a malformed scenario. Only its name may be a
                // generated string (to test its length limit).
                let mut definition = required(map, "schema", "the step")?.clone();
                if let Some(name) = definition.get_mut("name").filter(|name| name.is_object()) {
                    *name = Value::String(string(name, "schema.name")?);
                }
                request.insert("schema".into(), definition);
            }
            "get_schema" => {
                result = ResultKind::Schema;
                request.insert(
                    "name".into(),
                    Value::String(string(required(map, "name", "the step")?, "\"name\"")?),
                );
                request.insert("version".into(), optional_uint(map, "version", "the step")?);
            }
            "sleep" => sleep = Some(uint(required(map, "ms", "a sleep")?, "\"ms\"")?),
            "subscribe_to_stream" | "subscribe_to_all" => {
                let name = self.open_session(map)?;
                request.insert("session".into(), Value::String(name.clone()));
                if op_name == "subscribe_to_stream" {
                    stream(self, &mut request)?;
                } else {
                    request.insert(
                        "filter".into(),
                        map.get("filter").map_or_else(|| parse_filter(&json!({})), parse_filter)?,
                    );
                }
                request.insert("start".into(), map.get("start").map_or(Ok(json!("start")), parse_start)?);
                request.insert("page_size".into(), optional_uint(map, "page_size", "the step")?);
                opens = Some((name, SessionKind::Subscription));
            }
            "create_group" => {
                result = ResultKind::GroupInfo;
                let name = group(&mut request)?;
                // The target and the settings go to the implementation as written: they may be
                // invalid on purpose, and the implementation must refuse them (INVALID_ARGUMENT).
                let target = required(map, "target", "the step")?.clone();
                if let Some(stream) = target.get("stream").and_then(Value::as_str) {
                    self.stream_named(stream);
                }
                request.insert("target".into(), target);
                request.insert("start".into(), map.get("start").map_or(Ok(json!("start")), parse_start)?);
                request.insert("settings".into(), map.get("settings").cloned().unwrap_or_else(|| json!({})));
                if !map.contains_key("expect_error") {
                    self.stream_named(&format!("$parked-{name}"));
                }
            }
            "update_group" => {
                result = ResultKind::GroupInfo;
                group(&mut request)?;
                request.insert("settings".into(), required(map, "settings", "the step")?.clone());
            }
            "delete_group" => {
                group(&mut request)?;
            }
            "group_info" => {
                result = ResultKind::GroupInfo;
                group(&mut request)?;
            }
            "list_groups" => result = ResultKind::Groups,
            "replay_parked" => {
                result = ResultKind::Replay;
                group(&mut request)?;
                request.insert("limit".into(), optional_uint(map, "limit", "the step")?);
            }
            "join_group" => {
                let name = self.open_session(map)?;
                request.insert("session".into(), Value::String(name.clone()));
                group(&mut request)?;
                let member = match map.get("member") {
                    Some(member) => string(member, "\"member\"")?,
                    None => name.clone(),
                };
                request.insert("member".into(), Value::String(member));
                opens = Some((name, SessionKind::Member));
            }
            "next" => {
                let (name, kind) = self.open(map, None)?;
                result = match kind {
                    SessionKind::Subscription => ResultKind::SubscriptionNext,
                    SessionKind::Member => ResultKind::MemberNext,
                };
                request.insert("session".into(), Value::String(name.clone()));
                let timeout = match map.get("timeout_ms") {
                    None => DEFAULT_NEXT_TIMEOUT_MS,
                    Some(value) => uint(value, "\"timeout_ms\"")?,
                };
                request.insert("timeout_ms".into(), timeout.into());
                session = Some(SessionUse::Use(name));
            }
            "ack" | "nack" => {
                let (name, _) = self.open(map, Some(SessionKind::Member))?;
                request.insert("session".into(), Value::String(name.clone()));
                let deliveries = required(map, "deliveries", "the step")?
                    .as_array()
                    .ok_or("\"deliveries\" must be an array")?;
                for delivery in deliveries {
                    match delivery.as_str() {
                        Some(text) if text.strip_prefix(DELIVERY_PREFIX).is_some_and(|n| !n.is_empty()) => {}
                        Some(text) if !text.is_empty() && !text.starts_with('$') => {}
                        _ => {
                            return Err(format!(
                            "a delivery is \"$delivery:<name>\" or a delivery id (a string), got {delivery}"
                        ))
                        }
                    }
                }
                request.insert("deliveries".into(), Value::Array(deliveries.clone()));
                if op_name == "nack" {
                    let action = required(map, "action", "a nack")?;
                    if !matches!(action.as_str(), Some("retry" | "park" | "skip")) {
                        return Err(format!(
                            "\"action\" must be \"retry\", \"park\" or \"skip\", got {action}"
                        ));
                    }
                    request.insert("action".into(), action.clone());
                }
                session = Some(SessionUse::Use(name));
            }
            "cancel" => {
                let (name, _) = self.open(map, None)?;
                request.insert("session".into(), Value::String(name.clone()));
                session = Some(SessionUse::Use(name));
            }
            "close_session" => {
                let (name, _) = self.open(map, None)?;
                request.insert("session".into(), Value::String(name.clone()));
                self.sessions.remove(&name);
                session = Some(SessionUse::Close(name));
            }
            _ => unreachable!("ops are matched above"),
        }

        let expect = match (map.get("expect"), map.get("expect_error")) {
            (Some(_), Some(_)) => {
                return Err("a step has either \"expect\" or \"expect_error\", not both".into())
            }
            (None, None) => Expect::Success,
            (Some(expect), None) => {
                object(expect, "\"expect\"", result.expect_keys())?;
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
                let mut fields = vec!["code"];
                fields.extend(typed_fields(code));
                if code == ErrorCode::InvalidSchema {
                    // The problems' text is never compared, only how many there are.
                    fields.retain(|f| *f != "problems");
                    fields.push("problem_count");
                }
                object(expect, "\"expect_error\"", &fields)?;
                if let Some(expected) = expect.get("expected") {
                    expected_version(expected, "expect_error.expected")?;
                }
                Expect::Error(expect.clone())
            }
        };
        if sleep.is_some() && !matches!(expect, Expect::Success) {
            return Err("a sleep has no outcome to expect".into());
        }
        if let Some((name, kind)) = opens {
            // A step that must fail opens nothing.
            if !matches!(expect, Expect::Error(_)) {
                self.sessions.insert(name.clone(), kind);
            }
            session = Some(SessionUse::Open(name));
        }
        Ok(Step {
            op_name,
            request: Value::Object(request),
            result,
            expect,
            raw: value.clone(),
            session,
            sleep,
        })
    }
}

/// The typed fields of the errors of each code (docs/boundary.md, "Errors").
fn typed_fields(code: ErrorCode) -> &'static [&'static str] {
    match code {
        ErrorCode::WrongExpectedVersion => &["stream", "expected", "actual"],
        ErrorCode::StreamDeleted => &["stream"],
        ErrorCode::SchemaViolation => &["schema", "version", "event", "violations"],
        ErrorCode::InvalidSchema => &["schema", "problems"],
        _ => &[],
    }
}

fn read_arguments(map: &Map<String, Value>, request: &mut Map<String, Value>) -> Res<()> {
    let direction = match map.get("direction") {
        None => "forwards",
        Some(Value::String(d)) if d == "forwards" || d == "backwards" => d,
        Some(other) => {
            return Err(format!("\"direction\" must be \"forwards\" or \"backwards\", got {other}"))
        }
    };
    request.insert("direction".into(), json!(direction));
    request.insert("from".into(), optional_uint(map, "from", "the step")?);
    request.insert("limit".into(), optional_uint(map, "limit", "the step")?);
    Ok(())
}

/// `{"stream_prefixes": [...], "event_types": [...]}`, both lists always present.
fn parse_filter(value: &Value) -> Res<Value> {
    let map = object(value, "\"filter\"", &["stream_prefixes", "event_types"])?;
    let list = |key: &str| -> Res<Value> {
        match map.get(key) {
            None => Ok(json!([])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| string(item, &format!("filter.{key}")).map(Value::String))
                .collect::<Res<Vec<_>>>()
                .map(Value::Array),
            Some(other) => Err(format!("filter.{key} must be an array, got {other}")),
        }
    };
    Ok(json!({ "stream_prefixes": list("stream_prefixes")?, "event_types": list("event_types")? }))
}

/// `"start"`, `"end"` or `{"after": n}`.
fn parse_start(value: &Value) -> Res<Value> {
    match value {
        Value::String(s) if s == "start" || s == "end" => Ok(value.clone()),
        Value::Object(_) => {
            let map = object(value, "\"start\"", &["after"])?;
            Ok(json!({ "after": uint(required(map, "after", "\"start\"")?, "start.after")? }))
        }
        _ => Err(format!("\"start\" must be \"start\", \"end\" or {{\"after\": n}}, got {value}")),
    }
}

/// An event to append, normalised: `{"id", "type", "content_type", "data", "metadata"}`.
fn parse_event(value: &Value, ids: &mut Ids) -> Res<Value> {
    let map = object(value, "an event", &["id", "type", "data", "metadata", "content_type"])?;
    let event_type = string(required(map, "type", "an event")?, "\"type\"")?;
    let (data, is_json) = match map.get("data") {
        Some(data) => bytes(data, "\"data\"")?,
        None => (Vec::new(), false),
    };
    let content_type = match map.get("content_type") {
        Some(content_type) => string(content_type, "\"content_type\"")?,
        None if is_json => "application/json".to_string(),
        None => "application/octet-stream".to_string(),
    };
    let metadata = match map.get("metadata") {
        Some(metadata) => bytes(metadata, "\"metadata\"")?.0,
        None => Vec::new(),
    };
    let id = match map.get("id") {
        Some(id) => Value::String(
            ids.resolve(id.as_str().ok_or_else(|| format!("\"id\" must be a string, got {id}"))?)?
                .to_string(),
        ),
        None => Value::Null,
    };
    Ok(json!({
        "id": id,
        "type": event_type,
        "content_type": content_type,
        "data": base64_encode(&data),
        "metadata": base64_encode(&metadata),
    }))
}

fn expected_version(value: &Value, what: &str) -> Res<Value> {
    match value {
        Value::String(s) if s == "any" || s == "no_stream" || s == "stream_exists" => Ok(value.clone()),
        Value::Object(_) => {
            let map = object(value, what, &["exact"])?;
            Ok(json!({ "exact": uint(required(map, "exact", what)?, &format!("{what}.exact"))? }))
        }
        _ => Err(format!(
            "{what} must be \"any\", \"no_stream\", \"stream_exists\" or {{\"exact\": n}}, got {value}"
        )),
    }
}

/// A string, or a generated one: `{"repeat": s, "times": n}`, `{"concat": [s, ...]}`.
pub fn string(value: &Value, what: &str) -> Res<String> {
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
pub fn bytes(value: &Value, what: &str) -> Res<(Vec<u8>, bool)> {
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
        if map.contains_key("json_partial") {
            return Err(format!("{what}: {{\"json_partial\": ...}} is only for expectations"));
        }
    }
    Ok((value.to_string().into_bytes(), true))
}

// ---------------------------------------------------------------------------------------------
// Answers: checked against the protocol, then normalised to what expectations match.

pub enum Outcome {
    Ok(Value),
    Err { actual: Value, message: String },
}

/// Bytes in a normalised result are wrapped in this marker so the matcher compares them as bytes.
const BYTES_MARKER: &str = "$bytes";

/// The outcome of an answer, once it is known to follow the protocol for an operation of this
/// kind; `Err` says how it does not (or what the executor could not do).
fn outcome(kind: ResultKind, answer: &Value) -> Res<Outcome> {
    let map = answer.as_object().filter(|map| map.len() == 1);
    let bad = || {
        format!(
            "the executor's answer is not {{\"ok\": ...}}, {{\"error\": ...}} or {{\"fail\": ...}}: {}",
            display(answer)
        )
    };
    let (key, value) = map.and_then(|map| map.iter().next()).ok_or_else(bad)?;
    match key.as_str() {
        "ok" => result(kind, value)
            .map(Outcome::Ok)
            .map_err(|e| format!("malformed answer ({e}): {}", display(answer))),
        "error" => error(value).map_err(|e| format!("malformed error answer ({e}): {}", display(answer))),
        "fail" => Err(format!(
            "the executor could not run the step: {}",
            value.as_str().map_or_else(|| value.to_string(), str::to_owned)
        )),
        _ => Err(bad()),
    }
}

/// Checks that `map` has exactly `keys`.
fn exact_keys<'a>(value: &'a Value, keys: &[&str], what: &str) -> Res<&'a Map<String, Value>> {
    let map = value.as_object().ok_or_else(|| format!("{what} must be an object"))?;
    if let Some(missing) = keys.iter().find(|key| !map.contains_key(**key)) {
        return Err(format!("{what} has no {missing:?}"));
    }
    if let Some(extra) = map.keys().find(|key| !keys.contains(&key.as_str())) {
        return Err(format!("{what} has an unknown key {extra:?}"));
    }
    Ok(map)
}

fn result(kind: ResultKind, value: &Value) -> Res<Value> {
    Ok(match kind {
        ResultKind::Nothing => {
            exact_keys(value, &[], "the result")?;
            value.clone()
        }
        ResultKind::Append => exact_keys(value, APPEND_KEYS, "the append result").map(|_| value.clone())?,
        ResultKind::Read => {
            let map = exact_keys(value, &["events"], "the read result")?;
            let events = map["events"].as_array().ok_or("events must be an array")?;
            let mut timestamps: Vec<(u64, i64)> = Vec::new();
            let events = events
                .iter()
                .map(|event| {
                    let (event, position, timestamp) = recorded_event(event)?;
                    timestamps.push((position, timestamp));
                    Ok(event)
                })
                .collect::<Res<Vec<_>>>()?;
            timestamps.sort_unstable();
            let non_decreasing = timestamps.windows(2).all(|pair| pair[0].1 <= pair[1].1);
            json!({ "count": events.len(), "events": events, "timestamps_non_decreasing": non_decreasing })
        }
        ResultKind::StreamInfo => {
            let map = exact_keys(value, INFO_KEYS, "the stream info")?;
            exact_keys(&map["metadata"], METADATA_KEYS, "its metadata")?;
            value.clone()
        }
        ResultKind::Metadata => exact_keys(value, METADATA_KEYS, "the metadata").map(|_| value.clone())?,
        ResultKind::Snapshot => {
            let map = exact_keys(value, &["snapshot"], "the result")?;
            match &map["snapshot"] {
                Value::Null => value.clone(),
                snapshot => {
                    let snapshot = exact_keys(snapshot, SNAPSHOT_KEYS, "the snapshot")?;
                    json!({ "snapshot": {
                        "stream": snapshot["stream"],
                        "revision": snapshot["revision"],
                        "data": answered_bytes(&snapshot["data"], "its data")?,
                    } })
                }
            }
        }
        ResultKind::Head => exact_keys(value, &["head_position"], "the result").map(|_| value.clone())?,
        ResultKind::SchemaUpsert => {
            exact_keys(value, SCHEMA_UPSERT_KEYS, "the upsert").map(|_| value.clone())?
        }
        ResultKind::Schema => exact_keys(value, SCHEMA_KEYS, "the schema").map(|_| value.clone())?,
        ResultKind::Schemas => {
            let map = exact_keys(value, &["schemas"], "the result")?;
            for schema in map["schemas"].as_array().ok_or("schemas must be an array")? {
                exact_keys(schema, SCHEMA_KEYS, "a schema")?;
            }
            value.clone()
        }
        ResultKind::GroupInfo => {
            let map = exact_keys(value, GROUP_INFO_KEYS, "the group info")?;
            exact_keys(&map["settings"], SETTINGS_KEYS, "its settings")?;
            value.clone()
        }
        ResultKind::Groups => {
            let map = exact_keys(value, &["groups"], "the result")?;
            let names = map["groups"].as_array().ok_or("groups must be an array")?;
            if !names.iter().all(Value::is_string) {
                return Err("groups must be an array of names".into());
            }
            value.clone()
        }
        ResultKind::Replay => exact_keys(value, REPLAY_KEYS, "the replay info").map(|_| value.clone())?,
        ResultKind::SubscriptionNext | ResultKind::MemberNext => {
            let map = value.as_object().filter(|map| map.len() == 1).ok_or("a next answers one message")?;
            let (key, message) = map.iter().next().expect("one entry");
            match (key.as_str(), kind) {
                ("timeout" | "ended" | "caught_up", _) if message != &json!(true) => {
                    return Err(format!("{key:?} must be true"))
                }
                ("timeout" | "ended", _) | ("caught_up", ResultKind::SubscriptionNext) => value.clone(),
                ("event", ResultKind::SubscriptionNext) => json!({ "event": recorded_event(message)?.0 }),
                ("delivery", ResultKind::MemberNext) => {
                    let delivery = exact_keys(message, DELIVERY_KEYS, "the delivery")?;
                    if delivery["id"].as_str().is_none_or(str::is_empty) {
                        return Err("a delivery id is a non-empty string".into());
                    }
                    json!({ "delivery": {
                        "id": delivery["id"],
                        "attempt": delivery["attempt"],
                        "parked_revision": delivery["parked_revision"],
                        "event": recorded_event(&delivery["event"])?.0,
                    } })
                }
                (other, _) => return Err(format!("{other:?} is not a message of this session")),
            }
        }
    })
}

/// A recorded event as answered, normalised (bytes marked, no timestamp), with its position and
/// timestamp.
fn recorded_event(value: &Value) -> Res<(Value, u64, i64)> {
    let map = exact_keys(value, EVENT_KEYS, "an event")?;
    let position = map["position"].as_u64().ok_or("an event's position must be an integer")?;
    let timestamp = map["timestamp"].as_i64().ok_or("an event's timestamp must be an integer")?;
    let mut event = map.clone();
    event.remove("timestamp");
    event.insert("data".into(), answered_bytes(&map["data"], "an event's data")?);
    event.insert("metadata".into(), answered_bytes(&map["metadata"], "an event's metadata")?);
    Ok((Value::Object(event), position, timestamp))
}

/// Bytes as executors answer them (base64), marked for the matcher.
fn answered_bytes(value: &Value, what: &str) -> Res<Value> {
    let text = value.as_str().ok_or_else(|| format!("{what} must be a base64 string"))?;
    let bytes = base64_decode(text).map_err(|e| format!("{what}: {e}"))?;
    let inner = match String::from_utf8(bytes) {
        Ok(text) => json!({ "utf8": text }),
        Err(e) => json!({ "base64": base64_encode(e.as_bytes()) }),
    };
    Ok(json!({ BYTES_MARKER: inner }))
}

fn error(value: &Value) -> Res<Outcome> {
    let map = value.as_object().ok_or("the error must be an object")?;
    let code = map.get("code").and_then(Value::as_str).ok_or("the error has no code")?;
    let code = ErrorCode::parse(code).ok_or_else(|| format!("unknown error code {code:?}"))?;
    let message = map.get("message").and_then(Value::as_str).ok_or("the error has no message")?.to_owned();
    let mut keys = vec!["code", "message"];
    keys.extend(typed_fields(code));
    let mut actual = exact_keys(value, &keys, "the error")?.clone();
    actual.remove("message");
    if code == ErrorCode::InvalidSchema {
        let problems = actual.remove("problems").and_then(|p| p.as_array().map(Vec::len));
        actual.insert("problem_count".into(), problems.ok_or("problems must be an array")?.into());
    }
    Ok(Outcome::Err { actual: Value::Object(actual), message })
}

// ---------------------------------------------------------------------------------------------
// Matching an outcome against the expectation.

/// `None` when the outcome is as expected, else what differs.
fn check(expect: &Expect, outcome: &Outcome, names: &mut Names) -> Option<String> {
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
        matches(names, "$", None, expected, actual, &mut differences);
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
    names: &mut Names,
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
        if let Some(partial) =
            expected.as_object().filter(|m| m.len() == 1).and_then(|m| m.get("json_partial"))
        {
            match serde_json::from_slice::<Value>(&actual_bytes) {
                Ok(got) => matches(names, &format!("{path}{{json}}"), None, partial, &got, out),
                Err(_) => {
                    out.push(format!("at {path}: expected JSON bytes matching {partial}, actual {inner}"))
                }
            }
            return;
        }
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
            if let Some(name) = text.strip_prefix(DELIVERY_PREFIX) {
                match names.deliveries.get(name) {
                    Some(id) if id == got => {}
                    Some(id) => out.push(format!("at {path}: expected {text} = {id}, actual {got}")),
                    None => match names.deliveries.iter().find(|(_, id)| *id == got) {
                        Some((other, _)) => out.push(format!(
                            "at {path}: {text} names a new delivery, but {got} is {DELIVERY_PREFIX}{other}"
                        )),
                        None => {
                            names.deliveries.insert(name.to_owned(), got.to_owned());
                        }
                    },
                }
                return;
            }
            match names.ids.resolve(text) {
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
                    Some(actual) => matches(names, &sub, Some(k), v, actual, out),
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
                matches(names, &format!("{path}[{i}]"), None, w, g, out);
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

/// A value as the README writes it: bytes markers removed, long strings shortened.
pub fn display(value: &Value) -> String {
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
    let mut text = strip(value).to_string();
    if text.len() > 2000 {
        let mut cut = 2000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" ...");
    }
    text
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
// Standard base64 with padding (RFC 4648): the form of every byte string of the protocol.

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

/// For the self-tests: the differences between an expectation and a normalised result.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    matches(&mut Names::default(), "$", None, expected, actual, &mut out);
    out
}

/// For the self-tests: the normalised outcome of an answer to a `read_stream`.
pub fn read_outcome(answer: &Value) -> Res<Value> {
    match outcome(ResultKind::Read, answer)? {
        Outcome::Ok(value) => Ok(value),
        Outcome::Err { actual, .. } => Err(display(&actual)),
    }
}
