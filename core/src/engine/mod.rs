//! The embedded engine: LMDB environment, the writer thread, and reads.
//!
//! Invariants:
//! - One engine per directory per process (the registry below), and one process per directory
//!   (an exclusive lock on `graveyard.lock`). LMDB would allow more, but the writer keeps the
//!   next position and stream id in memory, which is only right if it is the only writer.
//! - Positions in `events` are 0..head with no gap: the writer assigns them in commit order
//!   and LMDB commits are atomic, so a crash leaves a prefix of acknowledged batches.
//! - Reads never take the writer's path: they open an LMDB read transaction on the caller's
//!   thread and see the last state shown: `$all` up to the head, a stream up to its state
//!   (LMDB may hold a batch of appends whose record is not yet durable; writer.rs, `commit`).

mod checkpoint;
mod format;
mod keys;
mod log;
mod ops;
mod read;
mod states;
mod validate;
mod writer;

use std::any::Any;
use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use heed::types::Bytes;
use heed::{CommitOrAbort, EnvFlags, EnvOpenOptions, RoTxn, WithoutTls};

use crate::commit_log::{CommitLog, LogChoice, TornTail, FILE_LOG};
use crate::error::{Error, Result};
use crate::options::{Durability, Options};
use crate::schema::{self, RegisteredSchema, Schema, SchemaRegistry, SchemaUpsert, Upsert};
use crate::types::{
    parked_stream, AppendResult, EventData, EventRef, ExpectedVersion, ListStreamsOptions, ReadAllOptions,
    ReadOptions, RecordedEvent, ReplayInfo, Snapshot, StreamInfo, StreamMetadata, StreamSummary,
    SubscriptionStart,
};
use format::StreamState;
use uuid::Uuid;
use writer::{Answer, Command, Durable, Job, Reply, Writer, WriterState};

pub(crate) use format::{GroupRecord, Progress, ReplayRecord, SettingsRecord, TargetRecord};
pub(crate) use writer::now_micros;

type Table = heed::Database<'static, Bytes, Bytes>;

/// The engine side: the registry of live dispatchers, one per group.
///
/// Type-erased: a dispatcher belongs to the group module, which depends on the engine, not the
/// other way round. The group module downcasts what it finds here (only dispatchers are put).
pub(crate) type Dispatchers = Mutex<HashMap<String, Weak<dyn Any + Send + Sync>>>;

/// The LMDB environment and its databases; shared by the engine (reads) and the writer.
pub(crate) struct Store {
    env: heed::Env<WithoutTls>,
    meta: Table,
    events: Table,
    streams: Table,
    stream_index: Table,
    event_ids: Table,
    snapshots: Table,
    groups: Table,
    pending_shreds: Table,
    /// The data keys, in an encrypted store.
    keyring: Option<keys::Keyring>,
    /// Stream states committed but not yet written to `streams` (states.rs).
    late: states::LateStates,
}

impl Store {
    /// A read transaction and the state of `stream` as of that transaction: the one written
    /// behind, taken with the transaction opened under the same view (states.rs), else the
    /// table's.
    fn read_state(&self, stream: &str) -> Result<(RoTxn<'_, WithoutTls>, Option<StreamState>)> {
        let (late, txn) = self.read_with_late(|view| view.get(stream.as_bytes()))?;
        let state = match late {
            Some(state) => Some(state),
            None => self.table_state(&txn, stream)?,
        };
        Ok((txn, state))
    }

    /// What `look` takes from the states written behind, and a read transaction opened under
    /// the same view, so that the two are one view of the store (states.rs).
    fn read_with_late<T>(&self, look: impl FnOnce(&states::View) -> T) -> Result<(T, RoTxn<'_, WithoutTls>)> {
        let view = self.late.view();
        let taken = look(&view);
        let txn = self.env.read_txn()?;
        drop(view);
        Ok((taken, txn))
    }

