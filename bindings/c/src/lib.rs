//! `graveyard-c`: the C ABI of GraveyardDB, the native side of sdk-go. Every operation is one of
//! [`graveyard::Store`], its subscriptions or its group members; what crosses is
//! [`graveyard::boundary`]'s (packed events and pages, numeric codes, JSON). The binding
//! converts, maps errors and owns handles; conventions in README.md, header in
//! `include/graveyard.h` (cbindgen, committed).
//!
//! Every function but the frees returns a status: 0, an error code of docs/boundary.md (with
//! `err` filled when it is not null), or one of the C ABI's own outcomes (`GY_CANCELLED`,
//! `GY_TIMEOUT`, `GY_ENDED`). Results go through out-pointers, written only on success.

mod ffi;

/// One operation: its blocking form on this thread without a cancel token, else its async form
/// until it finishes or the token is pulled. The arguments are evaluated in the branch taken
/// only, so nothing is copied for the other.
macro_rules! call {
    ($cancel:expr, $target:ident . $name:ident / $blocking:ident ( $($arg:expr),* )) => {
        match cancel_token($cancel) {
            Err(fail) => Err(fail),
            Ok(None) => $target.$blocking($($arg),*).map_err(ffi::Fail::from),
            Ok(Some(token)) => ffi::cancellable(&token, $target.$name($($arg),*)),
        }
    };
}

use std::ffi::c_char;
use std::sync::Arc;

use graveyard::boundary::{self, args, codes, packed};
use graveyard::crypto::Key;
use graveyard::runtime::{self, Cancel};
use graveyard::schema::Schema;
use graveyard::{Error, GroupSettings, GroupTarget, Store, StreamMetadata};

use ffi::{
    bytes, cancel_token, check_out, guard, invalid, member, next_out, optional, optional_text, put, register,
    store, subscription, text, timeout, unregister, Object, Res,
};
pub use ffi::{GyBuf, GyError, GyHandle, GY_CANCELLED, GY_ENDED, GY_OK, GY_TIMEOUT};

/// The version of this ABI: bumped on any change a caller compiled against an older header
/// would misread. A caller checks it once, before any other call (`gy_abi_version`).
pub const GY_ABI_VERSION: u32 = 1;

/// This library's ABI version ([`GY_ABI_VERSION`] of the header it was built with).
#[no_mangle]
pub extern "C" fn gy_abi_version() -> u32 {
    GY_ABI_VERSION
}

/// The GraveyardDB version, NUL-terminated, static (never freed).
#[no_mangle]
pub extern "C" fn gy_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Releases the strings of an error the library filled; harmless on a cleared or zeroed one.
#[no_mangle]
pub extern "C" fn gy_error_free(err: *mut GyError) {
    ffi::free_error(err);
}

/// Releases a buffer the library filled; harmless on an emptied or zeroed one.
#[no_mangle]
pub extern "C" fn gy_buf_free(buf: *mut GyBuf) {
    ffi::free_buf(buf);
}

// ---- arguments ----------------------------------------------------------------------------------

fn expected(kind: i32, revision: u64) -> Res<graveyard::ExpectedVersion> {
    Ok(codes::expected_version(kind, revision)?)
}

fn json<T: serde::de::DeserializeOwned>(ptr: *const u8, len: usize, what: &str) -> Res<T> {
    Ok(boundary::from_json(what, text(ptr, len, what)?)?)
}

/// A master key from C's bytes (copied into the key, which wipes them when it drops).
fn key(ptr: *const u8, len: usize, what: &str) -> Res<Key> {
    Ok(args::master_key(bytes(ptr, len, what)?, what)?)
}

