//! `graveyard-jni`: the JNI binding of GraveyardDB, the native side of sdk-java
//! (`io.graveyard:graveyard-client`). Every operation is one of [`graveyard::Store`], its
//! subscriptions or its group members; what crosses is [`graveyard::boundary`]'s (packed events
//! and pages, numeric codes, JSON). The binding converts, maps errors and owns handles (see
//! README.md for the conventions).
//!
//! - Every exported function runs inside `EnvUnowned::with_env`, which catches panics; the
//!   [`jvm::Throw`] policy turns an error into the Java exception of its code (a panic into
//!   `InternalException`), built in one call by `Native.newException(code, message, details)`.
//! - A call given a `CompletableFuture` runs the façade's async form on
//!   [`graveyard::runtime::shared`] and completes the future from a runtime thread; without one
//!   it runs the blocking form.

mod handles;
mod jvm;

use std::sync::Arc;
use std::time::Duration;

use graveyard::boundary::{self, args, codes, packed};
use graveyard::crypto::Key;
use graveyard::runtime::{self, Next};
use graveyard::schema::Schema;
use graveyard::{
    Error, GroupSettings, GroupTarget, Store, StoreDelivery, StoreMember, StoreSubscription, StreamMetadata,
    SubscribeOptions, SubscriptionMessage,
};
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned};
use zeroize::Zeroizing;

use crate::handles::{free, handle, into_handle};
use crate::jvm::{spawn, to_java, Fail, Out, Res, Throw};

// ---- arguments ----------------------------------------------------------------------------------

fn string(env: &Env<'_>, s: &JString<'_>, what: &'static str) -> Res<String> {
    if s.is_null() {
        return Err(Fail::Null(what));
    }
    Ok(s.try_to_string(env)?)
}

fn optional_string(env: &Env<'_>, s: &JString<'_>) -> Res<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(s.try_to_string(env)?))
}

fn bytes(env: &Env<'_>, b: &JByteArray<'_>, what: &'static str) -> Res<Vec<u8>> {
    if b.is_null() {
        return Err(Fail::Null(what));
    }
    Ok(env.convert_byte_array(b)?)
}

fn ids(env: &Env<'_>, a: &JLongArray<'_>) -> Res<Vec<u64>> {
    if a.is_null() {
        return Err(Fail::Null("deliveries"));
    }
    let mut out = vec![0i64; a.len(env)?];
    a.get_region(env, 0, &mut out)?;
    // Delivery ids are u64 carried in Java longs bit for bit (a replayed parked event's id has
    // the top bit set).
    Ok(out.into_iter().map(|v| v as u64).collect())
}

/// An unsigned 64-bit value that Java holds in a long: negatives are refused.
fn unsigned(v: jlong, what: &str) -> Res<u64> {
    u64::try_from(v)
        .map_err(|_| Fail::Core(Error::InvalidArgument(format!("{what} cannot be negative: {v}"))))
}

/// -1 for "not set", else an unsigned value.
fn optional(v: jlong, what: &str) -> Res<Option<u64>> {
    if v == -1 {
        Ok(None)
    } else {
        unsigned(v, what).map(Some)
    }
}

/// A timeout in milliseconds, -1 for none.
fn timeout(millis: jlong) -> Res<Option<Duration>> {
    Ok(args::timeout_ms(Some(millis))?)
}

/// A master key from Java's bytes; the copy made here is wiped once the key is built.
fn key(env: &Env<'_>, b: &JByteArray<'_>, what: &'static str) -> Res<Key> {
    let bytes = Zeroizing::new(bytes(env, b, what)?);
    Ok(args::master_key(&bytes, what)?)
}

fn store(h: jlong) -> Res<Store> {
    handle::<Store>(h).cloned()
}

fn subscription(h: jlong) -> Res<Arc<StoreSubscription>> {
    handle::<Arc<StoreSubscription>>(h).cloned()
}

fn member(h: jlong) -> Res<Arc<StoreMember>> {
    handle::<Arc<StoreMember>>(h).cloned()
}

// ---- results ------------------------------------------------------------------------------------

/// A session's next item: packed, `null` on a timeout, an empty array once the session ended.
fn next_out<T>(next: Next<T>, pack: impl FnOnce(&T) -> Vec<u8>) -> Out {
    match next {
        Next::Item(item) => Out::Bytes(pack(&item)),
        Next::Timeout => Out::Null,
        Next::Ended => Out::Bytes(Vec::new()),
    }
}

