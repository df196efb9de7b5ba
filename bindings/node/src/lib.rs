//! The N-API addon of sdk-ts: `graveyard::Store`, its sessions and `graveyard::boundary`, as
//! JavaScript classes. It converts arguments and results, maps errors and owns handles; the
//! TypeScript SDK (sdk-ts) builds the user's API on top. Conventions (docs/boundary.md):
//!
//! - Every call that can wait returns a Promise settled from the core's shared runtime
//!   (`graveyard::runtime::shared`): the event loop never blocks on a commit, an fsync or the
//!   network, and the process runs one tokio runtime, not one for napi and one for the core.
//! - A batch of events crosses as one packed buffer, a read page comes back as one buffer
//!   (handed over without a copy), sessions hand out batches of packed messages.
//! - Errors are JS `Error`s whose `code` is the core's error code name and, for the codes that
//!   have typed details, whose `cause` is an `Error` with the details' JSON as its message.
//!   A panic is an `INTERNAL` error, never a crashed process.
//! - A class instance owns its handle: `close()` (stores) or `cancel()` (sessions) ends it and
//!   garbage collection frees it, exactly once (Rust ownership).

#![deny(clippy::all)]

mod convert;

use napi::bindgen_prelude::{BigInt, BigUint64Array, Buffer, Either, Object};
use napi::{Env, Result};
use napi_derive::napi;

use graveyard::boundary::batch::{Batch, BatchedMember, BatchedSubscription};
use graveyard::boundary::{self, args, codes, packed};
use graveyard::runtime::{self, Cancel};
use graveyard::schema::Schema;
use graveyard::{Error, GroupSettings, GroupTarget, Store, StoreSubscription};

use convert::{guard, optional_u64, promise, u64_of};

/// A session's `next` saw nothing within its timeout; the session goes on.
pub const TIMEOUT: i32 = -2;
/// A session is over: cancelled, closed, or it reported the failure that ended it.
pub const ENDED: i32 = -3;

/// The version of GraveyardDB this addon was built from.
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Options of an embedded store; sizes 0 or absent take the core's defaults.
#[napi(object)]
pub struct OpenOptions {
    pub path: String,
    /// 0 fsync on every commit, 1 no fsync (docs/boundary.md, "Codes").
    pub durability: Option<i32>,
    pub map_size: Option<i64>,
    pub max_event_size: Option<i64>,
    pub max_readers: Option<u32>,
    pub max_json_depth: Option<u32>,
    /// A 32-byte master key: the store encrypts at rest.
    pub master_key: Option<Buffer>,
}

/// Options of a cluster connection; absent values take the core's defaults.
#[napi(object)]
pub struct ConnectOptions {
    pub endpoints: Vec<String>,
    pub token: Option<String>,
    pub ca_pem: Option<Buffer>,
    pub connect_timeout_ms: Option<i64>,
    /// -1: no limit.
    pub request_timeout_ms: Option<i64>,
    pub retries: Option<u32>,
    pub retry_backoff_ms: Option<i64>,
}

/// Opens (creating it if needed) an embedded store.
#[napi(ts_return_type = "Promise<NativeStore>")]
pub fn open<'e>(env: &'e Env, options: OpenOptions) -> Result<Object<'e>> {
    let options = guard(env, || {
        args::OpenArgs {
            path: &options.path,
            durability: options.durability.unwrap_or(0),
            map_size: size(options.map_size, "map size")?,
            max_event_size: size(options.max_event_size, "max event size")?,
            max_readers: options.max_readers,
            max_json_depth: options.max_json_depth,
            master_key: options.master_key.as_deref(),
        }
        .options()
    })?;
    promise(env, None, async move { runtime::blocking_section(|| Store::open(options)) }, |_, store| {
        Ok(NativeStore { store })
    })
}

/// A size from JavaScript: negative values are refused (0 and absent take the default).
fn size(value: Option<i64>, what: &str) -> graveyard::Result<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| Error::InvalidArgument(format!("{what} cannot be negative: {v}")))
        })
        .transpose()
}

