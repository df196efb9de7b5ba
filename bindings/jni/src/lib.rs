//! `graveyard-jni`: the JNI binding of GraveyardDB, the native side of sdk-java
//! (`io.graveyard:graveyard-client`). It holds no logic of its own: it converts types, maps
//! errors and owns handles (see README.md for the conventions).
//!
//! - Every exported function runs inside `EnvUnowned::with_env`, which catches panics; the
//!   [`Throw`] policy turns an error into the Java exception of its code (a panic into
//!   `InternalException`), built in one call by `Native.newException(code, message, details)`.
//! - Java classes and method ids are resolved once in `JNI_OnLoad` and kept as global references.
//! - Handles are `Box`ed Rust objects passed as `long`, freed exactly once by their free function;
//!   the Java side guards them (`NativeHandle`) so none is used after it was freed.
//! - `...Async` calls run on the shared runtime (see [`runtime`]) and complete a
//!   `CompletableFuture` from a runtime thread.

mod runtime;
mod store;
mod wire;

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use graveyard::crypto::Key;
use graveyard::{
    Client, ClientOptions, Db, Durability, Error, ExpectedVersion, NackAction, Options, ReadAllOptions,
    ReadOptions, SubscribeOptions, SubscriptionStart,
};
use jni::errors::ErrorPolicy;
use jni::ids::{JMethodID, JStaticMethodID};
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JString, JThrowable};
use jni::refs::Global;
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jint, jlong};
use jni::vm::JavaVM;
use jni::{jni_sig, jni_str, Env, EnvUnowned, JValue};

use zeroize::Zeroizing;

use crate::runtime::{block_on, run_inline, runtime};
use crate::store::{MemberHandle, Out, Store, SubscribeTarget, SubscriptionHandle};

// ---- classes and methods resolved at load -------------------------------------------------------

struct Java {
    native: Global<JClass<'static>>,
    new_exception: JStaticMethodID,
    complete: JMethodID,
    complete_exceptionally: JMethodID,
    long: Global<JClass<'static>>,
    long_value_of: JStaticMethodID,
}

static JAVA: OnceLock<Java> = OnceLock::new();

fn java() -> jni::errors::Result<&'static Java> {
    JAVA.get().ok_or(jni::errors::Error::JniCall(jni::errors::JniError::Unknown))
}

fn resolve(env: &mut Env<'_>) -> jni::errors::Result<Java> {
    let native = env.find_class(jni_str!("io/graveyard/internal/Native"))?;
    let new_exception = env.get_static_method_id(
        &native,
        jni_str!("newException"),
        jni_sig!("(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)Ljava/lang/RuntimeException;"),
    )?;
    let future = env.find_class(jni_str!("java/util/concurrent/CompletableFuture"))?;
    let complete = env.get_method_id(&future, jni_str!("complete"), jni_sig!("(Ljava/lang/Object;)Z"))?;
    let complete_exceptionally =
        env.get_method_id(&future, jni_str!("completeExceptionally"), jni_sig!("(Ljava/lang/Throwable;)Z"))?;
    let long = env.find_class(jni_str!("java/lang/Long"))?;
    let long_value_of =
        env.get_static_method_id(&long, jni_str!("valueOf"), jni_sig!("(J)Ljava/lang/Long;"))?;
    Ok(Java {
        native: env.new_global_ref(&native)?,
        new_exception,
        complete,
        complete_exceptionally,
        long: env.new_global_ref(&long)?,
        long_value_of,
    })
}

/// Captures the JavaVM and resolves the classes the binding calls back into. A failure makes
/// `System.load` throw `UnsatisfiedLinkError`, rather than leaving a half-initialised library.
///
/// # Safety
///
/// Called by the JVM only, with its own valid `JavaVM` pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _reserved: *mut c_void) -> jint {
    let loaded = catch_unwind(|| {
        // SAFETY: the JVM passes its own, valid, JavaVM pointer.
        let vm = unsafe { JavaVM::from_raw(vm) };
        vm.attach_current_thread(|env| -> jni::errors::Result<()> {
            let java = resolve(env)?;
            let _ = JAVA.set(java);
            Ok(())
        })
    });
    match loaded {
        Ok(Ok(())) => jni::sys::JNI_VERSION_1_8,
        _ => jni::sys::JNI_ERR,
    }
}