fn message_out(next: Next<SubscriptionMessage>) -> Out {
    next_out(next, packed::subscription_message)
}

fn delivery_out(next: Next<StoreDelivery>) -> Out {
    next_out(next, packed::delivery)
}

fn none(_: ()) -> Out {
    Out::Null
}

// ---- exported functions -------------------------------------------------------------------------

macro_rules! export {
    ($name:ident ( $env:ident $(, $arg:ident : $ty:ty)* ) -> $ret:ty $body:block) => {
        #[unsafe(no_mangle)]
        pub extern "system" fn $name<'l>(
            mut unowned: EnvUnowned<'l>,
            _class: JClass<'l>,
            $($arg: $ty),*
        ) -> $ret {
            unowned.with_env(|$env: &mut Env<'l>| -> Res<$ret> { $body }).resolve::<Throw>()
        }
    };
}

/// One operation of the façade (or of a session): its blocking form `$blocking`, now, when
/// `$future` is null, returning the result; else its async form `$name` on the shared runtime,
/// completing `$future`, returning null. The arguments are evaluated in the branch taken: in the
/// async one they are moved into the task.
macro_rules! op {
    ($env:ident, $future:ident, $target:expr, $name:ident / $blocking:ident ( $($arg:expr),* ) => $out:expr) => {{
        let target = $target;
        if $future.is_null() {
            let value = target.$blocking($($arg),*)?;
            to_java($env, ($out)(value))
        } else {
            spawn($env, &$future, async move { target.$name($($arg),*).await.map($out) })?;
            Ok(JObject::null())
        }
    }};
}

export!(Java_io_graveyard_internal_Native_version(env) -> JObject<'l> {
    Ok(JObject::from(env.new_string(env!("CARGO_PKG_VERSION"))?))
});

// ---- stores -------------------------------------------------------------------------------------

export!(Java_io_graveyard_internal_Native_openDb(env, path: JString<'l>, max_event_size: jlong, map_size: jlong,
        durability: jint, max_readers: jint, master_key: JByteArray<'l>) -> jlong {
    let path = string(env, &path, "path")?;
    // Java's sizes and counts: 0 or less takes the default.
    let positive = |v: jlong| u64::try_from(v).ok().filter(|&v| v > 0);
    let master_key =
        if master_key.is_null() { None } else { Some(Zeroizing::new(bytes(env, &master_key, "masterKey")?)) };
    let options = args::OpenArgs {
        path: &path,
        durability,
        map_size: positive(map_size),
        max_event_size: positive(max_event_size),
        max_readers: u32::try_from(max_readers).ok(),
        max_json_depth: None,
        master_key: master_key.as_deref().map(Vec::as_slice),
    }
    .options()?;
    Ok(into_handle(Store::open(options)?))
});

export!(Java_io_graveyard_internal_Native_connect(env, endpoints: JString<'l>, token: JString<'l>,
        ca_pem: JByteArray<'l>, connect_timeout_millis: jlong, request_timeout_millis: jlong, retries: jint,
        retry_backoff_millis: jlong) -> jlong {
    let endpoints: Vec<String> = string(env, &endpoints, "endpoints")?.split(',').map(str::to_owned).collect();
    let options = args::ConnectArgs {
        token: optional_string(env, &token)?,
        ca_pem: if ca_pem.is_null() { None } else { Some(env.convert_byte_array(&ca_pem)?) },
        connect_timeout: timeout(connect_timeout_millis)?,
        request_timeout: timeout(request_timeout_millis)?,
        // Java's -1: the default.
        retries: u32::try_from(retries).ok(),
        retry_backoff: timeout(retry_backoff_millis)?,
    }
    .options();
    Ok(into_handle(Store::connect_blocking(&endpoints, options)?))
});

export!(Java_io_graveyard_internal_Native_onNode(env, h: jlong, node_id: JString<'l>) -> jlong {
    let node_id = string(env, &node_id, "nodeId")?;
    Ok(into_handle(handle::<Store>(h)?.on_node(&node_id)?))
});

export!(Java_io_graveyard_internal_Native_isEncrypted(env, h: jlong) -> jboolean {
    let _ = env;
    Ok(handle::<Store>(h)?.is_encrypted()?)
});

// Closes the store for every handle on it (`Store::close`), then frees this one.
export!(Java_io_graveyard_internal_Native_close(env, h: jlong) -> () {
    let _ = env;
    if let Some(store) = free::<Store>(h) {
        store.close();
    }
    Ok(())
});