/// Connects to a cluster through any of its endpoints.
#[napi(ts_return_type = "Promise<NativeStore>")]
pub fn connect<'e>(env: &'e Env, options: ConnectOptions) -> Result<Object<'e>> {
    let (endpoints, client_options) = guard(env, || {
        let args = args::ConnectArgs {
            token: options.token.clone(),
            ca_pem: options.ca_pem.as_ref().map(|pem| pem.to_vec()),
            connect_timeout: args::timeout_ms(options.connect_timeout_ms)?,
            request_timeout: args::timeout_ms(options.request_timeout_ms)?,
            retries: options.retries,
            retry_backoff: args::timeout_ms(options.retry_backoff_ms)?,
        };
        Ok((options.endpoints.clone(), args.options()))
    })?;
    promise(env, None, async move { Store::connect(&endpoints, client_options).await }, |_, store| {
        Ok(NativeStore { store })
    })
}

/// For the tests of the panic path: a panic in a synchronous export.
#[napi]
pub fn self_test_panic(env: &Env) -> Result<()> {
    guard(env, || -> graveyard::Result<()> { panic!("self-test panic") })
}

/// For the tests of the panic path: a panic in the core's runtime, settling a promise.
#[napi(ts_return_type = "Promise<void>")]
pub fn self_test_panic_async<'e>(env: &'e Env) -> Result<Object<'e>> {
    promise(env, None, async { panic!("self-test panic") }, |_, ()| Ok(()))
}

/// A cancel token: pulled once, it ends the calls and session waits it was given to (a call's
/// effect may still happen, as with a cancelled remote call).
#[napi]
pub struct NativeCancel(Cancel);

#[napi]
impl NativeCancel {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> NativeCancel {
        NativeCancel(Cancel::new())
    }

    #[napi]
    pub fn cancel(&self) {
        self.0.cancel();
    }

    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

fn token(cancel: Option<&NativeCancel>) -> Option<Cancel> {
    cancel.map(|c| c.0.clone())
}

/// An embedded store or a cluster connection.
#[napi]
pub struct NativeStore {
    store: Store,
}

/// An expected version from its code (docs/boundary.md, "Codes").
fn expected(kind: i32, revision: BigInt) -> graveyard::Result<graveyard::ExpectedVersion> {
    codes::expected_version(kind, u64_of(&revision, "an expected revision")?)
}

#[napi]
impl NativeStore {
    #[napi(getter)]
    pub fn embedded(&self) -> bool {
        self.store.is_embedded()
    }

    /// A handle on the same cluster connection whose node-scoped calls go to member `node_id`.
    #[napi]
    pub fn on_node(&self, env: &Env, node_id: String) -> Result<NativeStore> {
        guard(env, || Ok(NativeStore { store: self.store.on_node(&node_id)? }))
    }

    /// Closes the store for every handle on it; an embedded store waits for the calls in flight
    /// (on the core's runtime, not the event loop).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(
            env,
            None,
            async move {
                runtime::blocking_section(|| store.close());
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }

    #[napi]
    pub fn is_encrypted(&self, env: &Env) -> Result<bool> {
        guard(env, || self.store.is_encrypted())
    }

    /// Appends packed events (docs/boundary.md); resolves to the packed append result.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn append<'e>(
        &self,
        env: &'e Env,
        stream: String,
        expected_kind: i32,
        expected_revision: BigInt,
        events: &[u8],
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let expected = guard(env, || expected(expected_kind, expected_revision))?;
        // One copy of the packed bytes here; unpacking them (and checking JSON data) happens on
        // the core's runtime, off the event loop: ~0.5 µs an event, measured.
        let (events, store) = (events.to_vec(), self.store.clone());
        promise(
            env,
            token(cancel),
            async move { store.append(&stream, expected, packed::unpack_events(&events)?).await },
            |_, r| Ok(Buffer::from(packed::append_result(&r))),
        )
    }

