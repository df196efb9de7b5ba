//! The JVM side of the binding: the classes and methods called back into (resolved once, at
//! load), the runtime threads' attachment, the exceptions of failures and the completion of
//! `CompletableFuture`s from runtime threads.

use std::ffi::{c_void, CString};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use graveyard::boundary::codes;
use graveyard::runtime::{self, ThreadHooks};
use graveyard::{Error, StoreMember, StoreSubscription};
use jni::errors::ErrorPolicy;
use jni::ids::{JMethodID, JStaticMethodID};
use jni::objects::{JClass, JObject, JThrowable};
use jni::refs::Global;
use jni::signature::{Primitive, ReturnType};
use jni::sys::jint;
use jni::vm::JavaVM;
use jni::{jni_sig, jni_str, Env, JValue};

use crate::handles::{free, into_handle};

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
        jni_sig!("(ILjava/lang/String;Ljava/lang/String;)Ljava/lang/RuntimeException;"),
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

/// Captures the JavaVM, resolves the classes the binding calls back into and sets the shared
/// runtime's thread hooks. A failure makes `System.load` throw `UnsatisfiedLinkError`, rather
/// than leaving a half-initialised library.
///
/// # Safety
///
/// Called by the JVM only, with its own valid `JavaVM` pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _reserved: *mut c_void) -> jint {
    let loaded = catch_unwind(|| {
        // SAFETY: the JVM passes its own, valid, JavaVM pointer.
        let vm = unsafe { JavaVM::from_raw(vm) };
        let java = vm.attach_current_thread(resolve).ok()?;
        let _ = JAVA.set(java);
        // Before anything starts the runtime: a thread started without the hooks could not
        // complete a future.
        runtime::set_thread_hooks(ThreadHooks {
            on_start: attach_current_thread_as_daemon,
            on_stop: detach_current_thread,
        })
        .ok()
    });
    match loaded {
        Ok(Some(())) => jni::sys::JNI_VERSION_1_8,
        _ => jni::sys::JNI_ERR,
    }
}

/// Runtime thread start: attach as a daemon thread, so the runtime's idle workers never keep
/// the JVM from exiting, under the runtime's thread name (what a Java stack dump or a
/// continuation's `Thread.currentThread()` shows). jni-rs reuses this attachment (it never
/// detaches what it did not attach).
fn attach_current_thread_as_daemon() {
    let Ok(vm) = JavaVM::singleton() else { return };
    let raw = vm.get_raw();
    let name = CString::new(std::thread::current().name().unwrap_or("graveyard")).unwrap_or_default();
    let mut args = jni::sys::JavaVMAttachArgs {
        version: jni::sys::JNI_VERSION_1_8,
        name: name.as_ptr().cast_mut(),
        group: std::ptr::null_mut(),
    };
    let mut env: *mut c_void = std::ptr::null_mut();
    // SAFETY: `raw` is the process's JavaVM (checked non-null by `from_raw`); JNI 1.4+. The JVM
    // copies the name during the call.
    unsafe {
        ((*(*raw)).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, (&raw mut args).cast());
    }
}

/// Runtime thread stop: detach (a thread must not exit attached).
fn detach_current_thread() {
    let Ok(vm) = JavaVM::singleton() else { return };
    let raw = vm.get_raw();
    // SAFETY: as above; detaching a thread with no Java frames on its stack is allowed.
    unsafe {
        ((*(*raw)).v1_1.DetachCurrentThread)(raw);
    }
}

// ---- failures -----------------------------------------------------------------------------------

