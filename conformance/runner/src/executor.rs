//! The executor of the conformance protocol (conformance/README.md, "Running the scenarios in an
//! SDK") over `graveyard::Store`, written once for both faces: the core's test runs it on
//! embedded stores, the server's on 3-node clusters through `Store::from_client`, and
//! `graveyard-conformance --serve-embedded` serves it over JSON lines as the reference executor.
//! It only dispatches: every request names one operation of the façade, and every answer is the
//! core's own JSON form of the result, or the error's code, message and typed fields.
//!
//! Included by path, like runner.rs (see there why).

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use graveyard::runtime::{block_on_shared, Next};
use graveyard::schema::Schema;
use graveyard::{
    Durability, Error, EventData, ExpectedVersion, GroupSettings, GroupTarget, NackAction, Options,
    ReadAllOptions, ReadOptions, RecordedEvent, Store, StoreMember, StoreSubscription, SubscribeOptions,
    SubscriptionMessage, Uuid,
};
use serde_json::{json, Map, Value};

use super::runner::{base64_decode, base64_encode, Executor, Res};

// Macros rather than generic functions: the traits' crate, serde, is not a dependency of every
// crate that includes this file.

/// An argument the runner has checked already, read in the core's JSON form.
macro_rules! parse {
    ($args:expr, $key:expr) => {{
        let key: &str = $key;
        serde_json::from_value($args.value(key)?.clone()).map_err(|e| format!("{key:?}: {e}"))
    }};
}

/// A value the scenario may have written wrong on purpose (group targets and settings), read in
/// the core's JSON form: anything it refuses is INVALID_ARGUMENT, as `boundary::from_json` makes
/// it for the bindings (which this test crate may be built without).
macro_rules! structured {
    ($what:expr, $value:expr) => {{
        let (what, value): (&str, &Value) = ($what, $value);
        if value.is_array() {
            Err(Error::InvalidArgument(format!("{what}: a JSON array where an object or a value belongs")))
        } else {
            serde_json::from_value(value.clone()).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))
        }
    }};
}

/// The core's JSON form of a model type.
macro_rules! to_json {
    ($value:expr) => {
        serde_json::to_value($value).expect("the model types always serialise")
    };
}

/// What a fresh store for one scenario must be: the `begin` request.
pub struct Fresh {
    pub max_event_size: Option<usize>,
    pub master_key: Option<[u8; 32]>,
    /// Every stream the scenario may touch (a cluster places them all on one member).
    pub streams: Vec<String>,
}

/// The store of one scenario. Dropping it releases what it holds (a directory, nodes).
pub trait Opened {
    fn store(&self) -> &Store;
    /// Closes the store and opens the same data again (`reopen`). The executor drops every
    /// session first.
    fn reopen(&mut self) -> graveyard::Result<()>;
}

/// Opens the store of a scenario.
pub type Open<'a> = dyn FnMut(&Fresh) -> Res<Box<dyn Opened>> + 'a;

/// Which forms of the façade's operations the executor calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forms {
    /// `append_blocking`, `next_blocking`...
    Blocking,
    /// `append`, `next`... awaited on the shared runtime.
    Async,
}

pub struct StoreExecutor<'a> {
    open: Box<Open<'a>>,
    forms: Forms,
    scenario: Option<Current>,
}

/// The scenario being run. Sessions are declared first so they drop before the store.
struct Current {
    sessions: HashMap<String, Session>,
    opened: Box<dyn Opened>,
}

/// Boxed: a cluster subscription is much larger than a member.
enum Session {
    Subscription(Box<StoreSubscription>),
    Member(StoreMember),
}