fn ids<'a>(ptr: *const u64, count: usize) -> Res<&'a [u64]> {
    if ptr.is_null() {
        return if count == 0 {
            Ok(&[])
        } else {
            Err(invalid(format!("deliveries: a null pointer with count {count}")))
        };
    }
    if count > isize::MAX as usize / 8 {
        return Err(invalid(format!("deliveries: count {count} is larger than any buffer")));
    }
    // SAFETY: the caller passes `count` readable ids at `ptr`, which outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

fn json_out<T: serde::Serialize + ?Sized>(out: *mut GyBuf, value: &T) -> Res<()> {
    put(out, ffi::buf(boundary::to_json(value).into_bytes()), "out")
}

fn bytes_out(out: *mut GyBuf, value: Vec<u8>) -> Res<()> {
    put(out, ffi::buf(value), "out")
}

// ---- stores -------------------------------------------------------------------------------------

/// Opens (creating it if needed) an embedded store at `path`. `durability`: 0 fsync on every
/// commit, 1 none (throwaway data). `map_size`, `max_event_size`, `max_readers`: 0 for the
/// defaults. `master_key`: 32 bytes to encrypt at rest, or null. `max_json_depth`: 0 for the
/// default.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_open(
    path: *const u8,
    path_len: usize,
    durability: i32,
    map_size: u64,
    max_event_size: u64,
    max_readers: u32,
    max_json_depth: u32,
    master_key: *const u8,
    master_key_len: usize,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let master_key = if master_key.is_null() && master_key_len == 0 {
            None
        } else {
            Some(bytes(master_key, master_key_len, "master key")?)
        };
        let options = args::OpenArgs {
            path: text(path, path_len, "path")?,
            durability,
            map_size: Some(map_size),
            max_event_size: Some(max_event_size),
            max_readers: Some(max_readers),
            max_json_depth: Some(max_json_depth),
            master_key,
        }
        .options()?;
        put(out, register(Object::Store(Store::open(options)?)), "out")
    })
}

/// Connects to a cluster through any of `endpoints` (comma-separated URLs). `token`: a bearer
/// token, or null. `ca_pem`: the PEM of the CA that signs the nodes' certificates, or null.
/// Timeouts in milliseconds, -1 for the default (connect) or none (request); `retries` -1 for
/// the default; `retry_backoff_ms` -1 for the default.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_connect(
    endpoints: *const u8,
    endpoints_len: usize,
    token: *const u8,
    token_len: usize,
    ca_pem: *const u8,
    ca_pem_len: usize,
    connect_timeout_ms: i64,
    request_timeout_ms: i64,
    retries: i32,
    retry_backoff_ms: i64,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let endpoints: Vec<String> =
            text(endpoints, endpoints_len, "endpoints")?.split(',').map(|e| e.trim().to_owned()).collect();
        let ca_pem = if ca_pem.is_null() && ca_pem_len == 0 {
            None
        } else {
            Some(bytes(ca_pem, ca_pem_len, "CA certificate")?.to_vec())
        };
        let retries = match retries {
            -1 => None,
            r => Some(u32::try_from(r).map_err(|_| invalid(format!("retries cannot be negative: {r}")))?),
        };
        let options = args::ConnectArgs {
            token: optional_text(token, token_len, "token")?.map(str::to_owned),
            ca_pem,
            connect_timeout: timeout(connect_timeout_ms)?,
            request_timeout: timeout(request_timeout_ms)?,
            retries,
            retry_backoff: timeout(retry_backoff_ms)?,
        }
        .options();
        put(out, register(Object::Store(Store::connect_blocking(&endpoints, options)?)), "out")
    })
}

/// A new handle on the same cluster connection whose node-scoped calls (`$all`, the head
/// position, groups on `$all`) go to member `node_id`. UNSUPPORTED on an embedded store. Free it
/// with `gy_store_free` (closing it would close the connection it shares).
#[no_mangle]
pub extern "C" fn gy_store_on_node(
    store_h: GyHandle,
    node_id: *const u8,
    node_id_len: usize,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let on_node = store(store_h)?.on_node(text(node_id, node_id_len, "node id")?)?;
        put(out, register(Object::Store(on_node)), "out")
    })
}

/// Closes the store for every handle on it (its sessions end, later calls are CLOSED; an
/// embedded store waits for the calls in flight), then frees this handle. Idempotent.
#[no_mangle]
pub extern "C" fn gy_store_close(store_h: GyHandle) {
    if let Some(Object::Store(s)) = unregister_kind(store_h, |o| matches!(o, Object::Store(_))) {
        let _ = std::panic::catch_unwind(|| s.close());
    }
}

/// Frees a handle without closing the store it shares with other handles (one of
/// `gy_store_on_node`). Idempotent.
#[no_mangle]
pub extern "C" fn gy_store_free(store_h: GyHandle) {
    drop(unregister_kind(store_h, |o| matches!(o, Object::Store(_))));
}

