//! What every export of the C ABI shares: the handle registry, the checks of what C passes in
//! (pointers, lengths, UTF-8, handles), the buffers and errors handed out, and the guard that
//! turns a panic into INTERNAL.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use graveyard::boundary::codes;
use graveyard::runtime::{self, Cancel, Next};
use graveyard::{Error, Store, StoreMember, StoreSubscription};

/// Success.
pub const GY_OK: i32 = 0;
/// The call's cancel token was pulled before it finished (C ABI only). The operation may still
/// take effect (an append handed to the writer commits), as with a cancelled remote call.
pub const GY_CANCELLED: i32 = -1;
/// A session's `next` saw nothing within its timeout; the session goes on (C ABI only).
pub const GY_TIMEOUT: i32 = -2;
/// A session is over (C ABI only): cancelled, or a subscription that reported the failure that
/// ended it. Every later `next` says the same. (A session of a closed store says CLOSED, and a
/// member of a deleted group NOT_FOUND, on every call.)
pub const GY_ENDED: i32 = -3;

/// An error: its code (docs/boundary.md), a message for people, and the code's typed details
/// as JSON (null when the code has none). Both strings are NUL-terminated UTF-8 owned by the
/// library: release them with `gy_error_free`.
#[repr(C)]
pub struct GyError {
    pub code: i32,
    pub message: *mut c_char,
    pub details: *mut c_char,
}

/// Bytes the library hands out (a packed page, a packed message, JSON text): release them with
/// `gy_buf_free`. `data` is null when `len` is 0.
#[repr(C)]
pub struct GyBuf {
    pub data: *mut u8,
    pub len: usize,
}

/// A handle: a store, a subscription, a group member or a cancel token. 0 is never a handle.
/// Handles are never reused, so one used after its free is told apart (CLOSED) from any live one.
pub type GyHandle = u64;

/// What a call fails with: a core error, or one of the C ABI's own outcomes.
pub enum Fail {
    Core(Error),
    /// `GY_CANCELLED`, `GY_TIMEOUT` or `GY_ENDED`.
    Status(i32),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Core(e)
    }
}

pub type Res<T> = std::result::Result<T, Fail>;

pub fn invalid(message: String) -> Fail {
    Fail::Core(Error::InvalidArgument(message))
}

// ---- the guard of every export ------------------------------------------------------------------

/// Runs one export: its status, with `err` filled on failure (when `err` is not null). A panic
/// is INTERNAL, never an unwind across the C frame.
pub fn guard(err: *mut GyError, body: impl FnOnce() -> Res<()>) -> i32 {
    init();
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(Fail::Core(Error::Internal(format!("the GraveyardDB library panicked: {what}"))))
    });
    match outcome {
        Ok(()) => GY_OK,
        Err(Fail::Status(status)) => status,
        Err(Fail::Core(e)) => {
            let code = codes::error_code(e.code());
            if !err.is_null() {
                let details = e.details().map(|d| d.to_string());
                // SAFETY: the caller passes a writable `GyError` or null (checked above).
                unsafe {
                    err.write(GyError {
                        code,
                        message: c_string(e.to_string()),
                        details: details.map_or(std::ptr::null_mut(), c_string),
                    });
                }
            }
            code
        }
    }
}

/// Before the shared runtime starts (the first call into the library): its threads block
/// SIGPIPE. They write to cluster nodes' sockets (`writev`, which cannot pass MSG_NOSIGNAL), and
/// a node that went away would otherwise raise SIGPIPE on a thread the host language does not
/// know, whose default action ends the whole process (Go forwards it so). Blocked, the write
/// fails with EPIPE and the client reports UNAVAILABLE. The process's own disposition is left
/// alone: a host program's write to a closed stdout behaves as its language documents.
fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // Fails only if the runtime already started (another binding in the same process set
        // its hooks first); its threads then keep that binding's signal mask.
        let _ = runtime::set_thread_hooks(runtime::ThreadHooks { on_start: block_sigpipe, on_stop: || {} });
    });
}

