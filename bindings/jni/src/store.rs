//! What a handle owns, and every operation on it, written once for both kinds of store: the
//! embedded `Db` (blocking calls, run inline or on the runtime's blocking pool) and the cluster
//! `Client` (async calls, awaited). No logic of the store lives here: arguments are converted,
//! results packed (see `wire`) or written as JSON.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use graveyard::crypto::Key;
use graveyard::schema::{RegisteredSchema, Schema, SchemaUpsert};
use graveyard::{
    Client, ClientDelivery, ClientGroupMember, ClientSubscription, Db, Delivery, Direction, Error, EventData,
    ExpectedVersion, Filter, GroupInfo, GroupMember, GroupSettings, GroupStrategy, GroupTarget, NackAction,
    ReadAllOptions, ReadOptions, ReplayInfo, Result, StreamInfo, StreamMetadata, SubscribeOptions,
    Subscription, SubscriptionMessage, SubscriptionStart,
};
use serde_json::{json, Value};

use crate::wire;

/// The store behind a client handle.
pub enum Store {
    Db(Db),
    Client(Client),
}

/// A result on its way to Java: `null`, a `java.lang.Long`, a `byte[]` or a `String` (JSON).
pub enum Out {
    Null,
    Long(u64),
    Bytes(Vec<u8>),
    Json(String),
}

impl Store {
    pub fn is_embedded(&self) -> bool {
        matches!(self, Store::Db(_))
    }

    pub fn close(&self) {
        match self {
            Store::Db(db) => db.close(),
            Store::Client(client) => client.close(),
        }
    }