/// Removes a handle only if it names the kind of object its free function frees: a free
/// given another kind's handle leaves it alone.
fn unregister_kind(handle: GyHandle, is: impl Fn(&Object) -> bool) -> Option<Object> {
    match ffi::lookup(handle) {
        Ok(object) if is(&object) => unregister(handle),
        _ => None,
    }
}

/// Whether the store encrypts at rest (UNSUPPORTED on a cluster).
#[no_mangle]
pub extern "C" fn gy_is_encrypted(store_h: GyHandle, out: *mut bool, err: *mut GyError) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        put(out, store(store_h)?.is_encrypted()?, "out")
    })
}

// ---- cancel tokens ------------------------------------------------------------------------------

/// A cancel token: pass it to one or more calls, pull it from another thread to end them with
/// `GY_CANCELLED`. Pulled for good; free it once the calls returned.
#[no_mangle]
pub extern "C" fn gy_cancel_new(out: *mut GyHandle, err: *mut GyError) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        put(out, register(Object::Cancel(Cancel::new())), "out")
    })
}

/// Pulls a cancel token: the calls waiting on it return `GY_CANCELLED`, and so does every later
/// call given it. A freed token is CLOSED.
#[no_mangle]
pub extern "C" fn gy_cancel_pull(cancel: GyHandle, err: *mut GyError) -> i32 {
    guard(err, || {
        cancel_token(cancel)?.ok_or_else(|| invalid("0 is not a cancel token".into()))?.cancel();
        Ok(())
    })
}

/// Frees a cancel token. Idempotent.
#[no_mangle]
pub extern "C" fn gy_cancel_free(cancel: GyHandle) {
    drop(unregister_kind(cancel, |o| matches!(o, Object::Cancel(_))));
}

// ---- operations ---------------------------------------------------------------------------------
//
// Each takes `cancel`: 0, or a cancel token that ends the call with `GY_CANCELLED` when pulled.

/// Appends the packed `events` (docs/boundary.md) to `stream` if the expected version holds
/// (`expected_kind`: 0 any, 1 no stream, 2 stream exists, 3 exact `expected_revision`).
/// `out`: 4 u64s, first and last revision, first and last position.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_append(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    expected_kind: i32,
    expected_revision: u64,
    events: *const u8,
    events_len: usize,
    cancel: GyHandle,
    out: *mut [u64; 4],
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let expected = expected(expected_kind, expected_revision)?;
        let events = packed::unpack_events(bytes(events, events_len, "events")?)?;
        let r = call!(cancel, s.append / append_blocking(stream, expected, events))?;
        put(out, [r.first_revision, r.last_revision, r.first_position, r.last_position], "out")
    })
}

/// Reads a stream into one packed page. `direction`: 0 forwards, 1 backwards; `from`: a revision
/// or -1 for the start (end, backwards); `limit`: -1 for none.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_read_stream(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    direction: i32,
    from: i64,
    limit: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let options =
            args::read_options(direction, optional(from, "a revision")?, optional(limit, "a limit")?)?;
        let page = call!(cancel, s.read_stream_packed / read_stream_packed_blocking(stream, options))?;
        bytes_out(out, page)
    })
}

/// Reads `$all` into one packed page (on a cluster, the log of the handle's node). `filter`:
/// JSON (docs/boundary.md) or null.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_read_all(
    store_h: GyHandle,
    direction: i32,
    from: i64,
    limit: i64,
    filter_json: *const u8,
    filter_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let options = args::read_all_options(
            direction,
            optional(from, "a position")?,
            optional(limit, "a limit")?,
            optional_text(filter_json, filter_len, "filter")?,
        )?;
        let page = call!(cancel, s.read_all_packed / read_all_packed_blocking(options))?;
        bytes_out(out, page)
    })
}

/// The position the next event of `$all` gets.
#[no_mangle]
pub extern "C" fn gy_head_position(
    store_h: GyHandle,
    cancel: GyHandle,
    out: *mut u64,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        put(out, call!(cancel, s.head_position / head_position_blocking())?, "out")
    })
}