fn block_sigpipe() {
    #[cfg(unix)]
    // SAFETY: a set built by sigemptyset/sigaddset, applied to the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn c_string(text: String) -> *mut c_char {
    // A message never holds NUL in practice; should one, it is cut there rather than lost.
    let text = match text.find('\0') {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    CString::new(text).expect("NUL removed above").into_raw()
}

/// Releases what an error holds; its pointers are nulled, so a second call is harmless.
pub fn free_error(err: *mut GyError) {
    if err.is_null() {
        return;
    }
    // SAFETY: a `GyError` the library filled, or zeroed by the caller; each pointer came from
    // `CString::into_raw` and is nulled once released.
    unsafe {
        for p in [&mut (*err).message, &mut (*err).details] {
            if !p.is_null() {
                drop(CString::from_raw(*p));
                *p = std::ptr::null_mut();
            }
        }
        (*err).code = GY_OK;
    }
}

// ---- arguments ----------------------------------------------------------------------------------

/// Bytes C passes in: `len` bytes at `ptr`; a null `ptr` is an empty input only with `len` 0.
pub fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Res<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(invalid(format!("{what}: a null pointer with length {len}")))
        };
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!("{what}: length {len} is larger than any buffer")));
    }
    // SAFETY: the caller passes `len` readable bytes at `ptr`, which outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A UTF-8 string C passes in as pointer and length (not NUL-terminated).
pub fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Res<&'a str> {
    std::str::from_utf8(bytes(ptr, len, what)?).map_err(|e| invalid(format!("{what} is not UTF-8: {e}")))
}

/// An optional string: a null pointer is none.
pub fn optional_text<'a>(ptr: *const u8, len: usize, what: &str) -> Res<Option<&'a str>> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    text(ptr, len, what).map(Some)
}

/// An unsigned value C holds in an `int64_t`: -1 is "not set", other negatives are refused.
pub fn optional(value: i64, what: &str) -> Res<Option<u64>> {
    match value {
        -1 => Ok(None),
        v => u64::try_from(v).map(Some).map_err(|_| invalid(format!("{what} cannot be negative: {v}"))),
    }
}

/// A timeout in milliseconds, -1 for none.
pub fn timeout(millis: i64) -> Res<Option<Duration>> {
    Ok(graveyard::boundary::args::timeout_ms(Some(millis))?)
}

/// Writes a result through an out-pointer, which must not be null.
pub fn put<T>(out: *mut T, value: T, what: &str) -> Res<()> {
    if out.is_null() {
        return Err(invalid(format!("{what}: a null out-pointer")));
    }
    // SAFETY: a non-null pointer to a writable `T`, as the header documents.
    unsafe { out.write(value) };
    Ok(())
}

/// Checks an out-pointer before the work it would receive is done.
pub fn check_out<T>(out: *mut T, what: &str) -> Res<()> {
    if out.is_null() {
        return Err(invalid(format!("{what}: a null out-pointer")));
    }
    Ok(())
}

// ---- buffers ------------------------------------------------------------------------------------

pub fn buf(bytes: Vec<u8>) -> GyBuf {
    if bytes.is_empty() {
        return GyBuf { data: std::ptr::null_mut(), len: 0 };
    }
    let len = bytes.len();
    let data = Box::into_raw(bytes.into_boxed_slice()) as *mut u8;
    GyBuf { data, len }
}

/// Releases a buffer; it is emptied, so a second call is harmless.
pub fn free_buf(b: *mut GyBuf) {
    if b.is_null() {
        return;
    }
    // SAFETY: a `GyBuf` the library filled (or zeroed by the caller): `data` came from a boxed
    // slice of exactly `len` bytes, and is nulled once released.
    unsafe {
        let GyBuf { data, len } = b.read();
        if !data.is_null() {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)));
        }
        b.write(GyBuf { data: std::ptr::null_mut(), len: 0 });
    }
}

// ---- handles ------------------------------------------------------------------------------------