    pub async fn append(
        &self,
        stream: String,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<Out> {
        let r = match self {
            Store::Db(db) => db.append(&stream, expected, events)?,
            Store::Client(c) => c.append(&stream, expected, events).await?,
        };
        Ok(Out::Bytes(wire::append_result(&r)))
    }

    pub async fn read_stream(&self, stream: String, options: ReadOptions) -> Result<Out> {
        Ok(Out::Bytes(match self {
            Store::Db(db) => {
                // Packed straight from the pages, read in place: one copy, into the buffer.
                let mut w = wire::EventsWriter::new();
                db.visit_stream(&stream, options, |e| {
                    w.push_ref(&e);
                    true
                })?;
                w.finish()
            }
            Store::Client(c) => wire::events(&c.read_stream(&stream, options).await?),
        }))
    }

    pub async fn read_all(&self, options: ReadAllOptions) -> Result<Out> {
        Ok(Out::Bytes(match self {
            Store::Db(db) => {
                let mut w = wire::EventsWriter::new();
                db.visit_all(&options, |e| {
                    w.push_ref(&e);
                    true
                })?;
                w.finish()
            }
            Store::Client(c) => wire::events(&c.read_all(options).await?),
        }))
    }

    pub async fn head_position(&self) -> Result<Out> {
        Ok(Out::Long(match self {
            Store::Db(db) => db.head_position()?,
            Store::Client(c) => c.head_position().await?,
        }))
    }

    pub async fn stream_info(&self, stream: String) -> Result<Out> {
        let info = match self {
            Store::Db(db) => db.stream_info(&stream)?,
            Store::Client(c) => c.stream_info(&stream).await?,
        };
        Ok(Out::Json(stream_info_json(&info).to_string()))
    }

    pub async fn set_stream_metadata(&self, stream: String, metadata: StreamMetadata) -> Result<Out> {
        match self {
            Store::Db(db) => db.set_stream_metadata(&stream, metadata)?,
            Store::Client(c) => c.set_stream_metadata(&stream, metadata).await?,
        }
        Ok(Out::Null)
    }

    pub async fn get_stream_metadata(&self, stream: String) -> Result<Out> {
        let metadata = match self {
            Store::Db(db) => db.get_stream_metadata(&stream)?,
            Store::Client(c) => c.get_stream_metadata(&stream).await?,
        };
        Ok(Out::Json(metadata_json(&metadata).to_string()))
    }

    pub async fn delete_stream(
        &self,
        stream: String,
        expected: ExpectedVersion,
        tombstone: bool,
    ) -> Result<Out> {
        match (self, tombstone) {
            (Store::Db(db), false) => db.delete_stream(&stream, expected)?,
            (Store::Db(db), true) => db.tombstone_stream(&stream, expected)?,
            (Store::Client(c), false) => c.delete_stream(&stream, expected).await?,
            (Store::Client(c), true) => c.tombstone_stream(&stream, expected).await?,
        }
        Ok(Out::Null)
    }

    pub async fn shred_stream(&self, stream: String) -> Result<Out> {
        match self {
            Store::Db(db) => db.shred_stream(&stream)?,
            Store::Client(c) => c.shred_stream(&stream).await?,
        }
        Ok(Out::Null)
    }

    pub async fn rotate_master_key(&self, key: Key) -> Result<Out> {
        match self {
            Store::Db(db) => db.rotate_master_key(key)?,
            Store::Client(c) => c.rotate_master_key(&key).await?,
        }
        Ok(Out::Null)
    }

    pub async fn save_snapshot(&self, stream: String, revision: u64, data: Vec<u8>) -> Result<Out> {
        match self {
            Store::Db(db) => db.save_snapshot(&stream, revision, data)?,
            Store::Client(c) => c.save_snapshot(&stream, revision, data).await?,
        }
        Ok(Out::Null)
    }

    pub async fn get_snapshot(&self, stream: String) -> Result<Out> {
        let snapshot = match self {
            Store::Db(db) => db.get_snapshot(&stream)?,
            Store::Client(c) => c.get_snapshot(&stream).await?,
        };
        Ok(snapshot.map_or(Out::Null, |s| Out::Bytes(wire::snapshot(&s))))
    }

    pub async fn upsert_schema(&self, schema_json: String) -> Result<Out> {
        let schema = Schema::from_json(schema_json.as_bytes())?;
        let upsert = match self {
            Store::Db(db) => db.upsert_schema(&schema)?,
            Store::Client(c) => c.upsert_schema(&schema).await?,
        };
        Ok(Out::Json(schema_upsert_json(&upsert).to_string()))
    }

    pub async fn get_schema(&self, name: String, version: Option<u32>) -> Result<Out> {
        let schema = match self {
            Store::Db(db) => db.get_schema(&name, version)?,
            Store::Client(c) => c.get_schema(&name, version).await?,
        };
        Ok(Out::Json(registered_schema_json(&schema).to_string()))
    }

    pub async fn list_schemas(&self) -> Result<Out> {
        let schemas = match self {
            Store::Db(db) => db.list_schemas()?,
            Store::Client(c) => c.list_schemas().await?,
        };
        Ok(Out::Json(Value::Array(schemas.iter().map(registered_schema_json).collect()).to_string()))
    }

    pub async fn create_group(
        &self,
        name: String,
        target: GroupTarget,
        start: SubscriptionStart,
        settings: GroupSettings,
    ) -> Result<Out> {
        let info = match self {
            Store::Db(db) => db.create_group(&name, target, start, settings)?,
            Store::Client(c) => c.create_group(&name, target, start, settings).await?,
        };
        Ok(Out::Json(group_info_json(&info).to_string()))
    }

    pub async fn update_group(&self, name: String, settings: GroupSettings) -> Result<Out> {
        let info = match self {
            Store::Db(db) => db.update_group(&name, settings)?,
            Store::Client(c) => c.update_group(&name, settings).await?,
        };
        Ok(Out::Json(group_info_json(&info).to_string()))
    }

    pub async fn delete_group(&self, name: String) -> Result<Out> {
        match self {
            Store::Db(db) => db.delete_group(&name)?,
            Store::Client(c) => c.delete_group(&name).await?,
        }
        Ok(Out::Null)
    }

    pub async fn group_info(&self, name: String) -> Result<Out> {
        let info = match self {
            Store::Db(db) => db.group_info(&name)?,
            Store::Client(c) => c.group_info(&name).await?,
        };
        Ok(Out::Json(group_info_json(&info).to_string()))
    }

    pub async fn list_groups(&self) -> Result<Out> {
        let names = match self {
            Store::Db(db) => db.list_groups()?,
            Store::Client(c) => c.list_groups().await?,
        };
        Ok(Out::Json(json!(names).to_string()))
    }

    pub async fn replay_parked(&self, name: String, limit: Option<u64>) -> Result<Out> {
        let info = match self {
            Store::Db(db) => db.replay_parked(&name, limit)?,
            Store::Client(c) => c.replay_parked(&name, limit).await?,
        };
        Ok(Out::Json(replay_info_json(&info).to_string()))
    }

    pub async fn subscribe(
        &self,
        target: SubscribeTarget,
        options: SubscribeOptions,
    ) -> Result<SubscriptionHandle> {
        let inner = match (self, target) {
            (Store::Db(db), SubscribeTarget::Stream(stream)) => {
                SubscriptionInner::Db(db.subscribe_to_stream(&stream, options)?)
            }
            (Store::Db(db), SubscribeTarget::All) => SubscriptionInner::Db(db.subscribe_to_all(options)?),
            (Store::Client(c), SubscribeTarget::Stream(stream)) => {
                SubscriptionInner::Client(c.subscribe_to_stream(&stream, options.start).await?)
            }
            (Store::Client(c), SubscribeTarget::All) => {
                SubscriptionInner::Client(c.subscribe_to_all(options.start, options.filter).await?)
            }
        };
        Ok(SubscriptionHandle {
            inner: Mutex::new(Some(inner)),
            cancel: tokio::sync::watch::channel(false).0,
        })
    }

    pub async fn join_group(&self, group: String, member: String) -> Result<MemberHandle> {
        let inner = match self {
            Store::Db(db) => MemberInner::Db(db.join_group(&group, &member)?),
            Store::Client(c) => MemberInner::Client(Box::new(c.join_group(&group, &member).await?)),
        };
        Ok(MemberHandle {
            inner: Mutex::new(Some(inner)),
            deliveries: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            settlers: AtomicUsize::new(0),
            cancel: tokio::sync::watch::channel(false).0,
        })
    }
}

pub enum SubscribeTarget {
    Stream(String),
    All,
}

// ---- subscriptions ------------------------------------------------------------------------------

enum SubscriptionInner {
    Db(Subscription),
    Client(ClientSubscription),
}

/// A subscription handle: `next` holds `inner` while it waits; `cancel` wakes it from another
/// thread (Java's `close`), without waiting for the lock.
pub struct SubscriptionHandle {
    inner: Mutex<Option<SubscriptionInner>>,
    cancel: tokio::sync::watch::Sender<bool>,
}

/// What `next` returns: a message, a timeout, or the end (closed, or after an error was reported).
pub enum Next<T> {
    Item(T),
    Timeout,
    Ended,
}

impl SubscriptionHandle {
    /// The next message, packed: tag 0 caught up, 1 event (then the event), 2 ended.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(inner) = guard.as_mut() else { return Ok(Some(vec![2])) };
        let cancel = self.cancel.subscribe();
        let next = crate::runtime::block_on_cancellable(cancel, timeout, async {
            match inner {
                SubscriptionInner::Db(s) => s.next().await,
                SubscriptionInner::Client(s) => s.next().await,
            }
        });
        match next {
            Next::Timeout => Ok(None),
            Next::Ended | Next::Item(None) => {
                *guard = None;
                Ok(Some(vec![2]))
            }
            Next::Item(Some(Err(e))) => {
                *guard = None;
                Err(e)
            }
            Next::Item(Some(Ok(SubscriptionMessage::CaughtUp))) => Ok(Some(vec![0])),
            Next::Item(Some(Ok(SubscriptionMessage::Event(e)))) => {
                let mut out = vec![1];
                wire::push_recorded(&mut out, &e);
                Ok(Some(out))
            }
        }
    }

    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }
}