impl<'a> StoreExecutor<'a> {
    pub fn new(forms: Forms, open: impl FnMut(&Fresh) -> Res<Box<dyn Opened>> + 'a) -> StoreExecutor<'a> {
        StoreExecutor { open: Box::new(open), forms, scenario: None }
    }

    /// Ends the scenario being run, if any: its sessions, then its store, then what held it.
    fn end(&mut self) {
        if let Some(mut current) = self.scenario.take() {
            current.sessions.clear();
            current.opened.store().close();
        }
    }

    /// `Err`: the request does not follow the protocol (answered `{"fail": ...}`).
    fn answer(&mut self, request: &Value) -> Res<graveyard::Result<Value>> {
        let args = Args(request.as_object().ok_or("a request is an object")?);
        let op = args.str("op")?;
        match op {
            "begin" => {
                self.end();
                let options = args.value("options")?;
                let max_event_size = match &options["max_event_size"] {
                    Value::Null => None,
                    size => Some(
                        size.as_u64().and_then(|s| usize::try_from(s).ok()).ok_or("bad max_event_size")?,
                    ),
                };
                let master_key = match &options["master_key"] {
                    Value::Null => None,
                    key => Some(hex_key(key.as_str().ok_or("master_key is a string")?)?),
                };
                let streams = args
                    .array("streams")?
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned).ok_or("streams are strings"))
                    .collect::<Result<Vec<_>, _>>()?;
                let opened = (self.open)(&Fresh { max_event_size, master_key, streams })?;
                self.scenario = Some(Current { sessions: HashMap::new(), opened });
                return Ok(Ok(json!({})));
            }
            "end" => {
                self.end();
                return Ok(Ok(json!({})));
            }
            _ => {}
        }
        let forms = self.forms;
        let current = self.scenario.as_mut().ok_or("no scenario is open (\"begin\" first)")?;
        // Both forms of an operation of the façade, by the executor's choice.
        macro_rules! run {
            ($target:expr, $name:ident / $blocking:ident ( $($arg:expr),* )) => {
                match forms {
                    Forms::Blocking => $target.$blocking($($arg),*),
                    Forms::Async => block_on_shared($target.$name($($arg),*)),
                }
            };
        }
        let store = current.opened.store();
        Ok(match op {
            "append" => {
                let events = args.array("events")?.iter().map(event_data).collect::<Res<Vec<_>>>()?;
                let expected: ExpectedVersion = parse!(args, "expected_version")?;
                run!(store, append / append_blocking(args.str("stream")?, expected, events))
                    .map(|r| to_json!(&r))
            }
            "read_stream" => {
                let options = ReadOptions {
                    direction: parse!(args, "direction")?,
                    from: args.opt_u64("from")?,
                    limit: args.opt_u64("limit")?.unwrap_or(u64::MAX),
                };
                run!(store, read_stream / read_stream_blocking(args.str("stream")?, options))
                    .map(|e| events_json(&e))
            }
            "read_all" => {
                let options = ReadAllOptions {
                    direction: parse!(args, "direction")?,
                    from: args.opt_u64("from")?,
                    limit: args.opt_u64("limit")?.unwrap_or(u64::MAX),
                    filter: parse!(args, "filter")?,
                };
                run!(store, read_all / read_all_blocking(options)).map(|e| events_json(&e))
            }
            "stream_info" => {
                run!(store, stream_info / stream_info_blocking(args.str("stream")?)).map(|i| to_json!(&i))
            }
            "set_stream_metadata" => {
                let metadata = parse!(args, "metadata")?;
                run!(store, set_stream_metadata / set_stream_metadata_blocking(args.str("stream")?, metadata))
                    .map(|()| json!({}))
            }
            "get_stream_metadata" => {
                run!(store, get_stream_metadata / get_stream_metadata_blocking(args.str("stream")?))
                    .map(|m| to_json!(&m))
            }
            "delete_stream" => {
                let expected: ExpectedVersion = parse!(args, "expected_version")?;
                run!(store, delete_stream / delete_stream_blocking(args.str("stream")?, expected))
                    .map(|()| json!({}))
            }
            "tombstone_stream" => {
                let expected: ExpectedVersion = parse!(args, "expected_version")?;
                run!(store, tombstone_stream / tombstone_stream_blocking(args.str("stream")?, expected))
                    .map(|()| json!({}))
            }
            "shred_stream" => {
                run!(store, shred_stream / shred_stream_blocking(args.str("stream")?)).map(|()| json!({}))
            }
            "save_snapshot" => {
                let data = base64_decode(args.str("data")?)?;
                let revision = args.u64("revision")?;
                run!(store, save_snapshot / save_snapshot_blocking(args.str("stream")?, revision, data))
                    .map(|()| json!({}))
            }
            "get_snapshot" => {
                run!(store, get_snapshot / get_snapshot_blocking(args.str("stream")?)).map(|snapshot| {
                    json!({ "snapshot": snapshot.map(|s| json!({
                    "stream": s.stream,
                    "revision": s.revision,
                    "data": base64_encode(&s.data),
                    "timestamp": s.timestamp,
                })) })
                })
            }
            "head_position" => {
                run!(store, head_position / head_position_blocking()).map(|p| json!({ "head_position": p }))
            }
            "upsert_schema" => Schema::from_json(args.value("schema")?.to_string().as_bytes())
                .and_then(|schema| run!(store, upsert_schema / upsert_schema_blocking(&schema)))
                .map(|u| to_json!(&u)),
            "get_schema" => {
                let version = args
                    .opt_u64("version")?
                    .map(|v| u32::try_from(v).map_err(|_| "version too large"))
                    .transpose()?;
                run!(store, get_schema / get_schema_blocking(args.str("name")?, version))
                    .map(|s| to_json!(&s))
            }
            "list_schemas" => run!(store, list_schemas / list_schemas_blocking())
                .map(|list| json!({ "schemas": list.iter().map(|s| to_json!(s)).collect::<Vec<_>>() })),
            "close" => {
                store.close();
                Ok(json!({}))
            }
            "reopen" => {
                current.sessions.clear();
                current.opened.reopen().map(|()| json!({}))
            }
            "create_group" => {
                let (name, start) = (args.str("group")?, parse!(args, "start")?);
                let (target, settings) = (args.value("target")?, args.value("settings")?);
                let target: graveyard::Result<GroupTarget> = structured!("the group target", target);
                let settings: graveyard::Result<GroupSettings> = structured!("the group settings", settings);
                target
                    .and_then(|target| Ok((target, settings?)))
                    .and_then(|(target, settings)| {
                        run!(store, create_group / create_group_blocking(name, target, start, settings))
                    })
                    .map(|info| to_json!(&info))
            }
            "update_group" => {
                let name = args.str("group")?;
                let settings: graveyard::Result<GroupSettings> =
                    structured!("the group settings", args.value("settings")?);
                settings
                    .and_then(|settings| run!(store, update_group / update_group_blocking(name, settings)))
                    .map(|info| to_json!(&info))
            }
            "delete_group" => {
                run!(store, delete_group / delete_group_blocking(args.str("group")?)).map(|()| json!({}))
            }
            "group_info" => {
                run!(store, group_info / group_info_blocking(args.str("group")?)).map(|i| to_json!(&i))
            }
            "list_groups" => {
                run!(store, list_groups / list_groups_blocking()).map(|names| json!({ "groups": names }))
            }
            "replay_parked" => {
                let limit = args.opt_u64("limit")?;
                run!(store, replay_parked / replay_parked_blocking(args.str("group")?, limit))
                    .map(|r| to_json!(&r))
            }
            "subscribe_to_stream" | "subscribe_to_all" => {
                let mut options = SubscribeOptions::from_start();
                options.start = parse!(args, "start")?;
                if let Some(page_size) = args.opt_u64("page_size")? {
                    options.page_size = page_size;
                }
                let subscription = if op == "subscribe_to_stream" {
                    run!(
                        store,
                        subscribe_to_stream / subscribe_to_stream_blocking(args.str("stream")?, options)
                    )
                } else {
                    options.filter = parse!(args, "filter")?;
                    run!(store, subscribe_to_all / subscribe_to_all_blocking(options))
                };
                subscription.map(|s| {
                    current.sessions.insert(
                        args.str("session").expect("read above").to_owned(),
                        Session::Subscription(Box::new(s)),
                    );
                    json!({})
                })
            }
            "join_group" => {
                let joined =
                    run!(store, join_group / join_group_blocking(args.str("group")?, args.str("member")?));
                let name = args.str("session")?.to_owned();
                joined.map(|member| {
                    current.sessions.insert(name, Session::Member(member));
                    json!({})
                })
            }
            "next" => {
                let timeout = Some(Duration::from_millis(args.u64("timeout_ms")?));
                match session(&current.sessions, &args)? {
                    Session::Subscription(s) => {
                        run!(s, next / next_blocking(timeout)).map(|next| match next {
                            Next::Item(SubscriptionMessage::Event(event)) => {
                                json!({ "event": event_json(&event) })
                            }
                            Next::Item(SubscriptionMessage::CaughtUp) => json!({ "caught_up": true }),
                            Next::Timeout => json!({ "timeout": true }),
                            Next::Ended => json!({ "ended": true }),
                        })
                    }
                    Session::Member(m) => run!(m, next / next_blocking(timeout)).map(|next| match next {
                        Next::Item(d) => json!({ "delivery": {
                            // A string: ids use all 64 bits, beyond what every JSON reader keeps.
                            "id": d.id.to_string(),
                            "attempt": d.attempt,
                            "parked_revision": d.parked_revision,
                            "event": event_json(&d.event),
                        } }),
                        Next::Timeout => json!({ "timeout": true }),
                        Next::Ended => json!({ "ended": true }),
                    }),
                }
            }
            "ack" | "nack" => {
                let Session::Member(member) = session(&current.sessions, &args)? else {
                    return Err("ack and nack name a member session".into());
                };
                let ids = args
                    .array("deliveries")?
                    .iter()
                    .map(|id| id.as_str().ok_or("delivery ids are strings"))
                    .collect::<Result<Vec<_>, _>>()?;
                // An id that is not a number was never handed out by this executor: the
                // façade refuses such ids, so ask it with one it never handed out either.
                let ids: Vec<u64> = ids.iter().map(|id| id.parse().unwrap_or(u64::MAX)).collect();
                if op == "ack" {
                    run!(member, ack / ack_blocking(&ids))
                } else {
                    let action: NackAction = parse!(args, "action")?;
                    run!(member, nack / nack_blocking(&ids, action))
                }
                .map(|()| json!({}))
            }
            "cancel" => {
                match session(&current.sessions, &args)? {
                    Session::Subscription(s) => s.cancel(),
                    Session::Member(m) => m.cancel(),
                }
                Ok(json!({}))
            }
            "close_session" => {
                current.sessions.remove(args.str("session")?).ok_or("no such session")?;
                Ok(json!({}))
            }
            other => return Err(format!("unknown op {other:?}")),
        })
    }
}