/// One page of the streams of this store (of this node's log on a cluster) as a JSON array of
/// summaries: names starting with `prefix`, in byte order, after `after` (a null pointer: from
/// the first), at most `limit` (1 to 10,000; -1: the default, 1,000).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_list_streams(
    store_h: GyHandle,
    prefix: *const u8,
    prefix_len: usize,
    after: *const u8,
    after_len: usize,
    limit: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let options = args::list_streams_options(
            text(prefix, prefix_len, "prefix")?.to_owned(),
            optional_text(after, after_len, "after")?.map(str::to_owned),
            optional(limit, "a listing's limit")?,
        );
        json_out(out, &call!(cancel, s.list_streams / list_streams_blocking(&options))?)
    })
}

/// A stream's info as JSON.
#[no_mangle]
pub extern "C" fn gy_stream_info(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        json_out(out, &call!(cancel, s.stream_info / stream_info_blocking(stream))?)
    })
}

/// Sets a stream's metadata (JSON).
#[no_mangle]
pub extern "C" fn gy_set_stream_metadata(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    metadata_json: *const u8,
    metadata_len: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let metadata: StreamMetadata = json(metadata_json, metadata_len, "stream metadata")?;
        call!(cancel, s.set_stream_metadata / set_stream_metadata_blocking(stream, metadata))
    })
}

/// A stream's metadata as JSON.
#[no_mangle]
pub extern "C" fn gy_get_stream_metadata(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        json_out(out, &call!(cancel, s.get_stream_metadata / get_stream_metadata_blocking(stream))?)
    })
}

/// Soft-deletes a stream (`tombstone` false) or tombstones it for good (`tombstone` true).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_delete_stream(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    expected_kind: i32,
    expected_revision: u64,
    tombstone: bool,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let expected = expected(expected_kind, expected_revision)?;
        if tombstone {
            call!(cancel, s.tombstone_stream / tombstone_stream_blocking(stream, expected))
        } else {
            call!(cancel, s.delete_stream / delete_stream_blocking(stream, expected))
        }
    })
}

/// Crypto-shreds a stream: its data key is destroyed, its events' data and metadata read empty.
#[no_mangle]
pub extern "C" fn gy_shred_stream(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        call!(cancel, s.shred_stream / shred_stream_blocking(stream))
    })
}

/// Rewraps every data key under a new 32-byte master key.
#[no_mangle]
pub extern "C" fn gy_rotate_master_key(
    store_h: GyHandle,
    new_key: *const u8,
    new_key_len: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let k = key(new_key, new_key_len, "new master key")?;
        call!(cancel, s.rotate_master_key / rotate_master_key_blocking(k))
    })
}

/// Saves a snapshot of a stream's state at `revision`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_save_snapshot(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    revision: u64,
    data: *const u8,
    data_len: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let data = bytes(data, data_len, "data")?;
        call!(cancel, s.save_snapshot / save_snapshot_blocking(stream, revision, data.to_vec()))
    })
}

/// A stream's latest snapshot, packed; an empty buffer when it has none.
#[no_mangle]
pub extern "C" fn gy_get_snapshot(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let snapshot = call!(cancel, s.get_snapshot / get_snapshot_blocking(stream))?;
        bytes_out(out, snapshot.map(|s| packed::snapshot(&s)).unwrap_or_default())
    })
}

/// Registers a schema (its JSON definition, docs/semantics.md); `out`: the upsert as JSON.
#[no_mangle]
pub extern "C" fn gy_upsert_schema(
    store_h: GyHandle,
    schema_json: *const u8,
    schema_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        // The core's reading of a definition: a malformed one is INVALID_SCHEMA, like any other
        // problem of it.
        let schema = Schema::from_json(bytes(schema_json, schema_len, "schema")?)?;
        json_out(out, &call!(cancel, s.upsert_schema / upsert_schema_blocking(&schema))?)
    })
}

/// A schema (`version` -1 for the latest) as JSON.
#[no_mangle]
pub extern "C" fn gy_get_schema(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    version: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        let version = optional(version, "a schema version")?
            .map(|v| {
                u32::try_from(v).map_err(|_| Error::InvalidArgument(format!("no schema has version {v}")))
            })
            .transpose()?;
        json_out(out, &call!(cancel, s.get_schema / get_schema_blocking(name, version))?)
    })
}

/// The latest version of every schema, as a JSON array.
#[no_mangle]
pub extern "C" fn gy_list_schemas(
    store_h: GyHandle,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        json_out(out, &call!(cancel, s.list_schemas / list_schemas_blocking())?)
    })
}

// ---- consumer groups ----------------------------------------------------------------------------