// ---- consumer group members ---------------------------------------------------------------------

enum MemberInner {
    Db(GroupMember),
    Client(Box<ClientGroupMember>),
}

enum Held {
    Db(Delivery),
    Client(ClientDelivery),
}

/// A group member handle. Deliveries handed to Java are kept here under a token until settled:
/// Java names them by token. `next` waits in short slices, releasing the member between them, so
/// a settle from another thread waits a slice at most.
pub struct MemberHandle {
    inner: Mutex<Option<MemberInner>>,
    deliveries: Mutex<HashMap<u64, Held>>,
    next_token: AtomicU64,
    /// Settles waiting for `inner`: `next` steps aside between slices while there are any.
    settlers: AtomicUsize,
    cancel: tokio::sync::watch::Sender<bool>,
}

const MEMBER_SLICE: Duration = Duration::from_millis(50);

impl MemberHandle {
    /// The next delivery, packed: `u64 token, u32 attempt, i64 parked revision (-1: none)`, event.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(std::time::Instant::now()).min(MEMBER_SLICE),
                None => MEMBER_SLICE,
            };
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(inner) = guard.as_mut() else { return Err(Error::Closed) };
            let next = crate::runtime::block_on_cancellable(self.cancel.subscribe(), Some(slice), async {
                match inner {
                    MemberInner::Db(m) => m.next().await.map(Held::Db),
                    MemberInner::Client(m) => m.next().await.map(Held::Client),
                }
            });
            drop(guard);
            match next {
                Next::Ended => return Err(Error::Closed),
                Next::Timeout => {
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        return Ok(None);
                    }
                    // Let the settles waiting for the member through before the next slice.
                    while self.settlers.load(Ordering::Acquire) > 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Next::Item(Err(e)) => return Err(e),
                Next::Item(Ok(held)) => {
                    let token = self.next_token.fetch_add(1, Ordering::Relaxed);
                    let (event, attempt, parked) = match &held {
                        Held::Db(d) => (&d.event, d.attempt, d.parked_revision().map_or(-1, |r| r as i64)),
                        Held::Client(d) => (&d.event, d.attempt, -1),
                    };
                    let mut out = Vec::with_capacity(20 + 64 + event.data.len());
                    out.extend_from_slice(&token.to_le_bytes());
                    out.extend_from_slice(&attempt.to_le_bytes());
                    out.extend_from_slice(&parked.to_le_bytes());
                    wire::push_recorded(&mut out, event);
                    self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).insert(token, held);
                    return Ok(Some(out));
                }
            }
        }
    }

    /// Acks (`action` None) or nacks the deliveries of `tokens`. Tokens already settled are
    /// ignored (settling twice is harmless in the core too); the settled ones are forgotten once
    /// the settle succeeded.
    pub fn settle(&self, tokens: &[u64], action: Option<NackAction>) -> Result<()> {
        self.settlers.fetch_add(1, Ordering::AcqRel);
        let result = self.settle_now(tokens, action);
        self.settlers.fetch_sub(1, Ordering::AcqRel);
        result
    }

    fn settle_now(&self, tokens: &[u64], action: Option<NackAction>) -> Result<()> {
        let mut held = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(inner) = guard.as_mut() else { return Err(Error::Closed) };
        match inner {
            MemberInner::Db(m) => {
                let ds: Vec<Delivery> = tokens
                    .iter()
                    .filter_map(|t| match held.get(t) {
                        Some(Held::Db(d)) => Some(d.clone()),
                        _ => None,
                    })
                    .collect();
                match action {
                    None => m.ack_all(&ds)?,
                    Some(action) => m.nack_all(&ds, action)?,
                }
            }
            MemberInner::Client(m) => {
                let ds: Vec<ClientDelivery> = tokens
                    .iter()
                    .filter_map(|t| match held.get(t) {
                        Some(Held::Client(d)) => Some(d.clone()),
                        _ => None,
                    })
                    .collect();
                crate::runtime::block_on(async {
                    match action {
                        None => m.ack(&ds).await,
                        Some(action) => m.nack(&ds, action).await,
                    }
                })?;
            }
        }
        for t in tokens {
            held.remove(t);
        }
        Ok(())
    }

    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }
}

