//! `Db`: the embedded store. A thin public face over [`crate::engine`].

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::schema::{RegisteredSchema, Schema, SchemaUpsert};
use crate::types::{
    AppendResult, EventData, EventRef, ExpectedVersion, ListStreamsOptions, ReadAllOptions, ReadOptions,
    RecordedEvent, Snapshot, StreamInfo, StreamMetadata, StreamSummary,
};

/// An open embedded store. Cheap to clone: clones share one handle, and [`Db::close`] closes
/// it for all of them. Opening the same directory again in the same process gives another
/// handle on the same engine; the engine closes when its last handle is closed or dropped.
///
/// Writes go to one writer thread that commits queued requests together (group commit);
/// reads run on the caller's thread. Every method blocks; none needs an async runtime.
#[derive(Clone)]
pub struct Db {
    handle: Arc<Handle>,
}

struct Handle {
    engine: RwLock<Option<Arc<Engine>>>,
    /// Calls in flight through this handle: `close` waits for them, so that when it returns
    /// the store is really closed (its lock released) if this was the last handle.
    calls: AtomicUsize,
    closing: AtomicBool,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

thread_local! {
    /// Calls in flight on this thread, on any handle: a `close` from inside a visit callback
    /// must not wait for the call it is part of.
    static CALL_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One call in flight: keeps the engine alive and the handle's count up until dropped.
pub(crate) struct Call<'a> {
    handle: &'a Handle,
    engine: Option<Arc<Engine>>,
}

impl std::ops::Deref for Call<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.engine.as_deref().expect("a call is only handed out with an engine")
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        // The engine reference goes first: if it was the last one, the store closes here.
        self.engine.take();
        CALL_DEPTH.with(|d| d.set(d.get() - 1));
        if self.handle.calls.fetch_sub(1, Ordering::AcqRel) == 1
            && self.handle.closing.load(Ordering::Acquire)
        {
            let _guard = self.handle.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.handle.idle.notify_all();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let engine = self.engine.get_mut().map(Option::take).unwrap_or_else(|p| p.into_inner().take());
        engine::release(engine);
    }
}