// Frees a handle without closing the store it shares with others (a client of `onNode`).
export!(Java_io_graveyard_internal_Native_release(env, h: jlong) -> () {
    let _ = env;
    drop(free::<Store>(h));
    Ok(())
});

// ---- operations ---------------------------------------------------------------------------------

export!(Java_io_graveyard_internal_Native_append(env, h: jlong, stream: JString<'l>, kind: jint, revision: jlong,
        events: JByteArray<'l>, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let expected = codes::expected_version(kind, unsigned(revision, "an expected revision")?)?;
    let events = packed::unpack_events(&bytes(env, &events, "events")?)?;
    op!(env, future, store(h)?, append / append_blocking(&stream, expected, events)
        => |r| Out::Bytes(packed::append_result(&r)))
});

export!(Java_io_graveyard_internal_Native_readStream(env, h: jlong, stream: JString<'l>, direction: jint, from: jlong,
        limit: jlong, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let options = args::read_options(direction, optional(from, "a revision")?, optional(limit, "a limit")?)?;
    op!(env, future, store(h)?, read_stream_packed / read_stream_packed_blocking(&stream, options) => Out::Bytes)
});

export!(Java_io_graveyard_internal_Native_readAll(env, h: jlong, direction: jint, from: jlong, limit: jlong,
        filter_json: JString<'l>, future: JObject<'l>) -> JObject<'l> {
    let filter_json = optional_string(env, &filter_json)?;
    let options = args::read_all_options(
        direction,
        optional(from, "a position")?,
        optional(limit, "a limit")?,
        filter_json.as_deref(),
    )?;
    op!(env, future, store(h)?, read_all_packed / read_all_packed_blocking(options) => Out::Bytes)
});

export!(Java_io_graveyard_internal_Native_headPosition(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    op!(env, future, store(h)?, head_position / head_position_blocking() => Out::Long)
});

export!(Java_io_graveyard_internal_Native_streamInfo(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    op!(env, future, store(h)?, stream_info / stream_info_blocking(&stream) => |i| Out::Json(boundary::to_json(&i)))
});

