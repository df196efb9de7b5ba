//! What every export shares: the guard that turns a panic or a core error into a JS error, the
//! promise settled from the core's runtime, and the checks of what JavaScript passes in.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use napi::bindgen_prelude::{BigInt, JsObjectValue, Object, ToNapiValue};
use napi::{Env, Status};

use graveyard::runtime::{self, Cancel, Next};
use graveyard::Error;

/// The JS error of a core error: an `Error` with the core's message, `code` its code name
/// and, for the codes with typed details, `cause` an `Error` whose message is their JSON.
pub fn js_error(env: &Env, e: &Error) -> napi::Error {
    let details = e.details().map(|d| d.to_string());
    error_object(env, e.code().as_str(), &e.to_string(), details.as_deref())
}

/// A cancelled call: code `CANCELLED` (the SDK settles the call with its signal's reason
/// first; this only ends the native side).
fn cancelled(env: &Env) -> napi::Error {
    error_object(env, "CANCELLED", "the call was cancelled", None)
}

fn error_object(env: &Env, code: &str, message: &str, details: Option<&str>) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let mut error = env.create_error(napi::Error::new(Status::GenericFailure, message))?;
        error.set_named_property("code", code)?;
        if let Some(details) = details {
            let cause = env.create_error(napi::Error::new(Status::GenericFailure, details))?;
            error.set_named_property("cause", cause)?;
        }
        Ok(napi::Error::from_unknown_without_coercion(error.into_unknown(env)?))
    };
    // Building the object fails only when the environment itself is failing (out of memory,
    // tearing down): napi's own error then says what happened.
    build().unwrap_or_else(|e| e)
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    Error::Internal(format!("GraveyardDB's native code panicked: {what}"))
}

/// Runs the synchronous part of an export: a core error or a panic becomes the JS error to
/// throw.
pub fn guard<T>(env: &Env, body: impl FnOnce() -> graveyard::Result<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(js_error(env, &e)),
        Err(panic) => Err(js_error(env, &panic_message(panic))),
    }
}

/// A future whose panic is caught and returned, so that its promise is rejected with INTERNAL
/// instead of never settling.
struct CatchUnwind<F>(F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

enum Outcome<T> {
    Done(graveyard::Result<T>),
    Cancelled,
}

/// A promise of `future`'s result, run on the core's shared runtime and settled on the JS
/// thread: `convert` turns the result into a JS value there. A `cancel` token pulled before
/// the future finishes drops it and rejects with `CANCELLED`.
pub fn promise<'env, T, V, F, C>(
    env: &'env Env,
    cancel: Option<Cancel>,
    future: F,
    convert: C,
) -> napi::Result<Object<'env>>
where
    F: Future<Output = graveyard::Result<T>> + Send + 'static,
    T: Send + 'static,
    V: ToNapiValue + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + Send + 'static,
{
    type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V>>;
    let (deferred, promise) = env.create_deferred::<V, Resolver<V>>()?;
    runtime::shared().spawn(async move {
        let work = async move {
            match cancel {
                None => Outcome::Done(future.await),
                Some(token) => match runtime::wait(&token, None, future).await {
                    Next::Item(result) => Outcome::Done(result),
                    Next::Timeout | Next::Ended => Outcome::Cancelled,
                },
            }
        };
        let outcome = CatchUnwind(work).await;
        deferred.resolve(Box::new(move |env: Env| match outcome {
            Ok(Outcome::Done(Ok(value))) => convert(&env, value),
            Ok(Outcome::Done(Err(e))) => Err(js_error(&env, &e)),
            Ok(Outcome::Cancelled) => Err(cancelled(&env)),
            Err(panic) => Err(js_error(&env, &panic_message(panic))),
        }));
    });
    Ok(promise)
}

/// A `u64` from a JS bigint: negative or wider values are INVALID_ARGUMENT naming `what`.
pub fn u64_of(value: &BigInt, what: &str) -> graveyard::Result<u64> {
    let (negative, v, lossless) = value.get_u64();
    if negative && v != 0 || !lossless {
        return Err(Error::InvalidArgument(format!("{what} must be a bigint from 0 to 2^64-1")));
    }
    Ok(v)
}

pub fn optional_u64(value: Option<&BigInt>, what: &str) -> graveyard::Result<Option<u64>> {
    value.map(|v| u64_of(v, what)).transpose()
}