impl Db {
    /// Opens (creating it if needed) the store in directory `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Db::open_with(Options::new(path))
    }

    pub fn open_with(options: Options) -> Result<Db> {
        let engine = engine::open(options)?;
        Ok(Db {
            handle: Arc::new(Handle {
                engine: RwLock::new(Some(engine)),
                calls: AtomicUsize::new(0),
                closing: AtomicBool::new(false),
                idle_lock: Mutex::new(()),
                idle: Condvar::new(),
            }),
        })
    }

    pub(crate) fn engine(&self) -> Result<Call<'_>> {
        let handle = &*self.handle;
        handle.calls.fetch_add(1, Ordering::AcqRel);
        CALL_DEPTH.with(|d| d.set(d.get() + 1));
        let mut call = Call { handle, engine: None };
        call.engine = handle.engine.read().unwrap_or_else(|p| p.into_inner()).clone();
        if call.engine.is_none() {
            return Err(Error::Closed);
        }
        Ok(call)
    }

    /// Appends `events` to `stream` atomically (all or none, consecutive revisions) if the
    /// stream satisfies `expected`. Returns after the commit is durable.
    pub fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.engine()?.append(stream, expected, events)
    }

    /// [`Db::append`] for async callers: the checks and encoding run now, on the caller's
    /// thread, and the append is queued before this returns (so appends issued one after the
    /// other keep their order); the future resolves when the commit is durable. It works on any
    /// executor and does not block one. Errors of the request itself come from the future.
    pub fn append_async(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl std::future::Future<Output = Result<AppendResult>> + Send + 'static {
        let queued = self.engine().map(|engine| engine.append_async(stream, expected, events));
        async move { queued?.await }
    }

    /// Reads a stream's events in revision order (or reverse), honouring its metadata.
    /// A stream that has no events visible because it never existed, or was soft-deleted and
    /// not written since, is NOT_FOUND; a tombstoned one is STREAM_DELETED.
    pub fn read_stream(&self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
        self.engine()?.read_stream(stream, options)
    }

    /// Reads the global log in position order (or reverse), optionally filtered.
    pub fn read_all(&self, options: ReadAllOptions) -> Result<Vec<RecordedEvent>> {
        self.engine()?.read_all(&options)
    }

    /// Like [`Db::read_stream`], without copying: calls `f` with each event read in place, in
    /// order, until `f` returns false or the limit is reached. Returns how many events `f` saw.
    /// The events come from one consistent snapshot, held until the visit returns, so keep `f`
    /// short (a snapshot held for long keeps LMDB from reusing pages).
    pub fn visit_stream(
        &self,
        stream: &str,
        options: ReadOptions,
        mut f: impl FnMut(EventRef<'_>) -> bool,
    ) -> Result<u64> {
        self.engine()?.visit_stream(stream, options, &mut f)
    }

    /// Like [`Db::read_all`], without copying: see [`Db::visit_stream`].
    pub fn visit_all(
        &self,
        options: &ReadAllOptions,
        mut f: impl FnMut(EventRef<'_>) -> bool,
    ) -> Result<u64> {
        self.engine()?.visit_all(options, &mut f)
    }

    /// The state of a stream: NOT_FOUND if it was never written nor given metadata.
    pub fn stream_info(&self, stream: &str) -> Result<StreamInfo> {
        self.engine()?.stream_info(stream)
    }

    /// One page of the streams this store holds ([`ListStreamsOptions`]): tombstoned, deleted
    /// and shredded ones included, with their state. The next page starts `after` the last
    /// name of this one; a page shorter than the limit is the last.
    pub fn list_streams(&self, options: &ListStreamsOptions) -> Result<Vec<StreamSummary>> {
        self.engine()?.list_streams(options)
    }

    /// Replaces the retention rules of a stream (which may not exist yet).
    pub fn set_stream_metadata(&self, stream: &str, metadata: StreamMetadata) -> Result<()> {
        self.engine()?.set_stream_metadata(stream, metadata)
    }

    pub fn get_stream_metadata(&self, stream: &str) -> Result<StreamMetadata> {
        Ok(self.engine()?.stream_info(stream)?.metadata)
    }

    /// Soft delete: the stream reads as absent until written again; its revisions continue
    /// from where they were. Its events stay in $all.
    pub fn delete_stream(&self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.engine()?.delete_stream(stream, expected, false)
    }

    /// Tombstone: the stream is gone and its name can never be used again (STREAM_DELETED).
    pub fn tombstone_stream(&self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.engine()?.delete_stream(stream, expected, true)
    }

    /// Stores the snapshot of `stream` at `revision`, which must be a visible revision of the
    /// stream. Replaces the previous snapshot of the stream.
    pub fn save_snapshot(&self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()> {
        self.engine()?.save_snapshot(stream, revision, data)
    }

    /// The latest snapshot of `stream`, if one was saved. Metadata that later hides its
    /// revision does not remove it (it still holds the state at that revision); a soft delete
    /// or a tombstone does.
    pub fn get_snapshot(&self, stream: &str) -> Result<Option<Snapshot>> {
        self.engine()?.get_snapshot(stream)
    }

    /// Crypto-shredding (encrypted stores): destroys the data key of `stream`, so its data and
    /// metadata, and those of any parked copy of its events, can never be read again, not even
    /// with the master key. Its events stay in the log with their revisions and positions and
    /// read back with `shredded = true` and no data; subscriptions and consumer groups pass over
    /// them. Appends to it fail with STREAM_DELETED from then on; its snapshot is deleted. The
    /// key is overwritten on disk before this returns. Shredding twice is not an error;
    /// NOT_FOUND if the stream never existed; INVALID_ARGUMENT in a store without encryption.
    pub fn shred_stream(&self, stream: &str) -> Result<()> {
        self.engine()?.shred_stream(stream)
    }

    /// Rewraps every data key under `new_key`, while the store stays open: writes wait for
    /// it, reads go on. Crash-safe: until it returns the old key opens the store, after it the
    /// new one (and the old one no longer does). Open with the new key from then on.
    pub fn rotate_master_key(&self, new_key: crate::crypto::Key) -> Result<()> {
        self.engine()?.rotate_master_key(new_key)
    }

    /// Whether the store is encrypted at rest.
    pub fn is_encrypted(&self) -> Result<bool> {
        Ok(self.engine()?.is_encrypted())
    }

    /// Registers `schema` as the next version of its name, if it differs from the latest: the
    /// definition must be valid and keep the compatibility mode of the version it replaces,
    /// else INVALID_SCHEMA names every problem. The new version is stored as an event of
    /// `$schema-<name>` (durable when this returns) and governs every append received after
    /// that. An identical definition writes nothing and reports `changed: false`.
    pub fn upsert_schema(&self, schema: &Schema) -> Result<SchemaUpsert> {
        self.engine()?.upsert_schema(schema)
    }

    /// Version `version` of schema `name`, or its latest version; NOT_FOUND if there is none.
    /// The history of a schema is the stream `$schema-<name>` (revision = version - 1).
    pub fn get_schema(&self, name: &str, version: Option<u32>) -> Result<RegisteredSchema> {
        self.engine()?.get_schema(name, version)
    }

    /// The latest version of every schema, by name.
    pub fn list_schemas(&self) -> Result<Vec<RegisteredSchema>> {
        self.engine()?.list_schemas()
    }

    /// Number of events in the global log: the position the next event will get.
    pub fn head_position(&self) -> Result<u64> {
        Ok(self.engine()?.head_position())
    }

    /// Watches the head position: changes after every commit that added events. Subscribers
    /// use it to wake without polling.
    pub fn watch_head(&self) -> Result<tokio::sync::watch::Receiver<u64>> {
        Ok(self.engine()?.watch_head())
    }

    /// Applies what other writers appended to the store's commit log since this store last
    /// wrote or read it, and returns how many records that was. Only a commit log kept
    /// elsewhere can have any (`Options::commit_log`, such as the Cassandra one of
    /// `graveyard-cql`), written by another process that took the log over; the store's own
    /// log has none. A write that finds the log's next record taken catches up by itself and is
    /// checked again; this is for a store that serves reads of a log another process writes
    /// (a node standing by to take a log over), and it also resumes a store that a log out of
    /// reach stopped, once the log is back.
    pub fn catch_up(&self) -> Result<u64> {
        self.engine()?.catch_up()
    }

    /// What opening the store found in its commit log: the commits replayed after a crash, and
    /// a record torn by the crash (erased; its commit had not been acknowledged).
    pub fn recovery(&self) -> Result<crate::Recovery> {
        Ok(self.engine()?.recovery().clone())
    }

    /// Why the store takes no writes now, or `None` when it does. A store stops when its commit
    /// log cannot be written or synced, or LMDB cannot be synced: every write then fails with the
    /// reason. One whose log is kept elsewhere (Cassandra) and was out of reach resumes by itself
    /// once the log answers again; any other reason lasts until the store is reopened. Reads
    /// go on meanwhile.
    pub fn stopped(&self) -> Result<Option<String>> {
        Ok(self.engine()?.stopped())
    }

    /// The directory of the store.
    pub fn path(&self) -> Result<std::path::PathBuf> {
        Ok(self.engine()?.path().to_path_buf())
    }

    /// Closes this handle (and its clones). Every later call fails with CLOSED. Waits for the
    /// calls already in flight through this handle (a pending append finishes and is durable);
    /// then, if this was the last handle on the directory, the store is closed when `close`
    /// returns, and another process may open it. Called from inside a visit callback, it
    /// cannot wait for that visit: the store then closes when the visit returns.
    /// Closing twice is harmless.
    pub fn close(&self) {
        let handle = &*self.handle;
        handle.closing.store(true, Ordering::Release);
        let engine = handle.engine.write().unwrap_or_else(|p| p.into_inner()).take();
        if CALL_DEPTH.with(Cell::get) == 0 {
            let mut guard = handle.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
            while handle.calls.load(Ordering::Acquire) > 0 {
                guard = handle.idle.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        }
        engine::release(engine);
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.engine() {
            Ok(e) => f.debug_struct("Db").field("path", &e.path()).finish(),
            Err(_) => f.write_str("Db(closed)"),
        }
    }
}
