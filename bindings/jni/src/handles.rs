//! Handles: a `Box`ed Rust object passed to Java as a `long`, freed exactly once by its free
//! function. What a handle owns: a `Store` (stores), an `Arc<StoreSubscription>` or an
//! `Arc<StoreMember>` (sessions: the `Arc` lets an async call in flight outlive the handle).

use graveyard::Error;
use jni::sys::jlong;

use crate::jvm::{Fail, Res};

pub fn into_handle<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as jlong
}

/// The object behind a live handle. Java passes only handles it has not freed (`NativeHandle`
/// holds a read lock over every call and frees under the write lock); 0 is a closed one.
pub fn handle<'a, T>(h: jlong) -> Res<&'a T> {
    if h == 0 {
        return Err(Fail::Core(Error::Closed));
    }
    // SAFETY: `h` came from `into_handle::<T>` and has not been freed (see above).
    Ok(unsafe { &*(h as *const T) })
}

/// Frees a handle; 0 is ignored (already freed).
pub fn free<T>(h: jlong) -> Option<Box<T>> {
    if h == 0 {
        return None;
    }
    // SAFETY: `h` came from `into_handle::<T>`, and Java frees each handle exactly once.
    Some(unsafe { Box::from_raw(h as *mut T) })
}