    /// A page of a stream's events, packed.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_stream<'e>(
        &self,
        env: &'e Env,
        stream: String,
        direction: i32,
        from: Option<BigInt>,
        limit: Option<BigInt>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let options = guard(env, || {
            args::read_options(
                direction,
                optional_u64(from.as_ref(), "a revision")?,
                optional_u64(limit.as_ref(), "a limit")?,
            )
        })?;
        let store = self.store.clone();
        promise(
            env,
            token(cancel),
            async move { store.read_stream_packed(&stream, options).await },
            |_, page| Ok(Buffer::from(page)),
        )
    }

    /// A page of the global log, packed. `filter`: its JSON form, or null for none.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_all<'e>(
        &self,
        env: &'e Env,
        direction: i32,
        from: Option<BigInt>,
        limit: Option<BigInt>,
        filter: Option<String>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let options = guard(env, || {
            args::read_all_options(
                direction,
                optional_u64(from.as_ref(), "a position")?,
                optional_u64(limit.as_ref(), "a limit")?,
                filter.as_deref(),
            )
        })?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.read_all_packed(options).await }, |_, page| {
            Ok(Buffer::from(page))
        })
    }

    #[napi(ts_return_type = "Promise<bigint>")]
    pub fn head_position<'e>(&self, env: &'e Env, cancel: Option<&NativeCancel>) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.head_position().await }, |_, p| Ok(BigInt::from(p)))
    }

    /// One page of the streams of this store (of this node's log on a cluster) as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn list_streams<'e>(
        &self,
        env: &'e Env,
        prefix: String,
        after: Option<String>,
        limit: Option<BigInt>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let limit = guard(env, || optional_u64(limit.as_ref(), "a listing's limit"))?;
        let options = args::list_streams_options(prefix, after, limit);
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.list_streams(&options).await }, |_, page| {
            Ok(boundary::to_json(&page))
        })
    }

    /// The stream's info as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn stream_info<'e>(
        &self,
        env: &'e Env,
        stream: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.stream_info(&stream).await }, |_, info| {
            Ok(boundary::to_json(&info))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_stream_metadata<'e>(
        &self,
        env: &'e Env,
        stream: String,
        metadata: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let metadata = guard(env, || boundary::from_json("stream metadata", &metadata))?;
        let store = self.store.clone();
        promise(
            env,
            token(cancel),
            async move { store.set_stream_metadata(&stream, metadata).await },
            |_, ()| Ok(()),
        )
    }

    /// The stream's metadata as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_stream_metadata<'e>(
        &self,
        env: &'e Env,
        stream: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.get_stream_metadata(&stream).await }, |_, m| {
            Ok(boundary::to_json(&m))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_stream<'e>(
        &self,
        env: &'e Env,
        stream: String,
        expected_kind: i32,
        expected_revision: BigInt,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let expected = guard(env, || expected(expected_kind, expected_revision))?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.delete_stream(&stream, expected).await }, |_, ()| {
            Ok(())
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn tombstone_stream<'e>(
        &self,
        env: &'e Env,
        stream: String,
        expected_kind: i32,
        expected_revision: BigInt,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let expected = guard(env, || expected(expected_kind, expected_revision))?;
        let store = self.store.clone();
        promise(
            env,
            token(cancel),
            async move { store.tombstone_stream(&stream, expected).await },
            |_, ()| Ok(()),
        )
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn shred_stream<'e>(
        &self,
        env: &'e Env,
        stream: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.shred_stream(&stream).await }, |_, ()| Ok(()))
    }

    /// Rewraps every data key under a new 32-byte master key.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn rotate_master_key<'e>(
        &self,
        env: &'e Env,
        new_key: &[u8],
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let new_key = guard(env, || args::master_key(new_key, "new master key"))?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.rotate_master_key(new_key).await }, |_, ()| Ok(()))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn save_snapshot<'e>(
        &self,
        env: &'e Env,
        stream: String,
        revision: BigInt,
        data: &[u8],
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let revision = guard(env, || u64_of(&revision, "a snapshot revision"))?;
        let (store, data) = (self.store.clone(), data.to_vec());
        promise(
            env,
            token(cancel),
            async move { store.save_snapshot(&stream, revision, data).await },
            |_, ()| Ok(()),
        )
    }

    /// The stream's snapshot, packed, or null when it has none.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn get_snapshot<'e>(
        &self,
        env: &'e Env,
        stream: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.get_snapshot(&stream).await }, |_, s| {
            Ok(s.map(|s| Buffer::from(packed::snapshot(&s))))
        })
    }

    /// Registers a schema from its JSON definition; resolves to the upsert as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn upsert_schema<'e>(
        &self,
        env: &'e Env,
        schema: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        // The core's reading of a definition: a malformed one is INVALID_SCHEMA, like any other
        // problem of it.
        let schema = guard(env, || Schema::from_json(schema.as_bytes()))?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.upsert_schema(&schema).await }, |_, u| {
            Ok(boundary::to_json(&u))
        })
    }

    /// A schema's version (the latest when `version` is null) as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_schema<'e>(
        &self,
        env: &'e Env,
        name: String,
        version: Option<u32>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.get_schema(&name, version).await }, |_, s| {
            Ok(boundary::to_json(&s))
        })
    }

    /// The latest version of every schema, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn list_schemas<'e>(&self, env: &'e Env, cancel: Option<&NativeCancel>) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.list_schemas().await }, |_, s| {
            Ok(boundary::to_json(&s))
        })
    }

    /// Creates a consumer group; target and settings in their JSON forms; resolves to its info
    /// as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    #[allow(clippy::too_many_arguments)]
    pub fn create_group<'e>(
        &self,
        env: &'e Env,
        name: String,
        target: String,
        start_kind: i32,
        start_after: BigInt,
        settings: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let (target, start, settings) = guard(env, || {
            let target: GroupTarget = boundary::from_json("group target", &target)?;
            let start = codes::subscription_start(start_kind, u64_of(&start_after, "a start")?)?;
            let settings: GroupSettings = boundary::from_json("group settings", &settings)?;
            Ok((target, start, settings))
        })?;
        let store = self.store.clone();
        promise(
            env,
            token(cancel),
            async move { store.create_group(&name, target, start, settings).await },
            |_, info| Ok(boundary::to_json(&info)),
        )
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn update_group<'e>(
        &self,
        env: &'e Env,
        name: String,
        settings: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let settings: GroupSettings = guard(env, || boundary::from_json("group settings", &settings))?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.update_group(&name, settings).await }, |_, info| {
            Ok(boundary::to_json(&info))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_group<'e>(
        &self,
        env: &'e Env,
        name: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.delete_group(&name).await }, |_, ()| Ok(()))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn group_info<'e>(
        &self,
        env: &'e Env,
        name: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.group_info(&name).await }, |_, info| {
            Ok(boundary::to_json(&info))
        })
    }

    /// The names of the groups, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn list_groups<'e>(&self, env: &'e Env, cancel: Option<&NativeCancel>) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.list_groups().await }, |_, names| {
            Ok(boundary::to_json(&names))
        })
    }

    /// Hands parked events back to the group's members; resolves to the replay info as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn replay_parked<'e>(
        &self,
        env: &'e Env,
        name: String,
        limit: Option<BigInt>,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let limit = guard(env, || optional_u64(limit.as_ref(), "a replay limit"))?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.replay_parked(&name, limit).await }, |_, info| {
            Ok(boundary::to_json(&info))
        })
    }

    /// Subscribes to a stream: history from the start (kind 0 start, 1 end, 2 after revision
    /// `start_after`), then live events. `page_size` 0: the default.
    #[napi(ts_return_type = "Promise<NativeSubscription>")]
    pub fn subscribe_to_stream<'e>(
        &self,
        env: &'e Env,
        stream: String,
        start_kind: i32,
        start_after: BigInt,
        page_size: u32,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let options = guard(env, || {
            args::subscribe_options(start_kind, u64_of(&start_after, "a start")?, page_size, None)
        })?;
        let store = self.store.clone();
        promise(
            env,
            token(cancel),
            async move { store.subscribe_to_stream(&stream, options).await },
            |_, s| Ok(NativeSubscription::new(s)),
        )
    }

    /// Subscribes to the global log; `filter` its JSON form or null.
    #[napi(ts_return_type = "Promise<NativeSubscription>")]
    pub fn subscribe_to_all<'e>(
        &self,
        env: &'e Env,
        start_kind: i32,
        start_after: BigInt,
        filter: Option<String>,
        page_size: u32,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let options = guard(env, || {
            args::subscribe_options(
                start_kind,
                u64_of(&start_after, "a start")?,
                page_size,
                filter.as_deref(),
            )
        })?;
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.subscribe_to_all(options).await }, |_, s| {
            Ok(NativeSubscription::new(s))
        })
    }

    /// Joins a consumer group as `member`.
    #[napi(ts_return_type = "Promise<NativeMember>")]
    pub fn join_group<'e>(
        &self,
        env: &'e Env,
        group: String,
        member: String,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let store = self.store.clone();
        promise(env, token(cancel), async move { store.join_group(&group, &member).await }, |_, m| {
            Ok(NativeMember { member: BatchedMember::new(m) })
        })
    }
}