/// Runtime thread start: attach as a daemon thread, so the runtime's idle workers never keep
/// the JVM from exiting. jni-rs reuses this attachment (it never detaches what it did not attach).
pub(crate) fn attach_current_thread_as_daemon() {
    let Ok(vm) = JavaVM::singleton() else { return };
    let raw = vm.get_raw();
    let mut env: *mut c_void = std::ptr::null_mut();
    // SAFETY: `raw` is the process's JavaVM (checked non-null by `from_raw`); JNI 1.4+.
    unsafe {
        ((*(*raw)).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, std::ptr::null_mut());
    }
}

/// Runtime thread stop: detach (a thread must not exit attached).
pub(crate) fn detach_current_thread() {
    let Ok(vm) = JavaVM::singleton() else { return };
    let raw = vm.get_raw();
    // SAFETY: as above; detaching a thread with no Java frames on its stack is allowed.
    unsafe {
        ((*(*raw)).v1_1.DetachCurrentThread)(raw);
    }
}

// ---- errors -------------------------------------------------------------------------------------

/// Why a native call failed.
enum Fail {
    /// A failure of the store, thrown as the exception of its code.
    Core(Error),
    /// A JNI failure; when a Java exception is pending it propagates as it is.
    Jni(jni::errors::Error),
    /// A null argument: `NullPointerException` naming it.
    Null(&'static str),
}

impl From<jni::errors::Error> for Fail {
    fn from(e: jni::errors::Error) -> Fail {
        Fail::Jni(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Core(e)
    }
}

type Res<T> = std::result::Result<T, Fail>;

/// The exception object of `error`, built by `Native.newException` with its typed details.
fn exception<'l>(env: &mut Env<'l>, error: &Error) -> jni::errors::Result<JThrowable<'l>> {
    let java = java()?;
    let code = env.new_string(error.code().as_str())?;
    let message = env.new_string(error.to_string())?;
    let details = match store::error_details(error) {
        Some(d) => JObject::from(env.new_string(d)?),
        None => JObject::null(),
    };
    // SAFETY: the method id was resolved from this class with this signature.
    let made = unsafe {
        env.call_static_method_unchecked(
            &java.native,
            java.new_exception,
            ReturnType::Object,
            &[
                JValue::Object(&code).as_jni(),
                JValue::Object(&message).as_jni(),
                JValue::Object(&details).as_jni(),
            ],
        )
    }?
    .l()?;
    env.cast_local::<JThrowable>(made)
}

fn throw(env: &mut Env<'_>, error: &Error) {
    if let Ok(e) = exception(env, error) {
        // `throw` reports the exception it just made pending as an error: that is the point.
        let _ = env.throw(e);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

/// The binding's error policy: a store error becomes the exception of its code, a panic an
/// `InternalException`, a null argument a `NullPointerException`; a pending Java exception is
/// left to propagate. The native method then returns null/0, which Java never sees.
struct Throw;

impl<T: Default> ErrorPolicy<T, Fail> for Throw {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'u: 'n, 'n>(env: &mut Env<'u>, _: &mut (), err: Fail) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default());
        }
        match err {
            Fail::Core(e) => throw(env, &e),
            Fail::Null(what) => {
                let _ = env.throw_new(
                    jni_str!("java/lang/NullPointerException"),
                    jni::strings::JNIString::from(format!("{what} is null")),
                );
            }
            Fail::Jni(e) => throw(env, &Error::Internal(format!("JNI: {e}"))),
        }
        Ok(T::default())
    }

    fn on_panic<'u: 'n, 'n>(
        env: &mut Env<'u>,
        _: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let message = panic_message(&*payload);
        // The payload may itself panic when dropped: leak it rather than unwind from here.
        std::mem::forget(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        throw(env, &Error::Internal(format!("panic in the GraveyardDB native library: {message}")));
        Ok(T::default())
    }
}

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