/// Creates a consumer group. `target_json`, `settings_json`: JSON (docs/boundary.md); `start_kind`
/// 0 start, 1 end, 2 after `start_after`. `out`: the group's info as JSON.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_create_group(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    target_json: *const u8,
    target_len: usize,
    start_kind: i32,
    start_after: u64,
    settings_json: *const u8,
    settings_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        let target: GroupTarget = json(target_json, target_len, "group target")?;
        let start = codes::subscription_start(start_kind, start_after)?;
        let settings: GroupSettings = json(settings_json, settings_len, "group settings")?;
        let info = call!(cancel, s.create_group / create_group_blocking(name, target, start, settings))?;
        json_out(out, &info)
    })
}

/// Changes a group's settings; `out`: its info as JSON.
#[no_mangle]
pub extern "C" fn gy_update_group(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    settings_json: *const u8,
    settings_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        let settings: GroupSettings = json(settings_json, settings_len, "group settings")?;
        json_out(out, &call!(cancel, s.update_group / update_group_blocking(name, settings))?)
    })
}

/// Deletes a group: its members' sessions end with NOT_FOUND.
#[no_mangle]
pub extern "C" fn gy_delete_group(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        call!(cancel, s.delete_group / delete_group_blocking(name))
    })
}

/// A group's info as JSON.
#[no_mangle]
pub extern "C" fn gy_group_info(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        json_out(out, &call!(cancel, s.group_info / group_info_blocking(name))?)
    })
}

/// The names of the groups, as a JSON array.
#[no_mangle]
pub extern "C" fn gy_list_groups(
    store_h: GyHandle,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        json_out(out, &call!(cancel, s.list_groups / list_groups_blocking())?)
    })
}

/// Hands up to `limit` (-1: all) parked events back to a group's members; `out`: the replay's
/// info as JSON.
#[no_mangle]
pub extern "C" fn gy_replay_parked(
    store_h: GyHandle,
    name: *const u8,
    name_len: usize,
    limit: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let name = text(name, name_len, "name")?;
        let limit = optional(limit, "a replay limit")?;
        json_out(out, &call!(cancel, s.replay_parked / replay_parked_blocking(name, limit))?)
    })
}

// ---- subscriptions ------------------------------------------------------------------------------

/// Subscribes to a stream: history from the start (`start_kind` 0 start, 1 end, 2 after
/// revision `start_after`), then live events. `page_size`: 0 for the default.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_subscribe_to_stream(
    store_h: GyHandle,
    stream: *const u8,
    stream_len: usize,
    start_kind: i32,
    start_after: u64,
    page_size: u32,
    cancel: GyHandle,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let stream = text(stream, stream_len, "stream")?;
        let options = args::subscribe_options(start_kind, start_after, page_size, None)?;
        let sub = call!(cancel, s.subscribe_to_stream / subscribe_to_stream_blocking(stream, options))?;
        put(out, register(Object::Subscription(Arc::new(sub))), "out")
    })
}

/// Subscribes to `$all` (on a cluster, that of the handle's node), filtered (`filter_json`, or
/// null); the start as for `gy_subscribe_to_stream`, with a position.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_subscribe_to_all(
    store_h: GyHandle,
    start_kind: i32,
    start_after: u64,
    filter_json: *const u8,
    filter_len: usize,
    page_size: u32,
    cancel: GyHandle,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let options = args::subscribe_options(
            start_kind,
            start_after,
            page_size,
            optional_text(filter_json, filter_len, "filter")?,
        )?;
        let sub = call!(cancel, s.subscribe_to_all / subscribe_to_all_blocking(options))?;
        put(out, register(Object::Subscription(Arc::new(sub))), "out")
    })
}

/// The subscription's next message, packed (docs/boundary.md), waiting at most `timeout_ms`
/// (-1: as long as it takes). `GY_TIMEOUT` when nothing came in time. A failure (a tombstoned
/// stream, a dropped cluster connection) is returned once, then `GY_ENDED`; `GY_ENDED` too once
/// it was cancelled. Once its store is closed: CLOSED on every call.
#[no_mangle]
pub extern "C" fn gy_subscription_next(
    sub_h: GyHandle,
    timeout_ms: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let sub = subscription(sub_h)?;
        let timeout = timeout(timeout_ms)?;
        let next = call!(cancel, sub.next / next_blocking(timeout))?;
        bytes_out(out, next_out(next, packed::subscription_message)?)
    })
}