/// A session's batch as JavaScript gets it: the packed items, or [`TIMEOUT`] / [`ENDED`].
fn js_batch(batch: Batch) -> Either<Buffer, i32> {
    match batch {
        Batch::Items(items) => Either::A(Buffer::from(items)),
        Batch::Timeout => Either::B(TIMEOUT),
        Batch::Ended => Either::B(ENDED),
    }
}

/// A subscription: history, the caught-up marker, then live events.
#[napi]
pub struct NativeSubscription {
    sub: BatchedSubscription,
}

impl NativeSubscription {
    fn new(sub: StoreSubscription) -> NativeSubscription {
        NativeSubscription { sub: BatchedSubscription::new(sub) }
    }
}

#[napi]
impl NativeSubscription {
    /// Up to `max` packed messages (docs/boundary.md), waiting at most `timeout_ms` for the
    /// first (-1: as long as it takes); or -2 (timeout) / -3 (ended).
    #[napi(ts_return_type = "Promise<Buffer | number>")]
    pub fn next<'e>(
        &self,
        env: &'e Env,
        max: u32,
        timeout_ms: i64,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let wait = guard(env, || args::timeout_ms(Some(timeout_ms)))?;
        promise(env, token(cancel), self.sub.next(max, wait), |_, batch| Ok(js_batch(batch)))
    }

    /// Ends the subscription: a waiting and every later `next` says ended.
    #[napi]
    pub fn cancel(&self) {
        self.sub.cancel();
    }
}