fn longs(env: &Env<'_>, a: &JLongArray<'_>, what: &'static str) -> Res<Vec<u64>> {
    if a.is_null() {
        return Err(Fail::Null(what));
    }
    let mut out = vec![0i64; a.len(env)?];
    a.get_region(env, 0, &mut out)?;
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

fn expected(kind: jint, revision: jlong) -> Res<ExpectedVersion> {
    Ok(match kind {
        0 => ExpectedVersion::Any,
        1 => ExpectedVersion::NoStream,
        2 => ExpectedVersion::StreamExists,
        3 => ExpectedVersion::Exact(unsigned(revision, "an expected revision")?),
        _ => return Err(Fail::Core(Error::InvalidArgument(format!("unknown expected-version kind {kind}")))),
    })
}

fn start(kind: jint, after: jlong) -> Res<SubscriptionStart> {
    Ok(match kind {
        0 => SubscriptionStart::Start,
        1 => SubscriptionStart::End,
        2 => SubscriptionStart::After(unsigned(after, "a checkpoint")?),
        _ => return Err(Fail::Core(Error::InvalidArgument(format!("unknown start kind {kind}")))),
    })
}

fn timeout(millis: jlong) -> Option<Duration> {
    u64::try_from(millis).ok().map(Duration::from_millis)
}

// ---- handles ------------------------------------------------------------------------------------

fn into_handle<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as jlong
}

/// The object behind a live handle. Java passes only handles it has not freed (`NativeHandle`
/// holds a read lock over every call and frees under the write lock); 0 is a closed one.
fn handle<'a, T>(h: jlong) -> Res<&'a T> {
    if h == 0 {
        return Err(Fail::Core(Error::Closed));
    }
    // SAFETY: `h` came from `into_handle::<T>` and has not been freed (see above).
    Ok(unsafe { &*(h as *const T) })
}

/// Frees a handle; 0 is ignored (already freed).
fn free<T>(h: jlong) -> Option<Box<T>> {
    if h == 0 {
        return None;
    }
    // SAFETY: `h` came from `into_handle::<T>`, and Java frees each handle exactly once.
    Some(unsafe { Box::from_raw(h as *mut T) })
}

fn store(h: jlong) -> Res<Arc<Store>> {
    handle::<Arc<Store>>(h).cloned()
}

// ---- results ------------------------------------------------------------------------------------

/// Largest `byte[]` the JVMs allocate (a little under `i32::MAX`).
const MAX_JAVA_ARRAY: usize = i32::MAX as usize - 8;

fn to_java<'l>(env: &mut Env<'l>, out: Out) -> Res<JObject<'l>> {
    Ok(match out {
        Out::Null => JObject::null(),
        Out::Bytes(b) if b.len() > MAX_JAVA_ARRAY => {
            return Err(Fail::Core(Error::InvalidArgument(format!(
                "the result is {} bytes, more than a Java array holds: read it in pages (with a limit)",
                b.len()
            ))))
        }
        Out::Bytes(b) => JObject::from(env.byte_array_from_slice(&b)?),
        Out::Json(s) => JObject::from(env.new_string(s)?),
        Out::Long(v) => {
            let java = java()?;
            // SAFETY: the method id was resolved from this class with this signature.
            unsafe {
                env.call_static_method_unchecked(
                    &java.long,
                    java.long_value_of,
                    ReturnType::Object,
                    &[JValue::Long(v as i64).as_jni()],
                )
            }?
            .l()?
        }
    })
}