// ---- JSON ---------------------------------------------------------------------------------------

fn expected_json(e: ExpectedVersion) -> Value {
    match e {
        ExpectedVersion::Any => json!("any"),
        ExpectedVersion::NoStream => json!("no_stream"),
        ExpectedVersion::StreamExists => json!("stream_exists"),
        ExpectedVersion::Exact(n) => json!({ "exact": n }),
    }
}

/// The typed fields of an error, for the Java exception's constructor.
pub fn error_details(e: &Error) -> Option<String> {
    let details = match e {
        Error::WrongExpectedVersion { stream, expected, actual } => json!({
            "stream": stream,
            "expected": expected_json(*expected),
            "actual": match actual {
                graveyard::CurrentRevision::NoStream => json!("no_stream"),
                graveyard::CurrentRevision::Revision(n) => json!(n),
            },
        }),
        Error::StreamDeleted { stream } => json!({ "stream": stream }),
        Error::SchemaViolation { schema, version, event, violations } => json!({
            "schema": schema,
            "version": version,
            "event": event,
            "violations": violations.iter().map(|v| json!({
                "path": v.path,
                "rule": v.rule.as_str(),
                "value": if v.value.is_null() { Value::Null } else { Value::String(v.value.to_string()) },
                "message": v.message,
            })).collect::<Vec<_>>(),
        }),
        Error::InvalidSchema { schema, problems } => json!({ "schema": schema, "problems": problems }),
        _ => return None,
    };
    Some(details.to_string())
}

fn metadata_json(m: &StreamMetadata) -> Value {
    json!({
        "max_count": m.max_count,
        "max_age_micros": m.max_age.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        "truncate_before": m.truncate_before,
    })
}