/// A member of a consumer group.
#[napi]
pub struct NativeMember {
    member: BatchedMember,
}

#[napi]
impl NativeMember {
    /// Up to `max` packed deliveries, waiting at most `timeout_ms` for the first (-1: as long as
    /// it takes); or -2 (timeout) / -3 (ended).
    #[napi(ts_return_type = "Promise<Buffer | number>")]
    pub fn next<'e>(
        &self,
        env: &'e Env,
        max: u32,
        timeout_ms: i64,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let wait = guard(env, || args::timeout_ms(Some(timeout_ms)))?;
        promise(env, token(cancel), self.member.next(max, wait), |_, batch| Ok(js_batch(batch)))
    }

    /// Acknowledges deliveries by id, in one commit.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ack<'e>(
        &self,
        env: &'e Env,
        ids: BigUint64Array,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        promise(env, token(cancel), self.member.ack(ids.to_vec()), |_, ()| Ok(()))
    }

    /// Settles deliveries by id with an action (1 retry, 2 park, 3 skip).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn nack<'e>(
        &self,
        env: &'e Env,
        ids: BigUint64Array,
        action: i32,
        cancel: Option<&NativeCancel>,
    ) -> Result<Object<'e>> {
        let action = guard(env, || codes::nack_action(action))?;
        promise(env, token(cancel), self.member.nack(ids.to_vec(), action), |_, ()| Ok(()))
    }

    /// Leaves the group: a waiting and every later `next` says ended, settling is CLOSED (as
    /// through a freed handle of the C ABI); what it held unsettled is delivered again.
    #[napi]
    pub fn cancel(&self) {
        self.member.cancel();
    }
}