/// Completes `future` with the outcome, from a runtime thread (attached at its start).
fn complete(future: Global<JObject<'static>>, outcome: graveyard::Result<Out>) {
    let Ok(vm) = JavaVM::singleton() else { return };
    let completed = vm.attach_current_thread(|env| -> jni::errors::Result<()> {
        let java = java()?;
        let (method, value) = match outcome.map_err(Fail::Core).and_then(|out| to_java(env, out)) {
            Ok(value) => (java.complete, value),
            Err(Fail::Core(e)) => (java.complete_exceptionally, JObject::from(exception(env, &e)?)),
            Err(Fail::Jni(e)) => return Err(e),
            Err(Fail::Null(what)) => {
                let e = Error::Internal(format!("{what} is null"));
                (java.complete_exceptionally, JObject::from(exception(env, &e)?))
            }
        };
        // SAFETY: the method ids were resolved from CompletableFuture with these signatures.
        unsafe {
            env.call_method_unchecked(
                &future,
                method,
                ReturnType::Primitive(Primitive::Boolean),
                &[JValue::Object(&value).as_jni()],
            )
        }?;
        Ok(())
    });
    if let Err(e) = completed {
        // Still complete it, so no caller waits forever (an OutOfMemoryError building the result).
        let _ = vm.attach_current_thread(|env| -> jni::errors::Result<()> {
            let java = java()?;
            let error = exception(env, &Error::Internal(format!("could not complete a future: {e}")))?;
            // SAFETY: as above.
            unsafe {
                env.call_method_unchecked(
                    &future,
                    java.complete_exceptionally,
                    ReturnType::Primitive(Primitive::Boolean),
                    &[JValue::Object(&error).as_jni()],
                )
            }?;
            Ok(())
        });
    }
}

/// Runs an operation: now, returning its result, when `future` is null; else on the runtime
/// (the embedded store's blocking calls on its blocking pool), completing `future`, returning null.
fn run<'l, F>(
    env: &mut Env<'l>,
    store: Arc<Store>,
    future: &JObject<'_>,
    work: impl FnOnce(Arc<Store>) -> F,
) -> Res<JObject<'l>>
where
    F: Future<Output = graveyard::Result<Out>> + Send + 'static,
{
    let embedded = store.is_embedded();
    if future.is_null() {
        let out = if embedded { run_inline(work(store)) } else { block_on(work(store)) }?;
        return to_java(env, out);
    }
    let future: Global<JObject<'static>> = env.new_global_ref(future)?;
    let task = work(store);
    if embedded {
        runtime().spawn_blocking(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| run_inline(task))).unwrap_or_else(|p| {
                Err(Error::Internal(format!(
                    "panic in the GraveyardDB native library: {}",
                    panic_message(&*p)
                )))
            });
            complete(future, outcome);
        });
    } else {
        let task = runtime().spawn(task);
        runtime().spawn(async move {
            let outcome = task.await.unwrap_or_else(|e| {
                Err(Error::Internal(match e.try_into_panic() {
                    Ok(p) => format!("panic in the GraveyardDB native library: {}", panic_message(&*p)),
                    Err(e) => format!("the task was cancelled: {e}"),
                }))
            });
            complete(future, outcome);
        });
    }
    Ok(JObject::null())
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

export!(Java_io_graveyard_internal_Native_version(env) -> JObject<'l> {
    Ok(JObject::from(env.new_string(env!("CARGO_PKG_VERSION"))?))
});

/// A master key from Java's bytes; the copy made here is wiped once the key is built.
fn key(env: &Env<'_>, bytes: &JByteArray<'_>, what: &'static str) -> Res<Key> {
    let bytes = Zeroizing::new(self::bytes(env, bytes, what)?);
    Ok(Key::from_bytes(&bytes)?)
}

export!(Java_io_graveyard_internal_Native_openDb(env, path: JString<'l>, max_event_size: jlong, map_size: jlong,
        durability: jint, max_readers: jint, master_key: JByteArray<'l>) -> jlong {
    let path = string(env, &path, "path")?;
    let mut options = Options::new(path);
    if !master_key.is_null() {
        options = options.master_key(key(env, &master_key, "masterKey")?);
    }
    if max_event_size > 0 {
        options = options.max_event_size(usize::try_from(max_event_size).unwrap_or(usize::MAX));
    }
    if map_size > 0 {
        options = options.map_size(usize::try_from(map_size).unwrap_or(usize::MAX));
    }
    if durability == 1 {
        options = options.durability(Durability::NoFsyncUnsafe);
    }
    if max_readers > 0 {
        options = options.max_readers(max_readers as u32);
    }
    let db = Db::open_with(options)?;
    Ok(into_handle(Arc::new(Store::Db(db))))
});