impl Executor for StoreExecutor<'_> {
    fn call(&mut self, request: &Value) -> Res<Value> {
        Ok(match self.answer(request) {
            Ok(Ok(result)) => json!({ "ok": result }),
            Ok(Err(error)) => json!({ "error": error_json(&error) }),
            Err(fail) => json!({ "fail": fail }),
        })
    }
}

impl Drop for StoreExecutor<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

fn session<'s>(sessions: &'s HashMap<String, Session>, args: &Args<'_>) -> Res<&'s Session> {
    let name = args.str("session")?;
    sessions.get(name).ok_or_else(|| format!("no session {name:?}"))
}

/// The arguments of a request.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn value(&self, key: &str) -> Res<&Value> {
        self.0.get(key).ok_or_else(|| format!("the request has no {key:?}"))
    }
    fn str(&self, key: &str) -> Res<&str> {
        self.value(key)?.as_str().ok_or_else(|| format!("{key:?} is a string"))
    }
    fn u64(&self, key: &str) -> Res<u64> {
        self.value(key)?.as_u64().ok_or_else(|| format!("{key:?} is an integer"))
    }
    fn opt_u64(&self, key: &str) -> Res<Option<u64>> {
        match self.value(key)? {
            Value::Null => Ok(None),
            value => value.as_u64().map(Some).ok_or_else(|| format!("{key:?} is an integer or null")),
        }
    }
    fn array(&self, key: &str) -> Res<&Vec<Value>> {
        self.value(key)?.as_array().ok_or_else(|| format!("{key:?} is an array"))
    }
}