    /// The state of `stream` in the `streams` table alone: `late` may hold a newer one.
    fn table_state(&self, txn: &RoTxn, stream: &str) -> Result<Option<StreamState>> {
        match self.streams.get(txn, stream.as_bytes())? {
            Some(bytes) => StreamState::decode(bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// Attempts of one schema upsert, each after another writer of the shared log stored the
/// version it prepared.
const MAX_SCHEMA_TRIES: u32 = 4;

pub(crate) struct Engine {
    options: Options,
    /// Canonical directory: the registry key.
    dir: PathBuf,
    store: Option<Arc<Store>>,
    jobs: Option<crossbeam_channel::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's state, taken by the writer thread for each batch, or by a synchronous
    /// caller that finds it free (see `submit`).
    committer: Option<Arc<Mutex<Writer>>>,
    head: tokio::sync::watch::Receiver<u64>,
    /// Live consumer-group dispatchers, one per group, shared by the group's members.
    pub(crate) dispatchers: Dispatchers,
    /// Every version of every schema, loaded from the `$schema-` streams at open, and by the
    /// writer when it catches up with versions another writer of a shared log stored.
    schemas: Arc<SchemaRegistry>,
    /// Serialises upserts: each one prepares the version after the latest, writes it, then
    /// installs it, and no other upsert may prepare in between.
    schema_writes: Mutex<()>,
    /// Held for the engine's life: the exclusive lock that keeps other processes out.
    lock: Option<File>,
    recovery: Recovery,
    /// Why the writer takes no writes now (see `Durable::broken`), or `None`.
    stopped: Arc<Mutex<Option<String>>>,
}

/// What opening a store found in its commit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records replayed into LMDB: commits made after the last checkpoint (none after a clean
    /// close).
    pub replayed: u64,
    /// A record torn by a crash at the log's end, erased and not replayed. Its commit was never
    /// acknowledged: a commit is answered only once its record is whole on disk.
    pub torn: Option<TornTail>,
}

/// The event type of the versions stored in `$schema-<name>` streams.
pub(crate) const SCHEMA_EVENT_TYPE: &str = "$schema";

/// Open engines by canonical directory. Engines are created and closed with this lock held.
/// Between the moment an engine's last reference goes and the moment its `Drop` takes this
/// lock, its entry is dead but still present (and the directory still locked): an open that
/// finds such an entry waits on `REGISTRY_CHANGED` for the close to finish instead of failing.
static REGISTRY: Mutex<Option<HashMap<PathBuf, Weak<Engine>>>> = Mutex::new(None);
static REGISTRY_CHANGED: Condvar = Condvar::new();

type Registry = MutexGuard<'static, Option<HashMap<PathBuf, Weak<Engine>>>>;

fn registry() -> Registry {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

const LOCK_FILE: &str = "graveyard.lock";
/// How long a held store lock is tried again before the store is reported in use, and how
/// often (see `Engine::start`).
const LOCK_PATIENCE: Duration = Duration::from_millis(250);
const LOCK_RETRY: Duration = Duration::from_millis(5);
/// The map size must be a multiple of the OS page size: 64 KiB is one for every common size.
const MAP_SIZE_GRANULE: usize = 64 * 1024;

pub(crate) fn open(options: Options) -> Result<Arc<Engine>> {
    check_options(&options)?;
    let path = &options.path;
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("the store path is empty"));
    }
    if path.exists() && !path.is_dir() {
        return Err(Error::invalid(format!("{} exists and is not a directory", path.display())));
    }
    std::fs::create_dir_all(path).map_err(|e| Error::Io(format!("creating {}: {e}", path.display())))?;
    let dir = path.canonicalize().map_err(|e| Error::Io(format!("resolving {}: {e}", path.display())))?;

    let engine = {
        let mut guard = registry();
        loop {
            let map = guard.get_or_insert_with(HashMap::new);
            match map.get(&dir).map(Weak::upgrade) {
                Some(Some(engine)) => break engine,
                // Closing right now: wait for its Drop to finish and remove it.
                Some(None) => guard = REGISTRY_CHANGED.wait(guard).unwrap_or_else(|p| p.into_inner()),
                None => {
                    let engine = Arc::new(Engine::start(options.clone(), dir.clone())?);
                    map.insert(dir.clone(), Arc::downgrade(&engine));
                    return Ok(engine);
                }
            }
        }
    };
    // Outside the registry lock from here: dropping `engine` may close it, which takes the lock.
    let mut theirs = engine.options.clone();
    theirs.path = options.path.clone();
    if theirs != options {
        return Err(Error::invalid(format!(
            "{} is already open in this process with other options; open it with the same options or close it first",
            dir.display()
        )));
    }
    // Both encrypted: the key given must be the one in force (it may have been rotated since
    // the engine opened).
    if let (Some(source), Some(keyring)) = (&options.master_key, &engine.store().keyring) {
        keyring.check_master(&*source.resolve()?)?;
    }
    Ok(engine)
}

/// The result inside a writer's answer. The caller's thread frees the spent request.
fn opened(answer: std::result::Result<Answer, oneshot::RecvError>) -> Result<Reply> {
    let answer = answer.map_err(|_| Error::Internal("the writer thread stopped before answering".into()))?;
    drop(answer.spent);
    answer.result
}

fn appended(reply: Result<Reply>) -> Result<AppendResult> {
    match reply? {
        Reply::Appended(result) => Ok(result),
        _ => Err(Error::Internal("the writer answered an append with no result".into())),
    }
}

/// Drops a handle's reference to an engine; closing the engine if it was the last one.
pub(crate) fn release(engine: Option<Arc<Engine>>) {
    drop(engine);
}

fn check_options(options: &Options) -> Result<()> {
    if options.max_event_size == 0 || options.max_event_size > (1 << 30) {
        return Err(Error::invalid("max_event_size must be between 1 byte and 1 GiB"));
    }
    if options.max_json_depth == 0 {
        return Err(Error::invalid("max_json_depth must be at least 1"));
    }
    if options.map_size < (1 << 20) || options.map_size.checked_next_multiple_of(MAP_SIZE_GRANULE).is_none() {
        return Err(Error::invalid("map_size must be at least 1 MiB and fit the address space"));
    }
    if options.max_readers == 0 {
        return Err(Error::invalid("max_readers must be at least 1"));
    }
    Ok(())
}

impl Engine {
    /// Opens the store in `dir`. Called with the registry lock held.
    fn start(options: Options, dir: PathBuf) -> Result<Engine> {
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| Error::Io(format!("opening {}: {e}", dir.join(LOCK_FILE).display())))?;
        // The lock belongs to the open file description, which a child forked by any thread
        // of this process shares until it execs. An application that spawns processes while
        // it closes and reopens a store would see its own lock for those microseconds, so a
        // held lock is tried again for a moment before the store is called busy.
        let mut waited = Duration::ZERO;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if waited < LOCK_PATIENCE => {
                    std::thread::sleep(LOCK_RETRY);
                    waited += LOCK_RETRY;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Unavailable(format!("{} is in use by another process", dir.display())))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::Io(format!("locking {}: {e}", dir.join(LOCK_FILE).display())))
                }
            }
        }

        // Every open starts from the last checkpoint (see checkpoint.rs).
        let checkpoint = checkpoint::Checkpoint::read(&dir)?;
        if let Some(checkpoint) = &checkpoint {
            checkpoint.restore(&dir)?;
        }
        let (store, log, recovery, open_pin) = open_store(&options, &dir, checkpoint.as_ref())?;
        let store = Arc::new(store);
        let page_size = {
            let rtxn = store.env.read_txn()?;
            store.meta.stat(&rtxn)?.page_size as usize
        };
        let hook = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let crash_after = hook(writer::CRASH_AFTER_LOG_ENV);
        let checkpoint_bytes = hook(writer::CHECKPOINT_BYTES_ENV).unwrap_or(writer::CHECKPOINT_BYTES);
        let mut durable = Durable {
            dir: dir.clone(),
            log,
            page_size,
            pin: None,
            reserve: None,
            running: None,
            logged: 0,
            checkpointed: std::time::Instant::now(),
            broken: None,
            stopped: Arc::default(),
            crash_after,
            checkpoint_bytes,
            settle_delay: hook(writer::SETTLE_DELAY_ENV).map(std::time::Duration::from_millis),
            crash_after_commit: hook(writer::CRASH_AFTER_COMMIT_ENV),
            fail_settle: hook(writer::FAIL_SETTLE_ENV),
        };
        // What was replayed, and what open wrote (a new store, a migration, finished shreds),
        // is made the new checkpoint before anything is served.
        durable.checkpoint(&store)?;
        let stopped = durable.stopped.clone();
        drop(open_pin);
        if checkpoint.is_none() {
            // SAFETY: as for NO_SYNC at open (open_store): from now on a checkpoint exists.
            unsafe { store.env.set_flags(EnvFlags::NO_SYNC, heed::FlagSetMode::Enable) }?;
        }
        let state = recover_writer_state(&store)?;
        let schemas = Arc::new(SchemaRegistry::new());
        load_schemas(&store, &schemas)?;
        let (head_tx, head_rx) = tokio::sync::watch::channel(state.next_position);
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            store: store.clone(),
            state,
            jobs: jobs_rx,
            head: head_tx,
            nonces: crate::crypto::Nonces::new(),
            durable,
            ops: Default::default(),
            alone: false,
            log_refused: false,
            schemas: schemas.clone(),
            wrote_nothing: false,
            batch_states: HashMap::new(),
            bounded: true,
            ids: {
                let mut ids = writer::IdClock::default();
                ids.carry_on(state.greatest_id, state.last_timestamp.max(writer::now_micros()));
                ids
            },
        };
        let committer = Arc::new(Mutex::new(writer));
        let handle = std::thread::Builder::new()
            .name("graveyard-writer".into())
            .spawn({
                let committer = committer.clone();
                move || Writer::run(&committer)
            })
            .map_err(|e| Error::Internal(format!("starting the writer thread: {e}")))?;
        Ok(Engine {
            options,
            dir,
            store: Some(store),
            jobs: Some(jobs_tx),
            writer: Some(handle),
            committer: Some(committer),
            head: head_rx,
            dispatchers: Default::default(),
            schemas,
            schema_writes: Mutex::new(()),
            lock: Some(lock),
            recovery,
            stopped,
        })
    }

    /// Applies what other writers appended to the store's shared commit log since this store
    /// last wrote or read it (see `CommitLog::catch_up`); waits for the batch being committed.
    pub fn catch_up(&self) -> Result<u64> {
        let committer = self.committer.as_ref().ok_or(Error::Closed)?;
        let mut writer = committer.lock().unwrap_or_else(|p| p.into_inner());
        let caught = writer.catch_up();
        // A store that only follows its log checkpoints like one that writes, so that its
        // next open replays only what is new.
        writer.tend();
        caught
    }

    /// What the last open found in the commit log.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Why the store takes no writes now, or `None` when it does.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("the store lives as long as the engine")
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn head_position(&self) -> u64 {
        *self.head.borrow()
    }

    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.head.clone()
    }

    /// Queues a command for the writer; the receiver yields its answer after the commit.
    fn send(&self, command: Command) -> Result<oneshot::Receiver<Answer>> {
        let (tx, rx) = oneshot::channel();
        let jobs = self.jobs.as_ref().ok_or(Error::Closed)?;
        jobs.send(Job { command, reply: tx }).map_err(|_| Error::Closed)?;
        Ok(rx)
    }

    /// A synchronous call: committed on the caller's thread when no batch is being committed
    /// (a lone writer then saves the hand-off to the writer thread and back, two context
    /// switches), else queued for the writer thread and waited for, which commits it with the
    /// others in one batch.
    fn submit(&self, command: Command) -> Result<Reply> {
        let (Some(jobs), Some(committer)) = (&self.jobs, &self.committer) else { return Err(Error::Closed) };
        let (tx, rx) = oneshot::channel();
        let job = Job { command, reply: tx };
        let refusals = match committer.try_lock() {
            Ok(mut writer) => writer.lead(job),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().lead(job),
            Err(std::sync::TryLockError::WouldBlock) => {
                jobs.send(job).map_err(|_| Error::Closed)?;
                Default::default()
            }
        };
        refusals.deliver();
        opened(rx.recv())
    }

    fn append_command(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<Command> {
        validate::user_stream_name(stream)?;
        // Kept for a refusal by a schema: a retry of an append that committed under an earlier
        // version is answered as it was the first time (a retry is not a new write).
        let ids: Option<Vec<Uuid>> = events.iter().map(|e| e.id).collect();
        match validate::prepare_events(
            stream,
            events,
            self.options.max_event_size,
            validate::Author::User { schemas: &self.schemas, max_json_depth: self.options.max_json_depth },
            self.is_encrypted(),
        ) {
            Ok(events) => Ok(Command::Append { stream: stream.to_string(), expected, events }),
            Err(refusal @ Error::SchemaViolation { .. }) => match ids {
                Some(ids) => Ok(Command::Retry { stream: stream.to_string(), expected, ids, refusal }),
                None => Err(refusal),
            },
            Err(e) => Err(e),
        }
    }

    pub fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        appended(self.submit(self.append_command(stream, expected, events)?))
    }

    /// The append checked, encoded and queued now, on the caller's thread; the future only
    /// waits for the commit, so it needs no particular runtime and holds no engine reference.
    pub fn append_async(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl std::future::Future<Output = Result<AppendResult>> + Send + 'static {
        let queued = self.append_command(stream, expected, events).and_then(|command| self.send(command));
        async move { appended(opened(queued?.await)) }
    }

    pub fn is_encrypted(&self) -> bool {
        self.store().keyring.is_some()
    }

    pub fn shred_stream(&self, stream: &str) -> Result<()> {
        validate::user_stream_name(stream)?;
        self.submit(Command::Shred { stream: stream.to_string() }).map(drop)
    }

    pub fn rotate_master_key(&self, key: crate::crypto::Key) -> Result<()> {
        if !self.is_encrypted() {
            return Err(writer::not_encrypted());
        }
        self.submit(Command::RotateMasterKey { key: Arc::new(key) }).map(drop)
    }

    pub fn set_stream_metadata(&self, stream: &str, metadata: StreamMetadata) -> Result<()> {
        validate::user_stream_name(stream)?;
        self.submit(Command::SetMetadata { stream: stream.to_string(), metadata }).map(drop)
    }

    pub fn delete_stream(&self, stream: &str, expected: ExpectedVersion, tombstone: bool) -> Result<()> {
        validate::user_stream_name(stream)?;
        self.submit(Command::Delete { stream: stream.to_string(), expected, tombstone }).map(drop)
    }

    pub fn save_snapshot(&self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()> {
        validate::user_stream_name(stream)?;
        if data.len() > self.options.max_event_size {
            return Err(Error::invalid(format!(
                "snapshot is {} bytes, larger than the maximum of {}",
                data.len(),
                self.options.max_event_size
            )));
        }
        self.submit(Command::SaveSnapshot { stream: stream.to_string(), revision, data }).map(drop)
    }

    pub fn create_group(&self, name: &str, record: GroupRecord, start: SubscriptionStart) -> Result<()> {
        self.submit(Command::CreateGroup { name: name.to_string(), record, start }).map(drop)
    }

    pub fn update_group(&self, name: &str, record: GroupRecord) -> Result<()> {
        self.submit(Command::UpdateGroup { name: name.to_string(), record }).map(drop)
    }

    pub fn delete_group(&self, name: &str) -> Result<()> {
        self.submit(Command::DeleteGroup { name: name.to_string() }).map(drop)
    }

    pub fn settle_group(
        &self,
        name: &str,
        incarnation: u64,
        seq: u64,
        target: Progress,
        replay: Progress,
        parks: Vec<(String, EventData)>,
    ) -> Result<()> {
        let parks = if parks.is_empty() {
            Vec::new()
        } else {
            let stream = parked_stream(name);
            let (origins, copies): (Vec<String>, Vec<EventData>) = parks.into_iter().unzip();
            let mut prepared = validate::prepare_events(
                &stream,
                copies,
                self.options.max_event_size,
                validate::Author::System,
                self.is_encrypted(),
            )?;
            // A copy is sealed with the data key of the stream it came from.
            for (copy, origin) in prepared.iter_mut().zip(origins) {
                copy.key_owner = Some(origin);
            }
            prepared
        };
        let name = name.to_string();
        self.submit(Command::SettleGroup { name, incarnation, seq, target, replay, parks }).map(drop)
    }

    pub fn replay_parked(&self, name: &str, limit: Option<u64>) -> Result<ReplayInfo> {
        match self.submit(Command::ReplayParked { name: name.to_string(), limit })? {
            Reply::Replayed(info) => Ok(info),
            _ => Err(Error::Internal("the writer answered a replay with no result".into())),
        }
    }

    pub fn upsert_schema(&self, definition: &Schema) -> Result<SchemaUpsert> {
        let _serial = self.schema_writes.lock().unwrap_or_else(|p| p.into_inner());
        // `schema_writes` keeps the upserts of this store in turn, but another writer of a
        // shared commit log may store the same next version first: the append then meets its
        // version (WRONG_EXPECTED_VERSION) after the writer applied it to the registry, and the
        // upsert is prepared again against it (unchanged if it was this same definition).
        let mut tries = 0;
        loop {
            tries += 1;
            match self.upsert_schema_once(definition) {
                // (A store alone on its log never gets here: `schema_writes` is held.)
                Err(Error::WrongExpectedVersion { .. }) if tries < MAX_SCHEMA_TRIES => {}
                done => return done,
            }
        }
    }

    fn upsert_schema_once(&self, definition: &Schema) -> Result<SchemaUpsert> {
        let prepared = match self.schemas.prepare(definition)? {
            Upsert::Unchanged(latest) => {
                return Ok(SchemaUpsert {
                    name: latest.name().to_owned(),
                    version: latest.version(),
                    changed: false,
                })
            }
            Upsert::New(prepared) => prepared,
        };
        let name = prepared.name().to_owned();
        let version = prepared.version();
        let stream = schema::schema_stream(&name);
        // The version is the stream's revision + 1; the expectation makes a second writer of
        // the same version (impossible while `schema_writes` is held) a conflict, not a fork.
        let expected = match version {
            1 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(u64::from(v) - 2),
        };
        let stored = EventData::json_bytes(SCHEMA_EVENT_TYPE, prepared.definition().to_json());
        let events = validate::prepare_events(
            &stream,
            vec![stored],
            self.options.max_event_size,
            validate::Author::System,
            self.is_encrypted(),
        )
        .map_err(|e| Error::InvalidSchema { schema: name.clone(), problems: vec![e.to_string()] })?;
        appended(self.submit(Command::Append { stream, expected, events }))?;
        self.schemas.install(prepared)?;
        Ok(SchemaUpsert { name, version, changed: true })
    }

    pub fn get_schema(&self, name: &str, version: Option<u32>) -> Result<RegisteredSchema> {
        let Some(latest) = self.schemas.latest_version(name) else {
            return Err(Error::NotFound(format!("schema '{name}' does not exist")));
        };
        let version = version.unwrap_or(latest);
        match self.schemas.definition(name, version) {
            Some(schema) => Ok(RegisteredSchema { version, schema: Schema::clone(&schema) }),
            None => Err(Error::NotFound(format!(
                "schema '{name}' has no version {version}: its versions are 1 to {latest}"
            ))),
        }
    }

    pub fn list_schemas(&self) -> Result<Vec<RegisteredSchema>> {
        let mut list = Vec::new();
        for name in self.schemas.names() {
            list.push(self.get_schema(&name, None)?);
        }
        Ok(list)
    }

    pub fn group_record(&self, name: &str) -> Result<Option<GroupRecord>> {
        let store = self.store();
        let txn = store.env.read_txn()?;
        store.groups.get(&txn, name.as_bytes())?.map(GroupRecord::decode).transpose()
    }

    pub fn group_names(&self) -> Result<Vec<String>> {
        let store = self.store();
        let txn = store.env.read_txn()?;
        let mut names = Vec::new();
        for item in store.groups.iter(&txn)? {
            let (key, _) = item?;
            names.push(
                String::from_utf8(key.to_vec()).map_err(|_| format::corrupt("a group name is not UTF-8"))?,
            );
        }
        Ok(names)
    }

    pub fn live_dispatcher(&self, name: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        self.dispatchers.lock().unwrap_or_else(|p| p.into_inner()).get(name).and_then(Weak::upgrade)
    }

    pub fn read_stream(&self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
        read::collect(options.limit, |f| self.visit_stream(stream, options, f))
    }

    pub fn visit_stream(
        &self,
        stream: &str,
        options: ReadOptions,
        f: &mut dyn FnMut(EventRef<'_>) -> bool,
    ) -> Result<u64> {
        validate::stream_name(stream)?;
        read::visit_stream(self.store(), stream, options, f)
    }

    pub fn read_all(&self, options: &ReadAllOptions) -> Result<Vec<RecordedEvent>> {
        read::collect(options.limit, |f| self.visit_all(options, f))
    }

    pub fn visit_all(
        &self,
        options: &ReadAllOptions,
        f: &mut dyn FnMut(EventRef<'_>) -> bool,
    ) -> Result<u64> {
        // Its own statement: the watch's guard must not be held through the visit, whose
        // callback may write (the writer takes the guard's lock to move the head).
        let head = *self.head.borrow();
        read::visit_all(self.store(), head, options, f)
    }

    pub fn stream_info(&self, stream: &str) -> Result<StreamInfo> {
        validate::stream_name(stream)?;
        read::stream_info(self.store(), stream)
    }

    pub fn list_streams(&self, options: &ListStreamsOptions) -> Result<Vec<StreamSummary>> {
        validate::list_streams(options)?;
        read::list_streams(self.store(), options)
    }

    pub fn get_snapshot(&self, stream: &str) -> Result<Option<Snapshot>> {
        validate::stream_name(stream)?;
        read::get_snapshot(self.store(), stream)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let mut guard = registry();
        // Closing the channel lets the writer finish what is queued, then stop.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // The writer's state holds the store and its checkpoint's pin.
        self.committer.take();
        // The writer's reference is gone, so this closes the LMDB environment...
        self.store.take();
        // ...before the process lock is released.
        self.lock.take();
        if let Some(map) = guard.as_mut() {
            if map.get(&self.dir).is_some_and(|w| w.strong_count() == 0) {
                map.remove(&self.dir);
            }
        }
        REGISTRY_CHANGED.notify_all();
    }
}

/// What `open_store` gives the engine.
type Opened = (Store, Box<dyn CommitLog>, Recovery, RoTxn<'static, WithoutTls>);

/// Opens LMDB, replays the log's records from the checkpoint's LSN on, and opens the keyring.
/// Also returns a pin on the checkpoint's commit, to hold until the next checkpoint: the
/// writes of the open (replay, finished shreds) must not reuse its pages either.
fn open_store(options: &Options, dir: &Path, checkpoint: Option<&checkpoint::Checkpoint>) -> Result<Opened> {
    let from_lsn = checkpoint.map_or(0, |c| c.lsn);
    let mut env_options = EnvOpenOptions::new().read_txn_without_tls();
    env_options
        .map_size(options.map_size.next_multiple_of(MAP_SIZE_GRANULE))
        .max_dbs(format::MAX_DBS)
        // Two more for the writer's pins of the last checkpoint and of the one being taken.
        .max_readers(options.max_readers.saturating_add(2));
    // SAFETY: NO_SYNC only drops LMDB's fsyncs at commit: the commit log makes commits durable
    // and checkpoints sync LMDB; after a crash LMDB is rolled back to the last checkpoint, whose
    // pages no later commit overwrote, and the log replayed (checkpoint.rs). Without a
    // checkpoint yet (a new store, or one of format 3), commits sync until the first one.
    if checkpoint.is_some() {
        unsafe { env_options.flags(EnvFlags::NO_SYNC) };
    }
    // SAFETY: the directory is ours alone: the process lock keeps other GraveyardDB processes
    // out and the registry keeps this process to one environment per directory; nothing
    // truncates or rewrites the file under the map.
    let env = unsafe { env_options.open(dir) }?;
    let pin = env.clone().static_read_txn()?;

    // A store is fresh when its main database is empty: then, and only then, create the
    // databases. Anything else must prove it is ours through the meta database.
    let rtxn = env.read_txn()?;
    let unnamed: Option<Table> = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_> {
            Ok(CommitOrAbort::<_, ()>::Commit(dbo.open_database::<Bytes, Bytes>(rtxn, None)?))
        })?
        .unwrap_commit();
    let empty = match unnamed {
        Some(db) => db.is_empty(&*env.read_txn()?)?,
        None => true,
    };
    let log_identity = match &options.commit_log {
        Some(LogChoice(source)) => source.identity(),
        None => FILE_LOG.to_owned(),
    };
    if options.commit_log.is_some() && options.master_key.is_some() {
        // The keyring is a file of this directory: a store rebuilt from the replicated log
        // elsewhere would have its sealed events and no key to open them.
        return Err(Error::invalid("a store whose commit log is kept elsewhere cannot be encrypted (yet)"));
    }
    if empty {
        initialise(&env, options.master_key.is_some(), &log_identity)?;
    }

    let mut upgrade = false;
    let rtxn = env.read_txn()?;
    let tables = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_> {
            let open = |name: &str| dbo.open_database::<Bytes, Bytes>(rtxn, Some(name));
            let meta = match open(format::DB_META) {
                Ok(Some(db)) => db,
                Ok(None) | Err(heed::Error::Mdb(heed::MdbError::Incompatible)) => {
                    return Err(Error::IncompatibleFormat(format!(
                        "{} holds an LMDB environment that is not a GraveyardDB store",
                        dir.display()
                    )))
                }
                Err(e) => return Err(e.into()),
            };
            upgrade = check_meta(&meta, rtxn, dir)?;
            // Stores created before logs could be chosen have the file log.
            let created_with = meta.get(rtxn, format::META_COMMIT_LOG)?.unwrap_or(FILE_LOG.as_bytes());
            if created_with != log_identity.as_bytes() {
                return Err(Error::IncompatibleFormat(format!(
                    "{} was created with the commit log '{}' and cannot be opened with '{log_identity}': \
                     the positions of one log mean nothing in another",
                    dir.display(),
                    String::from_utf8_lossy(created_with)
                )));
            }
            let require = |name: &str| match open(name) {
                Ok(Some(db)) => Ok(db),
                Ok(None) => Err(Error::Corruption(format!("the store has no '{name}' database"))),
                Err(e) => Err(Error::from(e)),
            };
            Ok(CommitOrAbort::<_, ()>::Commit((
                meta,
                require(format::DB_EVENTS)?,
                require(format::DB_STREAMS)?,
                require(format::DB_STREAM_INDEX)?,
                require(format::DB_EVENT_IDS)?,
                require(format::DB_SNAPSHOTS)?,
                require(format::DB_GROUPS)?,
                require(format::DB_PENDING_SHREDS)?,
            )))
        })?
        .unwrap_commit();
    let (meta, events, streams, stream_index, event_ids, snapshots, groups, pending_shreds) = tables;
    if upgrade {
        // Format 3 differs only in having no commit log (its LMDB was synced at every commit),
        // format 4 in its log segments having no salts (read as they are): writing the version
        // is the whole upgrade.
        let mut wtxn = env.write_txn()?;
        meta.put(&mut wtxn, format::META_FORMAT_VERSION, &format::FORMAT_VERSION.to_be_bytes())?;
        wtxn.commit()?;
    }
    let mut store = Store {
        env,
        meta,
        events,
        streams,
        stream_index,
        event_ids,
        snapshots,
        groups,
        pending_shreds,
        keyring: None,
        late: states::LateStates::default(),
    };
    let mut replayed = 0;
    let mut wtxn = store.env.write_txn()?;
    let mut replay = |lsn: u64, record: &[u8]| {
        replayed += 1;
        ops::replay(&store, &mut wtxn, lsn, record)
    };
    let (log, torn): (Box<dyn CommitLog>, _) = match &options.commit_log {
        Some(LogChoice(source)) => source.open(dir, from_lsn, &mut replay)?,
        None => {
            let max_segment = std::env::var(log::SEGMENT_BYTES_ENV).ok().and_then(|v| v.parse::<u64>().ok());
            let sync = options.durability == Durability::Fsync;
            let (log, torn) =
                log::Log::open(dir, from_lsn, sync, max_segment.unwrap_or(log::SEGMENT_BYTES), &mut replay)?;
            (Box::new(log), torn)
        }
    };
    wtxn.commit()?;
    store.keyring = open_keyring(&store, options, dir)?;
    Ok((store, log, Recovery { replayed, torn }, pin))
}

/// The keyring of an encrypted store, checked against the master key given; pending shreds
/// finished. `None` for a store without encryption (and no key given).
fn open_keyring(store: &Store, options: &Options, dir: &Path) -> Result<Option<keys::Keyring>> {
    let rtxn = store.env.read_txn()?;
    let encrypted = match store.meta.get(&rtxn, format::META_ENCRYPTION)? {
        None => false,
        Some(format::ENCRYPTION_SCHEME) => true,
        Some(_) => {
            return Err(Error::IncompatibleFormat(format!(
                "{} is encrypted with a scheme this build does not know",
                dir.display()
            )))
        }
    };
    let store_id: [u8; 16] = store
        .meta
        .get(&rtxn, format::META_STORE_ID)?
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Corruption("the store has no valid store id".into()))?;
    let never_written = store
        .meta
        .get(&rtxn, format::META_NEXT_STREAM_ID)?
        .is_some_and(|b| b == 0u64.to_be_bytes().as_slice());
    let pending: Vec<u64> = store
        .pending_shreds
        .iter(&rtxn)?
        .map(|item| item.map_err(Error::from).and_then(|(key, _)| format::decode_u64_key(key)))
        .collect::<Result<_>>()?;
    drop(rtxn);
    let source = match (encrypted, &options.master_key) {
        (false, None) => return Ok(None),
        (false, Some(_)) => {
            return Err(Error::invalid(format!(
                "{} was created without encryption; open it without a master key",
                dir.display()
            )))
        }
        (true, None) => {
            return Err(Error::Encryption(format!(
                "{} is encrypted: open it with its master key",
                dir.display()
            )))
        }
        (true, Some(source)) => source,
    };
    let master = source.resolve()?;
    // Created with the store; missing only if the first open stopped between the two, before
    // any stream existed (no key can be lost then).
    // A store that never had a stream holds no key yet: a keyring missing or without a valid
    // header (the first open stopped while creating it) is made anew; a valid one still
    // checks the key.
    let keyring = match keys::Keyring::open(dir, store_id, &master) {
        Err(e) if never_written && e.code() == crate::error::ErrorCode::Corruption => {
            keys::Keyring::create(dir, store_id, &master)?
        }
        opened => opened?,
    };
    if !pending.is_empty() {
        keyring.shred(&pending)?;
        let mut wtxn = store.env.write_txn()?;
        for id in &pending {
            store.pending_shreds.delete(&mut wtxn, &format::u64_key(*id))?;
        }
        wtxn.commit()?;
    }
    Ok(Some(keyring))
}