export!(Java_io_graveyard_internal_Native_connect(env, endpoints: JString<'l>, token: JString<'l>,
        ca_pem: JByteArray<'l>, connect_timeout_millis: jlong, request_timeout_millis: jlong, retries: jint,
        retry_backoff_millis: jlong) -> jlong {
    let endpoints = string(env, &endpoints, "endpoints")?;
    let mut options = ClientOptions::default();
    options.transport.token = optional_string(env, &token)?;
    if !ca_pem.is_null() {
        options.transport.ca_certificate_pem = Some(env.convert_byte_array(&ca_pem)?);
    }
    if let Some(t) = timeout(connect_timeout_millis) {
        options.transport.connect_timeout = t;
    }
    options.transport.request_timeout = timeout(request_timeout_millis);
    if retries >= 0 {
        options.retries = retries as u32;
    }
    if let Some(t) = timeout(retry_backoff_millis) {
        options.retry_backoff = t;
    }
    let client = block_on(Client::connect_with(endpoints.split(','), options))?;
    Ok(into_handle(Arc::new(Store::Client(client))))
});

export!(Java_io_graveyard_internal_Native_close(env, h: jlong) -> () {
    let _ = env;
    if let Some(store) = free::<Arc<Store>>(h) {
        store.close();
    }
    Ok(())
});

export!(Java_io_graveyard_internal_Native_append(env, h: jlong, stream: JString<'l>, kind: jint, revision: jlong,
        packed: JByteArray<'l>, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let expected = expected(kind, revision)?;
    let events = wire::unpack_events(&bytes(env, &packed, "events")?)?;
    run(env, store, &future, move |s| async move { s.append(stream, expected, events).await })
});

export!(Java_io_graveyard_internal_Native_readStream(env, h: jlong, stream: JString<'l>, direction: jint, from: jlong,
        limit: jlong, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let options = ReadOptions {
        direction: store::direction(direction)?,
        from: optional(from, "a revision")?,
        limit: optional(limit, "a limit")?.unwrap_or(u64::MAX),
    };
    run(env, store, &future, move |s| async move { s.read_stream(stream, options).await })
});

export!(Java_io_graveyard_internal_Native_readAll(env, h: jlong, direction: jint, from: jlong, limit: jlong,
        filter: JString<'l>, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let options = ReadAllOptions {
        direction: store::direction(direction)?,
        from: optional(from, "a position")?,
        limit: optional(limit, "a limit")?.unwrap_or(u64::MAX),
        filter: store::filter_from_json(optional_string(env, &filter)?)?,
    };
    run(env, store, &future, move |s| async move { s.read_all(options).await })
});

export!(Java_io_graveyard_internal_Native_streamInfo(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    run(env, store, &future, move |s| async move { s.stream_info(stream).await })
});

export!(Java_io_graveyard_internal_Native_setStreamMetadata(env, h: jlong, stream: JString<'l>, metadata: JString<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let metadata = store::metadata_from_json(&string(env, &metadata, "metadata")?)?;
    run(env, store, &future, move |s| async move { s.set_stream_metadata(stream, metadata).await })
});

export!(Java_io_graveyard_internal_Native_getStreamMetadata(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    run(env, store, &future, move |s| async move { s.get_stream_metadata(stream).await })
});

export!(Java_io_graveyard_internal_Native_deleteStream(env, h: jlong, stream: JString<'l>, kind: jint, revision: jlong,
        tombstone: jboolean, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let expected = expected(kind, revision)?;
    run(env, store, &future, move |s| async move { s.delete_stream(stream, expected, tombstone).await })
});

export!(Java_io_graveyard_internal_Native_shredStream(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    run(env, store, &future, move |s| async move { s.shred_stream(stream).await })
});

export!(Java_io_graveyard_internal_Native_rotateMasterKey(env, h: jlong, new_key: JByteArray<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let new_key = key(env, &new_key, "newKey")?;
    run(env, store, &future, move |s| async move { s.rotate_master_key(new_key).await })
});

export!(Java_io_graveyard_internal_Native_saveSnapshot(env, h: jlong, stream: JString<'l>, revision: jlong,
        data: JByteArray<'l>, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let revision = unsigned(revision, "a revision")?;
    let data = bytes(env, &data, "data")?;
    run(env, store, &future, move |s| async move { s.save_snapshot(stream, revision, data).await })
});