pub fn metadata_from_json(text: &str) -> Result<StreamMetadata> {
    let v: Value = parse(text)?;
    Ok(StreamMetadata {
        max_count: v.get("max_count").and_then(Value::as_u64),
        max_age: v.get("max_age_micros").and_then(Value::as_u64).map(Duration::from_micros),
        truncate_before: v.get("truncate_before").and_then(Value::as_u64),
    })
}

fn stream_info_json(info: &StreamInfo) -> Value {
    json!({
        "current": match info.current {
            graveyard::CurrentRevision::NoStream => Value::Null,
            graveyard::CurrentRevision::Revision(n) => json!(n),
        },
        "next_revision": info.next_revision,
        "deleted": info.deleted,
        "shredded": info.shredded,
        "metadata": metadata_json(&info.metadata),
    })
}

fn schema_upsert_json(u: &SchemaUpsert) -> Value {
    json!({ "name": u.name, "version": u.version, "changed": u.changed })
}

fn registered_schema_json(s: &RegisteredSchema) -> Value {
    let definition: Value = serde_json::from_slice(&s.schema.to_json()).unwrap_or(Value::Null);
    json!({ "name": s.schema.name, "version": s.version, "definition": definition })
}

fn filter_json(f: &Filter) -> Value {
    json!({ "stream_prefixes": f.stream_prefixes, "event_types": f.event_types })
}

pub fn filter_from_json(text: Option<String>) -> Result<Filter> {
    let Some(text) = text else { return Ok(Filter::default()) };
    let v = parse(&text)?;
    Ok(filter_from_value(&v))
}

fn filter_from_value(v: &Value) -> Filter {
    let list = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    Filter { stream_prefixes: list("stream_prefixes"), event_types: list("event_types") }
}

pub fn target_from_json(text: &str) -> Result<GroupTarget> {
    let v = parse(text)?;
    match (v.get("stream").and_then(Value::as_str), v.get("all")) {
        (Some(stream), _) => Ok(GroupTarget::Stream(stream.to_owned())),
        (None, Some(filter)) => Ok(GroupTarget::All(filter_from_value(filter))),
        _ => Err(Error::InvalidArgument("a group target names a stream or $all".into())),
    }
}

pub fn settings_from_json(text: &str) -> Result<GroupSettings> {
    let v = parse(text)?;
    let number = |key: &str| -> Result<u64> {
        v.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::InvalidArgument(format!("group settings lack {key}")))
    };
    Ok(GroupSettings {
        max_retries: u32::try_from(number("max_retries")?).unwrap_or(u32::MAX),
        ack_timeout: Duration::from_micros(number("ack_timeout_micros")?),
        max_in_flight: u32::try_from(number("max_in_flight")?).unwrap_or(u32::MAX),
        strategy: match v.get("strategy").and_then(Value::as_str) {
            Some("pinned_by_stream") => GroupStrategy::PinnedByStream,
            _ => GroupStrategy::RoundRobin,
        },
    })
}

fn group_info_json(info: &GroupInfo) -> Value {
    json!({
        "name": info.name,
        "target": match &info.target {
            GroupTarget::All(filter) => json!({ "all": filter_json(filter) }),
            GroupTarget::Stream(stream) => json!({ "stream": stream }),
        },
        "settings": {
            "max_retries": info.settings.max_retries,
            "ack_timeout_micros": u64::try_from(info.settings.ack_timeout.as_micros()).unwrap_or(u64::MAX),
            "max_in_flight": info.settings.max_in_flight,
            "strategy": match info.settings.strategy {
                GroupStrategy::PinnedByStream => "pinned_by_stream",
                GroupStrategy::RoundRobin => "round_robin",
            },
        },
        "checkpoint": info.checkpoint,
        "lag": info.lag,
        "members": info.members,
        "in_flight": info.in_flight,
        "buffered": info.buffered,
        "parked_stream": info.parked_stream,
        "parked": info.parked,
        "replaying": info.replaying,
    })
}

fn replay_info_json(info: &ReplayInfo) -> Value {
    json!({
        "from": info.revisions.start,
        "to": info.revisions.end,
        "parked": info.parked,
        "replaying": info.replaying,
    })
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("the SDK sent malformed JSON: {e}")))
}

pub fn direction(d: i32) -> Result<Direction> {
    match d {
        0 => Ok(Direction::Forwards),
        1 => Ok(Direction::Backwards),
        _ => Err(Error::InvalidArgument(format!("unknown direction {d}"))),
    }
}