export!(Java_io_graveyard_internal_Native_listStreams(env, h: jlong, prefix: JString<'l>, after: JString<'l>,
        limit: jlong, future: JObject<'l>) -> JObject<'l> {
    let options = args::list_streams_options(
        string(env, &prefix, "prefix")?,
        optional_string(env, &after)?,
        optional(limit, "a listing's limit")?,
    );
    op!(env, future, store(h)?, list_streams / list_streams_blocking(&options) => |p: Vec<_>| Out::Json(boundary::to_json(&p)))
});

export!(Java_io_graveyard_internal_Native_setStreamMetadata(env, h: jlong, stream: JString<'l>,
        metadata_json: JString<'l>, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let metadata: StreamMetadata = boundary::from_json("stream metadata", &string(env, &metadata_json, "stream metadata")?)?;
    op!(env, future, store(h)?, set_stream_metadata / set_stream_metadata_blocking(&stream, metadata) => none)
});

export!(Java_io_graveyard_internal_Native_getStreamMetadata(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    op!(env, future, store(h)?, get_stream_metadata / get_stream_metadata_blocking(&stream) => |m| Out::Json(boundary::to_json(&m)))
});

export!(Java_io_graveyard_internal_Native_deleteStream(env, h: jlong, stream: JString<'l>, kind: jint,
        revision: jlong, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let expected = codes::expected_version(kind, unsigned(revision, "an expected revision")?)?;
    op!(env, future, store(h)?, delete_stream / delete_stream_blocking(&stream, expected) => none)
});

export!(Java_io_graveyard_internal_Native_tombstoneStream(env, h: jlong, stream: JString<'l>, kind: jint,
        revision: jlong, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let expected = codes::expected_version(kind, unsigned(revision, "an expected revision")?)?;
    op!(env, future, store(h)?, tombstone_stream / tombstone_stream_blocking(&stream, expected) => none)
});

export!(Java_io_graveyard_internal_Native_shredStream(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    op!(env, future, store(h)?, shred_stream / shred_stream_blocking(&stream) => none)
});

export!(Java_io_graveyard_internal_Native_rotateMasterKey(env, h: jlong, new_key: JByteArray<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let new_key = key(env, &new_key, "newKey")?;
    op!(env, future, store(h)?, rotate_master_key / rotate_master_key_blocking(new_key) => none)
});

export!(Java_io_graveyard_internal_Native_saveSnapshot(env, h: jlong, stream: JString<'l>, revision: jlong,
        data: JByteArray<'l>, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let revision = unsigned(revision, "a revision")?;
    let data = bytes(env, &data, "data")?;
    op!(env, future, store(h)?, save_snapshot / save_snapshot_blocking(&stream, revision, data) => none)
});

export!(Java_io_graveyard_internal_Native_getSnapshot(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    op!(env, future, store(h)?, get_snapshot / get_snapshot_blocking(&stream)
        => |s: Option<_>| s.map_or(Out::Null, |s| Out::Bytes(packed::snapshot(&s))))
});

export!(Java_io_graveyard_internal_Native_upsertSchema(env, h: jlong, schema_json: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    // The core's reading of a definition: a malformed one is INVALID_SCHEMA, like any other
    // problem of it.
    let schema = Schema::from_json(string(env, &schema_json, "schema")?.as_bytes())?;
    op!(env, future, store(h)?, upsert_schema / upsert_schema_blocking(&schema) => |u| Out::Json(boundary::to_json(&u)))
});

export!(Java_io_graveyard_internal_Native_getSchema(env, h: jlong, name: JString<'l>, version: jlong,
        future: JObject<'l>) -> JObject<'l> {
    let name = string(env, &name, "name")?;
    let version = optional(version, "a schema version")?
        .map(|v| u32::try_from(v).map_err(|_| Error::InvalidArgument(format!("no schema has version {v}"))))
        .transpose()?;
    op!(env, future, store(h)?, get_schema / get_schema_blocking(&name, version) => |s| Out::Json(boundary::to_json(&s)))
});

export!(Java_io_graveyard_internal_Native_listSchemas(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    op!(env, future, store(h)?, list_schemas / list_schemas_blocking() => |s: Vec<_>| Out::Json(boundary::to_json(&s)))
});

export!(Java_io_graveyard_internal_Native_createGroup(env, h: jlong, name: JString<'l>, target_json: JString<'l>,
        start_kind: jint, start_after: jlong, settings_json: JString<'l>, future: JObject<'l>) -> JObject<'l> {
    let name = string(env, &name, "name")?;
    let target: GroupTarget = boundary::from_json("group target", &string(env, &target_json, "group target")?)?;
    let start = codes::subscription_start(start_kind, unsigned(start_after, "a checkpoint")?)?;
    let settings: GroupSettings = boundary::from_json("group settings", &string(env, &settings_json, "group settings")?)?;
    op!(env, future, store(h)?, create_group / create_group_blocking(&name, target, start, settings)
        => |i| Out::Json(boundary::to_json(&i)))
});

export!(Java_io_graveyard_internal_Native_updateGroup(env, h: jlong, name: JString<'l>, settings_json: JString<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let name = string(env, &name, "name")?;
    let settings: GroupSettings = boundary::from_json("group settings", &string(env, &settings_json, "group settings")?)?;
    op!(env, future, store(h)?, update_group / update_group_blocking(&name, settings) => |i| Out::Json(boundary::to_json(&i)))
});

export!(Java_io_graveyard_internal_Native_deleteGroup(env, h: jlong, name: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let name = string(env, &name, "name")?;
    op!(env, future, store(h)?, delete_group / delete_group_blocking(&name) => none)
});

export!(Java_io_graveyard_internal_Native_groupInfo(env, h: jlong, name: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let name = string(env, &name, "name")?;
    op!(env, future, store(h)?, group_info / group_info_blocking(&name) => |i| Out::Json(boundary::to_json(&i)))
});

export!(Java_io_graveyard_internal_Native_listGroups(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    op!(env, future, store(h)?, list_groups / list_groups_blocking() => |n: Vec<_>| Out::Json(boundary::to_json(&n)))
});

export!(Java_io_graveyard_internal_Native_replayParked(env, h: jlong, name: JString<'l>, limit: jlong,
        future: JObject<'l>) -> JObject<'l> {
    let name = string(env, &name, "name")?;
    let limit = optional(limit, "a replay limit")?;
    op!(env, future, store(h)?, replay_parked / replay_parked_blocking(&name, limit) => |i| Out::Json(boundary::to_json(&i)))
});

// ---- subscriptions ------------------------------------------------------------------------------

fn subscribe_options(
    kind: jint,
    after: jlong,
    page_size: jint,
    filter_json: Option<&str>,
) -> Res<SubscribeOptions> {
    let page_size = u32::try_from(page_size)
        .map_err(|_| Error::InvalidArgument(format!("a page size cannot be negative: {page_size}")))?;
    Ok(args::subscribe_options(kind, unsigned(after, "a checkpoint")?, page_size, filter_json)?)
}

export!(Java_io_graveyard_internal_Native_subscribeToStream(env, h: jlong, stream: JString<'l>, start_kind: jint,
        after: jlong, page_size: jint, future: JObject<'l>) -> JObject<'l> {
    let stream = string(env, &stream, "stream")?;
    let options = subscribe_options(start_kind, after, page_size, None)?;
    op!(env, future, store(h)?, subscribe_to_stream / subscribe_to_stream_blocking(&stream, options)
        => |s| Out::Subscription(Arc::new(s)))
});

export!(Java_io_graveyard_internal_Native_subscribeToAll(env, h: jlong, start_kind: jint, after: jlong,
        filter_json: JString<'l>, page_size: jint, future: JObject<'l>) -> JObject<'l> {
    let filter_json = optional_string(env, &filter_json)?;
    let options = subscribe_options(start_kind, after, page_size, filter_json.as_deref())?;
    op!(env, future, store(h)?, subscribe_to_all / subscribe_to_all_blocking(options) => |s| Out::Subscription(Arc::new(s)))
});

export!(Java_io_graveyard_internal_Native_subscriptionNext(env, s: jlong, timeout_millis: jlong,
        future: JObject<'l>) -> JObject<'l> {
    let timeout = timeout(timeout_millis)?;
    op!(env, future, subscription(s)?, next / next_blocking(timeout) => message_out)
});

export!(Java_io_graveyard_internal_Native_subscriptionCancel(env, s: jlong) -> () {
    let _ = env;
    handle::<Arc<StoreSubscription>>(s)?.cancel();
    Ok(())
});

export!(Java_io_graveyard_internal_Native_subscriptionFree(env, s: jlong) -> () {
    let _ = env;
    // Dropped inside the runtime: a cluster subscription's call is released there.
    let _guard = runtime::shared().enter();
    drop(free::<Arc<StoreSubscription>>(s));
    Ok(())
});

// ---- consumer group members ---------------------------------------------------------------------

export!(Java_io_graveyard_internal_Native_joinGroup(env, h: jlong, group: JString<'l>, member: JString<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let group = string(env, &group, "group")?;
    let member = string(env, &member, "member")?;
    op!(env, future, store(h)?, join_group / join_group_blocking(&group, &member) => |m| Out::Member(Arc::new(m)))
});

export!(Java_io_graveyard_internal_Native_memberNext(env, m: jlong, timeout_millis: jlong, future: JObject<'l>)
        -> JObject<'l> {
    let timeout = timeout(timeout_millis)?;
    op!(env, future, member(m)?, next / next_blocking(timeout) => delivery_out)
});

export!(Java_io_graveyard_internal_Native_memberAck(env, m: jlong, deliveries: JLongArray<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let ids = ids(env, &deliveries)?;
    op!(env, future, member(m)?, ack / ack_blocking(&ids) => none)
});

export!(Java_io_graveyard_internal_Native_memberNack(env, m: jlong, action: jint, deliveries: JLongArray<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let action = codes::nack_action(action)?;
    let ids = ids(env, &deliveries)?;
    op!(env, future, member(m)?, nack / nack_blocking(&ids, action) => none)
});

export!(Java_io_graveyard_internal_Native_memberCancel(env, m: jlong) -> () {
    let _ = env;
    handle::<Arc<StoreMember>>(m)?.cancel();
    Ok(())
});

export!(Java_io_graveyard_internal_Native_memberFree(env, m: jlong) -> () {
    let _ = env;
    // Dropped inside the runtime: a cluster member's session is released there.
    let _guard = runtime::shared().enter();
    drop(free::<Arc<StoreMember>>(m));
    Ok(())
});

// For the SDK's tests of the panic path: panics here (no future) or in a runtime task, whose
// future must then complete with `InternalException` rather than never.
export!(Java_io_graveyard_internal_Native_selfTestPanic(env, future: JObject<'l>) -> JObject<'l> {
    if future.is_null() {
        panic!("self-test panic");
    }
    spawn(env, &future, async { panic!("self-test panic in a runtime task") })?;
    Ok(JObject::null())
});