export!(Java_io_graveyard_internal_Native_getSnapshot(env, h: jlong, stream: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    run(env, store, &future, move |s| async move { s.get_snapshot(stream).await })
});

export!(Java_io_graveyard_internal_Native_headPosition(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    run(env, store, &future, move |s| async move { s.head_position().await })
});

export!(Java_io_graveyard_internal_Native_upsertSchema(env, h: jlong, schema: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let schema = string(env, &schema, "schema")?;
    run(env, store, &future, move |s| async move { s.upsert_schema(schema).await })
});

export!(Java_io_graveyard_internal_Native_getSchema(env, h: jlong, name: JString<'l>, version: jlong,
        future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    let version = optional(version, "a schema version")?
        .map(|v| u32::try_from(v).map_err(|_| Error::InvalidArgument(format!("no schema has version {v}"))))
        .transpose()?;
    run(env, store, &future, move |s| async move { s.get_schema(name, version).await })
});

export!(Java_io_graveyard_internal_Native_listSchemas(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    run(env, store, &future, move |s| async move { s.list_schemas().await })
});

export!(Java_io_graveyard_internal_Native_createGroup(env, h: jlong, name: JString<'l>, target: JString<'l>,
        start_kind: jint, start_after: jlong, settings: JString<'l>, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    let target = store::target_from_json(&string(env, &target, "target")?)?;
    let start = start(start_kind, start_after)?;
    let settings = store::settings_from_json(&string(env, &settings, "settings")?)?;
    run(env, store, &future, move |s| async move { s.create_group(name, target, start, settings).await })
});

export!(Java_io_graveyard_internal_Native_updateGroup(env, h: jlong, name: JString<'l>, settings: JString<'l>,
        future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    let settings = store::settings_from_json(&string(env, &settings, "settings")?)?;
    run(env, store, &future, move |s| async move { s.update_group(name, settings).await })
});

export!(Java_io_graveyard_internal_Native_deleteGroup(env, h: jlong, name: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    run(env, store, &future, move |s| async move { s.delete_group(name).await })
});

export!(Java_io_graveyard_internal_Native_groupInfo(env, h: jlong, name: JString<'l>, future: JObject<'l>)
        -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    run(env, store, &future, move |s| async move { s.group_info(name).await })
});

export!(Java_io_graveyard_internal_Native_listGroups(env, h: jlong, future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    run(env, store, &future, move |s| async move { s.list_groups().await })
});

export!(Java_io_graveyard_internal_Native_replayParked(env, h: jlong, name: JString<'l>, limit: jlong,
        future: JObject<'l>) -> JObject<'l> {
    let store = store(h)?;
    let name = string(env, &name, "name")?;
    let limit = optional(limit, "a replay limit")?;
    run(env, store, &future, move |s| async move { s.replay_parked(name, limit).await })
});

/// Runs a store call that opens a session (subscription, group member) on the calling thread.
fn open_session<T>(store: &Store, work: impl Future<Output = graveyard::Result<T>>) -> graveyard::Result<T> {
    if store.is_embedded() {
        run_inline(work)
    } else {
        block_on(work)
    }
}

fn subscribe_options(kind: jint, after: jlong, page_size: jint) -> Res<SubscribeOptions> {
    let mut options = SubscribeOptions::from_start().page_size(u64::try_from(page_size).unwrap_or(0));
    options.start = start(kind, after)?;
    Ok(options)
}

export!(Java_io_graveyard_internal_Native_subscribeToStream(env, h: jlong, stream: JString<'l>, start_kind: jint,
        after: jlong, page_size: jint) -> jlong {
    let store = store(h)?;
    let stream = string(env, &stream, "stream")?;
    let options = subscribe_options(start_kind, after, page_size)?;
    let subscription = open_session(&store, store.subscribe(SubscribeTarget::Stream(stream), options))?;
    Ok(into_handle(subscription))
});

export!(Java_io_graveyard_internal_Native_subscribeToAll(env, h: jlong, start_kind: jint, after: jlong,
        filter: JString<'l>, page_size: jint) -> jlong {
    let store = store(h)?;
    let options =
        subscribe_options(start_kind, after, page_size)?.filter(store::filter_from_json(optional_string(env, &filter)?)?);
    let subscription = open_session(&store, store.subscribe(SubscribeTarget::All, options))?;
    Ok(into_handle(subscription))
});

fn packed<'l>(env: &mut Env<'l>, bytes: Option<Vec<u8>>) -> Res<JObject<'l>> {
    Ok(match bytes {
        Some(b) => JObject::from(env.byte_array_from_slice(&b)?),
        None => JObject::null(),
    })
}