/// Ends a subscription for good, from any thread: a `next` waiting now returns `GY_ENDED`.
#[no_mangle]
pub extern "C" fn gy_subscription_cancel(sub_h: GyHandle, err: *mut GyError) -> i32 {
    guard(err, || {
        subscription(sub_h)?.cancel();
        Ok(())
    })
}

/// Frees a subscription (ending it). Idempotent.
#[no_mangle]
pub extern "C" fn gy_subscription_free(sub_h: GyHandle) {
    if let Some(Object::Subscription(sub)) = unregister_kind(sub_h, |o| matches!(o, Object::Subscription(_)))
    {
        sub.cancel();
        // Dropped inside the runtime: a cluster subscription's call is released there.
        let _guard = runtime::shared().enter();
        drop(sub);
    }
}

// ---- consumer group members ---------------------------------------------------------------------

/// Joins consumer group `group` as `member_name`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gy_join_group(
    store_h: GyHandle,
    group: *const u8,
    group_len: usize,
    member_name: *const u8,
    member_len: usize,
    cancel: GyHandle,
    out: *mut GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let s = store(store_h)?;
        let group = text(group, group_len, "group")?;
        let name = text(member_name, member_len, "member")?;
        let m = call!(cancel, s.join_group / join_group_blocking(group, name))?;
        put(out, register(Object::Member(Arc::new(m))), "out")
    })
}

/// The member's next delivery, packed (docs/boundary.md), waiting at most `timeout_ms` (-1: as
/// long as it takes). `GY_TIMEOUT` when nothing came in time, `GY_ENDED` once the member was
/// cancelled. Its errors last: NOT_FOUND on every call once the group was deleted, CLOSED once
/// the store was closed, UNAVAILABLE once a cluster session dropped (join again: its unsettled
/// deliveries are delivered again).
#[no_mangle]
pub extern "C" fn gy_member_next(
    member_h: GyHandle,
    timeout_ms: i64,
    cancel: GyHandle,
    out: *mut GyBuf,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        check_out(out, "out")?;
        let m = member(member_h)?;
        let timeout = timeout(timeout_ms)?;
        let next = call!(cancel, m.next / next_blocking(timeout))?;
        bytes_out(out, next_out(next, packed::delivery)?)
    })
}

/// Acknowledges deliveries by id, in one commit.
#[no_mangle]
pub extern "C" fn gy_member_ack(
    member_h: GyHandle,
    ids_ptr: *const u64,
    count: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let m = member(member_h)?;
        let ids = ids(ids_ptr, count)?;
        call!(cancel, m.ack / ack_blocking(ids))
    })
}

/// Negatively acknowledges deliveries by id: `action` 1 retry, 2 park, 3 skip.
#[no_mangle]
pub extern "C" fn gy_member_nack(
    member_h: GyHandle,
    action: i32,
    ids_ptr: *const u64,
    count: usize,
    cancel: GyHandle,
    err: *mut GyError,
) -> i32 {
    guard(err, || {
        let m = member(member_h)?;
        let action = codes::nack_action(action)?;
        let ids = ids(ids_ptr, count)?;
        call!(cancel, m.nack / nack_blocking(ids, action))
    })
}

/// Leaves the group for good, from any thread: a `next` waiting now returns `GY_ENDED`; its
/// unsettled deliveries go to the other members.
#[no_mangle]
pub extern "C" fn gy_member_cancel(member_h: GyHandle, err: *mut GyError) -> i32 {
    guard(err, || {
        member(member_h)?.cancel();
        Ok(())
    })
}

/// Frees a member (leaving the group). Idempotent.
#[no_mangle]
pub extern "C" fn gy_member_free(member_h: GyHandle) {
    if let Some(Object::Member(m)) = unregister_kind(member_h, |o| matches!(o, Object::Member(_))) {
        m.cancel();
        // Dropped inside the runtime: a cluster member's session is released there.
        let _guard = runtime::shared().enter();
        drop(m);
    }
}

/// For the tests of the panic path: panics inside an export, which must return INTERNAL.
#[no_mangle]
pub extern "C" fn gy_self_test_panic(err: *mut GyError) -> i32 {
    guard(err, || -> Res<()> { panic!("self-test panic") })
}