/// Why a native call failed.
pub enum Fail {
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

pub type Res<T> = std::result::Result<T, Fail>;

/// The exception of `error`, built by `Native.newException(code, message, details)`.
fn exception<'l>(env: &mut Env<'l>, error: &Error) -> jni::errors::Result<JThrowable<'l>> {
    let java = java()?;
    let message = env.new_string(error.to_string())?;
    let details = match error.details() {
        Some(d) => JObject::from(env.new_string(d.to_string())?),
        None => JObject::null(),
    };
    // SAFETY: the method id was resolved from this class with this signature.
    let made = unsafe {
        env.call_static_method_unchecked(
            &java.native,
            java.new_exception,
            ReturnType::Object,
            &[
                JValue::Int(codes::error_code(error.code())).as_jni(),
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

fn panicked(payload: Box<dyn std::any::Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into());
    // The payload may itself panic when dropped: leak it rather than unwind from here.
    std::mem::forget(payload);
    Error::Internal(format!("panic in the GraveyardDB native library: {message}"))
}

/// The binding's error policy: a store error becomes the exception of its code, a panic an
/// `InternalException`, a null argument a `NullPointerException`; a pending Java exception is
/// left to propagate. The native method then returns null/0, which Java never sees.
pub struct Throw;

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
        let error = panicked(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        throw(env, &error);
        Ok(T::default())
    }
}

// ---- results ------------------------------------------------------------------------------------

/// A result on its way to Java: `null`, a `java.lang.Long`, a `byte[]`, a `String` (JSON), or a
/// new session whose handle Java takes as a `Long`.
pub enum Out {
    Null,
    Long(u64),
    Bytes(Vec<u8>),
    Json(String),
    Subscription(Arc<StoreSubscription>),
    Member(Arc<StoreMember>),
}

/// Largest `byte[]` the JVMs allocate (a little under `i32::MAX`).
const MAX_JAVA_ARRAY: usize = i32::MAX as usize - 8;

pub fn to_java<'l>(env: &mut Env<'l>, out: Out) -> Res<JObject<'l>> {
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
        Out::Long(v) => long(env, v as i64)?,
        Out::Subscription(s) => handed_over(env, s)?,
        Out::Member(m) => handed_over(env, m)?,
    })
}

fn long<'l>(env: &mut Env<'l>, v: i64) -> jni::errors::Result<JObject<'l>> {
    let java = java()?;
    // SAFETY: the method id was resolved from this class with this signature.
    unsafe {
        env.call_static_method_unchecked(
            &java.long,
            java.long_value_of,
            ReturnType::Object,
            &[JValue::Long(v).as_jni()],
        )
    }?
    .l()
}

/// A new handle as a `Long`; freed again if Java cannot be given it, so it never leaks.
fn handed_over<'l, T>(env: &mut Env<'l>, value: T) -> jni::errors::Result<JObject<'l>> {
    let h = into_handle(value);
    long(env, h).inspect_err(|_| drop(free::<T>(h)))
}

// ---- async calls --------------------------------------------------------------------------------

/// Runs `work` on the shared runtime and completes the Java `future` with its outcome from the
/// runtime thread; a panic of `work` completes it with `InternalException`, so no future is ever
/// left pending.
pub fn spawn<F>(env: &mut Env<'_>, future: &JObject<'_>, work: F) -> Res<()>
where
    F: Future<Output = graveyard::Result<Out>> + Send + 'static,
{
    let future: Global<JObject<'static>> = env.new_global_ref(future)?;
    runtime::shared().spawn(async move {
        let outcome = CatchUnwind(Box::pin(work)).await.unwrap_or_else(|p| Err(panicked(p)));
        complete(future, outcome);
    });
    Ok(())
}

/// `F`, with a panic while polling it turned into the output `Err(payload)`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let work = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| work.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
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
        call_completion(env, &future, method, &value)
    });
    if let Err(e) = completed {
        // Still complete it, so no caller waits forever (an OutOfMemoryError building the result).
        let _ = vm.attach_current_thread(|env| -> jni::errors::Result<()> {
            if env.exception_check() {
                env.exception_clear();
            }
            let java = java()?;
            let error = exception(env, &Error::Internal(format!("could not complete a future: {e}")))?;
            call_completion(env, &future, java.complete_exceptionally, &JObject::from(error))
        });
    }
}

fn call_completion(
    env: &mut Env<'_>,
    future: &Global<JObject<'static>>,
    method: JMethodID,
    value: &JObject<'_>,
) -> jni::errors::Result<()> {
    // SAFETY: both method ids were resolved from CompletableFuture, each taking one object.
    unsafe {
        env.call_method_unchecked(
            future,
            method,
            ReturnType::Primitive(Primitive::Boolean),
            &[JValue::Object(value).as_jni()],
        )
    }?;
    Ok(())
}