export!(Java_io_graveyard_internal_Native_subscriptionNext(env, s: jlong, timeout_millis: jlong) -> JObject<'l> {
    let next = handle::<SubscriptionHandle>(s)?.next(timeout(timeout_millis))?;
    packed(env, next)
});

export!(Java_io_graveyard_internal_Native_subscriptionCancel(env, s: jlong) -> () {
    let _ = env;
    handle::<SubscriptionHandle>(s)?.cancel();
    Ok(())
});

export!(Java_io_graveyard_internal_Native_subscriptionFree(env, s: jlong) -> () {
    let _ = env;
    // Dropped inside the runtime: a cluster subscription's stream is released there.
    let _guard = runtime().enter();
    drop(free::<SubscriptionHandle>(s));
    Ok(())
});

export!(Java_io_graveyard_internal_Native_joinGroup(env, h: jlong, group: JString<'l>, member: JString<'l>) -> jlong {
    let store = store(h)?;
    let group = string(env, &group, "group")?;
    let member = string(env, &member, "member")?;
    let member = open_session(&store, store.join_group(group, member))?;
    Ok(into_handle(member))
});

export!(Java_io_graveyard_internal_Native_memberNext(env, m: jlong, timeout_millis: jlong) -> JObject<'l> {
    let next = handle::<MemberHandle>(m)?.next(timeout(timeout_millis))?;
    packed(env, next)
});

export!(Java_io_graveyard_internal_Native_memberAck(env, m: jlong, deliveries: JLongArray<'l>) -> () {
    let tokens = longs(env, &deliveries, "deliveries")?;
    handle::<MemberHandle>(m)?.settle(&tokens, None)?;
    Ok(())
});

export!(Java_io_graveyard_internal_Native_memberNack(env, m: jlong, action: jint, deliveries: JLongArray<'l>) -> () {
    let action = match action {
        0 => NackAction::Retry,
        1 => NackAction::Park,
        2 => NackAction::Skip,
        _ => return Err(Fail::Core(Error::InvalidArgument(format!("unknown nack action {action}")))),
    };
    let tokens = longs(env, &deliveries, "deliveries")?;
    handle::<MemberHandle>(m)?.settle(&tokens, Some(action))?;
    Ok(())
});

export!(Java_io_graveyard_internal_Native_memberCancel(env, m: jlong) -> () {
    let _ = env;
    handle::<MemberHandle>(m)?.cancel();
    Ok(())
});

export!(Java_io_graveyard_internal_Native_memberFree(env, m: jlong) -> () {
    let _ = env;
    let _guard = runtime().enter();
    drop(free::<MemberHandle>(m));
    Ok(())
});

// For the SDK's tests of the panic path: panics here (no future) or in a runtime task, whose
// future must then complete with `InternalException` rather than never.
export!(Java_io_graveyard_internal_Native_selfTestPanic(env, future: JObject<'l>) -> JObject<'l> {
    if future.is_null() {
        panic!("self-test panic");
    }
    let future: Global<JObject<'static>> = env.new_global_ref(&future)?;
    runtime().spawn_blocking(move || {
        let outcome = catch_unwind(|| -> graveyard::Result<Out> { panic!("self-test panic in a runtime task") })
            .unwrap_or_else(|p| {
                Err(Error::Internal(format!("panic in the GraveyardDB native library: {}", panic_message(&*p))))
            });
        complete(future, outcome);
    });
    Ok(JObject::null())
});