fn initialise(env: &heed::Env<WithoutTls>, encrypted: bool, commit_log: &str) -> Result<()> {
    let wtxn = env.write_txn()?;
    env.create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_> {
        let meta = dbo.create_database::<Bytes, Bytes>(wtxn, Some(format::DB_META))?;
        for name in [
            format::DB_EVENTS,
            format::DB_STREAMS,
            format::DB_STREAM_INDEX,
            format::DB_EVENT_IDS,
            format::DB_SNAPSHOTS,
            format::DB_GROUPS,
            format::DB_PENDING_SHREDS,
        ] {
            dbo.create_database::<Bytes, Bytes>(wtxn, Some(name))?;
        }
        meta.put(wtxn, format::META_MAGIC, format::MAGIC)?;
        meta.put(wtxn, format::META_FORMAT_VERSION, &format::FORMAT_VERSION.to_be_bytes())?;
        meta.put(wtxn, format::META_STORE_ID, uuid::Uuid::new_v4().as_bytes())?;
        meta.put(wtxn, format::META_NEXT_STREAM_ID, &0u64.to_be_bytes())?;
        if encrypted {
            meta.put(wtxn, format::META_ENCRYPTION, format::ENCRYPTION_SCHEME)?;
        }
        if commit_log != FILE_LOG {
            meta.put(wtxn, format::META_COMMIT_LOG, commit_log.as_bytes())?;
        }
        Ok(CommitOrAbort::<_, ()>::Commit(()))
    })?;
    Ok(())
}