/// What a handle names.
#[derive(Clone)]
pub enum Object {
    Store(Store),
    Subscription(Arc<StoreSubscription>),
    Member(Arc<StoreMember>),
    Cancel(Cancel),
}

impl Object {
    fn kind(&self) -> &'static str {
        match self {
            Object::Store(_) => "a store",
            Object::Subscription(_) => "a subscription",
            Object::Member(_) => "a group member",
            Object::Cancel(_) => "a cancel token",
        }
    }
}

/// Live handles. A call holds the lock only to clone what it needs (an `Arc` or a `Store`,
/// itself a few `Arc`s), so a free never waits for a call in flight and a call in flight keeps
/// its object alive after a free.
static HANDLES: LazyLock<RwLock<HashMap<GyHandle, Object>>> = LazyLock::new(Default::default);
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

pub fn register(object: Object) -> GyHandle {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    HANDLES.write().unwrap_or_else(|p| p.into_inner()).insert(handle, object);
    handle
}

/// The object of a live handle; a freed one is CLOSED, one never handed out INVALID_ARGUMENT.
pub fn lookup(handle: GyHandle) -> Res<Object> {
    if let Some(object) = HANDLES.read().unwrap_or_else(|p| p.into_inner()).get(&handle) {
        return Ok(object.clone());
    }
    if handle == 0 || handle >= NEXT_HANDLE.load(Ordering::Relaxed) {
        return Err(invalid(format!("{handle} is not a handle this library handed out")));
    }
    Err(Fail::Core(Error::Closed))
}

/// Removes a handle; freeing one twice (or 0) does nothing.
pub fn unregister(handle: GyHandle) -> Option<Object> {
    HANDLES.write().unwrap_or_else(|p| p.into_inner()).remove(&handle)
}

fn wrong(handle: GyHandle, want: &str, got: &Object) -> Fail {
    invalid(format!("handle {handle} is {}, not {want}", got.kind()))
}

pub fn store(handle: GyHandle) -> Res<Store> {
    match lookup(handle)? {
        Object::Store(s) => Ok(s),
        other => Err(wrong(handle, "a store", &other)),
    }
}

pub fn subscription(handle: GyHandle) -> Res<Arc<StoreSubscription>> {
    match lookup(handle)? {
        Object::Subscription(s) => Ok(s),
        other => Err(wrong(handle, "a subscription", &other)),
    }
}

pub fn member(handle: GyHandle) -> Res<Arc<StoreMember>> {
    match lookup(handle)? {
        Object::Member(m) => Ok(m),
        other => Err(wrong(handle, "a group member", &other)),
    }
}

/// The cancel token of a call: 0 for none. A token freed already is CLOSED.
pub fn cancel_token(handle: GyHandle) -> Res<Option<Cancel>> {
    if handle == 0 {
        return Ok(None);
    }
    match lookup(handle)? {
        Object::Cancel(c) => Ok(Some(c)),
        other => Err(wrong(handle, "a cancel token", &other)),
    }
}

/// What a session's `next` gives, as C sees it: the packed item, or the status that says why
/// there is none.
pub fn next_out<T>(next: Next<T>, pack: impl FnOnce(&T) -> Vec<u8>) -> Res<Vec<u8>> {
    match next {
        Next::Item(item) => Ok(pack(&item)),
        Next::Timeout => Err(Fail::Status(GY_TIMEOUT)),
        Next::Ended => Err(Fail::Status(GY_ENDED)),
    }
}

/// Awaits an operation's async form on the shared runtime until it finishes or `token` is
/// pulled (`GY_CANCELLED`; the future is dropped).
pub fn cancellable<T, F>(token: &Cancel, future: F) -> Res<T>
where
    F: std::future::Future<Output = graveyard::Result<T>> + Send,
    T: Send,
{
    match runtime::block_on_shared(runtime::wait(token, None, future)) {
        Next::Item(result) => Ok(result?),
        Next::Timeout | Next::Ended => Err(Fail::Status(GY_CANCELLED)),
    }
}