fn event_data(value: &Value) -> Res<EventData> {
    let args = Args(value.as_object().ok_or("an event is an object")?);
    let mut event =
        EventData::new(args.str("type")?, base64_decode(args.str("data")?)?, args.str("content_type")?);
    event.metadata = base64_decode(args.str("metadata")?)?;
    event.id = match args.value("id")? {
        Value::Null => None,
        id => Some(Uuid::parse_str(id.as_str().ok_or("an id is a string")?).map_err(|e| e.to_string())?),
    };
    Ok(event)
}

fn event_json(e: &RecordedEvent) -> Value {
    json!({
        "stream": e.stream,
        "revision": e.revision,
        "position": e.position,
        "id": e.id.to_string(),
        "type": e.event_type,
        "content_type": e.content_type,
        "data": base64_encode(&e.data),
        "metadata": base64_encode(&e.metadata),
        "timestamp": e.timestamp,
        "shredded": e.shredded,
        "schema_version": e.schema_version,
    })
}

fn events_json(events: &[RecordedEvent]) -> Value {
    json!({ "events": events.iter().map(event_json).collect::<Vec<_>>() })
}

/// The code, the message and the typed fields (`Error::details`), in one object.
fn error_json(error: &Error) -> Value {
    let mut map = Map::new();
    map.insert("code".into(), json!(error.code().as_str()));
    map.insert("message".into(), json!(error.to_string()));
    if let Some(Value::Object(details)) = error.details() {
        map.extend(details);
    }
    Value::Object(map)
}

fn hex_key(text: &str) -> Res<[u8; 32]> {
    if text.len() != 64 {
        return Err("a master key is 64 hex digits".into());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| format!("master key: {e}"))?;
    }
    Ok(key)
}

/// An embedded store in a temporary directory, opened with relaxed durability (no scenario
/// depends on fsync); `reopen` closes it and opens the directory again.
pub fn open_embedded(fresh: &Fresh) -> Res<Box<dyn Opened>> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let mut options = Options::new(dir.path()).durability(Durability::NoFsyncUnsafe);
    if let Some(size) = fresh.max_event_size {
        options = options.max_event_size(size);
    }
    if let Some(key) = fresh.master_key {
        options = options.master_key(graveyard::crypto::Key::from_bytes(&key).map_err(|e| e.to_string())?);
    }
    let store = Store::open(options.clone()).map_err(|e| e.to_string())?;
    Ok(Box::new(Embedded { store, options, _dir: dir }))
}

/// Declared before the directory, so it is closed before the directory goes.
struct Embedded {
    store: Store,
    options: Options,
    _dir: tempfile::TempDir,
}

impl Opened for Embedded {
    fn store(&self) -> &Store {
        &self.store
    }

    fn reopen(&mut self) -> graveyard::Result<()> {
        self.store.close();
        self.store = Store::open(self.options.clone())?;
        Ok(())
    }
}