/// Checks the store is ours and of a format this build reads; true when it is of an older
/// format open upgrades.
fn check_meta(meta: &heed::Database<'_, Bytes, Bytes>, rtxn: &RoTxn, dir: &Path) -> Result<bool> {
    let not_ours = || {
        Error::IncompatibleFormat(format!(
            "{} holds an LMDB environment that is not a GraveyardDB store",
            dir.display()
        ))
    };
    if meta.get(rtxn, format::META_MAGIC)? != Some(format::MAGIC) {
        return Err(not_ours());
    }
    let version = meta
        .get(rtxn, format::META_FORMAT_VERSION)?
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| Error::Corruption("the store has no valid format version".into()))?;
    if version > format::FORMAT_VERSION {
        return Err(Error::IncompatibleFormat(format!(
            "{} is in on-disk format version {version}; this build reads up to version {}: upgrade GraveyardDB",
            dir.display(),
            format::FORMAT_VERSION
        )));
    }
    if (format::OLDEST_UPGRADED..format::FORMAT_VERSION).contains(&version) {
        return Ok(true);
    }
    if version < format::FORMAT_VERSION {
        return Err(Error::IncompatibleFormat(format!("unknown old on-disk format version {version}")));
    }
    Ok(false)
}

/// Loads into `registry` the versions of the `$schema-` streams it does not hold yet: version n
/// of a schema is the event at revision n - 1 of its stream. At open that is every version; after
/// a catch-up, those another writer stored. Nothing is compiled here; each version compiles on
/// first use.
pub(super) fn load_schemas(store: &Store, registry: &SchemaRegistry) -> Result<()> {
    let prefix = schema::SCHEMA_STREAM_PREFIX.as_bytes();
    // The names in the table and those only written behind (none at open or after a
    // catch-up, which are the callers today; this stays right if that changes).
    let (held, rtxn) =
        store.read_with_late(|view| view.range(std::ops::Bound::Included(prefix), prefix, usize::MAX))?;
    let mut names: std::collections::BTreeSet<Vec<u8>> = held.into_iter().map(|(k, _)| k.into()).collect();
    for item in store.streams.prefix_iter(&rtxn, prefix)? {
        names.insert(item?.0.to_vec());
    }
    drop(rtxn);
    let mut streams = Vec::with_capacity(names.len());
    for name in names {
        streams.push(String::from_utf8(name).map_err(|_| format::corrupt("a stream name is not UTF-8"))?);
    }
    for stream in streams {
        let name = &stream[schema::SCHEMA_STREAM_PREFIX.len()..];
        let held = registry.latest_version(name).unwrap_or(0);
        let mut failure = None;
        let from = ReadOptions { from: Some(u64::from(held)), ..ReadOptions::forwards() };
        read::visit_stream(store, &stream, from, &mut |event| {
            let loaded = Schema::from_json(event.data)
                .map_err(|e| Error::Corruption(format!("{stream} revision {}: {e}", event.revision)))
                .and_then(|schema| {
                    if schema.name != name {
                        return Err(Error::Corruption(format!(
                            "{stream} revision {} holds a schema named '{}'",
                            event.revision, schema.name
                        )));
                    }
                    let version = u32::try_from(event.revision + 1)
                        .map_err(|_| format::corrupt("a schema has more than u32::MAX versions"))?;
                    registry.load(version, schema)
                });
            match loaded {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

/// Rebuilds what the writer keeps in memory from the last committed state.
pub(super) fn recover_writer_state(store: &Store) -> Result<WriterState> {
    let rtxn = store.env.read_txn()?;
    let (next_position, last_timestamp) = match store.events.last(&rtxn)? {
        Some((key, value)) => {
            let position = format::decode_u64_key(key)?;
            let record = format::access_event(value)?;
            let next =
                position.checked_add(1).ok_or_else(|| format::corrupt("the last position is u64::MAX"))?;
            (next, record.timestamp.to_native())
        }
        None => (0, 0),
    };
    // Positions are gapless from 0, so the last key and the entry count must agree.
    if store.events.len(&rtxn)? != next_position {
        return Err(Error::Corruption("the global log has a gap: positions are not 0..head".into()));
    }
    let next_stream_id = store
        .meta
        .get(&rtxn, format::META_NEXT_STREAM_ID)?
        .map(format::decode_u64_key)
        .transpose()?
        .ok_or_else(|| Error::Corruption("the store has no stream id counter".into()))?;
    let greatest_id = match store.event_ids.last(&rtxn)? {
        Some((key, _)) => u128::from_be_bytes(
            key.try_into().map_err(|_| format::corrupt("an event id key is not 16 bytes"))?,
        ),
        None => 0,
    };
    Ok(WriterState { next_position, next_stream_id, last_timestamp, greatest_id })
}
