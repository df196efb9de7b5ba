//! The single writer thread and its group commit.
//!
//! Callers queue jobs on a channel. The writer takes everything queued, applies each job in
//! order inside ONE write transaction, commits once (one fsync for the batch), and only then
//! answers the callers, so an acknowledgement always means durable. Each job is checked on
//! its own: every check runs before the job writes anything, so a rejected job leaves no trace
//! and the others in the batch commit. A storage failure (disk full, I/O) aborts the batch;
//! the writer then retries each job in a transaction of its own so one oversized job cannot
//! fail its neighbours.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Select, TryRecvError};
use heed::{PutFlags, RoTxn, RwTxn, WithoutTls};

use super::checkpoint::{self, Checkpoint};
use super::format::{
    self, index_key, u64_key, GroupRecord, Progress, ReplayRecord, SealedLayout, SnapshotRecord, StreamState,
    TargetRecord, INDEX_CHUNK,
};
use super::keys::DataKey;
use super::ops::{Ops, T};
use super::states::{Held, MAX_HELD};
use super::validate::PreparedEvent;
use super::Store;
use crate::commit_log::CommitLog;
use crate::crypto::{self, Key, Nonces, Sealer};
use crate::error::{Error, Result};
use crate::schema::SchemaRegistry;
use crate::types::{
    parked_stream, AppendResult, ExpectedVersion, ReplayInfo, StreamMetadata, SubscriptionStart,
};
use uuid::Uuid;

/// Most jobs applied in one transaction: bounds the latency a batch adds to its last job.
const MAX_BATCH_JOBS: usize = 4096;
/// A checkpoint is taken once this much was logged since the last one, or after
/// `CHECKPOINT_INTERVAL` with anything logged: it bounds the replay at open and the log's size.
pub(crate) const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// Test hooks of the crash tests (core/tests/log.rs, crash.rs): the process aborts once the
/// record of its n-th commit is written to the log, before LMDB commits it; checkpoints come
/// after this many bytes logged instead of `CHECKPOINT_BYTES`.
pub(crate) const CRASH_AFTER_LOG_ENV: &str = "GRAVEYARD_TEST_CRASH_AFTER_LOG";
pub(crate) const CHECKPOINT_BYTES_ENV: &str = "GRAVEYARD_TEST_CHECKPOINT_BYTES";
/// Test hook (core/tests/log.rs): the process aborts once its n-th batch of appends has
/// committed in LMDB, before its record is synced (`commit`).
pub(crate) const CRASH_AFTER_COMMIT_ENV: &str = "GRAVEYARD_TEST_CRASH_AFTER_COMMIT";
/// Test hook (core/tests/log.rs): milliseconds the writer waits between committing a batch in
/// LMDB and waiting for its record to be durable, so a test can read, or queue appends, in that
/// window.
pub(crate) const SETTLE_DELAY_ENV: &str = "GRAVEYARD_TEST_SETTLE_DELAY_MS";
/// Test hook (core/tests/log.rs): the sync of the n-th batch of appends reports a failure (its
/// record was written and synced whole, as when the device's error came after the write).
pub(crate) const FAIL_SETTLE_ENV: &str = "GRAVEYARD_TEST_FAIL_SETTLE";

pub(crate) enum Command {
    Append {
        stream: String,
        expected: ExpectedVersion,
        events: Vec<PreparedEvent>,
    },
    /// An append its events' schemas now refuse, every event with its own id: answered with
    /// the original result when it retries an append that committed (maybe under an earlier
    /// schema version), else refused with `refusal`. Writes nothing either way.
    Retry {
        stream: String,
        expected: ExpectedVersion,
        ids: Vec<Uuid>,
        refusal: Error,
    },
    SetMetadata {
        stream: String,
        metadata: StreamMetadata,
    },
    Delete {
        stream: String,
        expected: ExpectedVersion,
        tombstone: bool,
    },
    SaveSnapshot {
        stream: String,
        revision: u64,
        data: Vec<u8>,
    },
    /// Creates a consumer group; its checkpoint is resolved from `start` against the log as
    /// committed by the jobs before it.
    CreateGroup {
        name: String,
        record: GroupRecord,
        start: SubscriptionStart,
    },
    UpdateGroup {
        name: String,
        record: GroupRecord,
    },
    DeleteGroup {
        name: String,
    },
    /// Persists a group's progress through its target and through the replay of its parked
    /// stream, and appends the copies of the events it parks, in one transaction: a parked
    /// event is never both lost and acknowledged. `seq` orders the group's settles: an older
    /// one never overwrites a newer record (its acknowledgements are in the newer one), but its
    /// parks still land. The end of the replay is not the settles' to change.
    SettleGroup {
        name: String,
        /// The incarnation of the group the dispatcher serves: a settle of a group deleted and
        /// created again since (by another writer of a shared log, which this store caught up
        /// with) is refused, never applied to the new group.
        incarnation: u64,
        seq: u64,
        target: Progress,
        replay: Progress,
        parks: Vec<PreparedEvent>,
    },
    /// Hands the next `limit` (all when `None`) parked events of a group back to it: moves the
    /// end of its replay, and nothing else, so it commutes with the group's settles.
    ReplayParked {
        name: String,
        limit: Option<u64>,
    },
    /// Marks a stream shredded; its data key is destroyed after the commit, before the answer.
    Shred {
        stream: String,
    },
    /// Rewraps every data key under a new master key (in the keyring file, not in LMDB); on
    /// the writer so that no key is created or shredded meanwhile.
    RotateMasterKey {
        key: Arc<Key>,
    },
}

pub(crate) enum Reply {
    Appended(AppendResult),
    Replayed(ReplayInfo),
    /// The stream id whose key must be destroyed before the caller is answered.
    Shredded(u64),
    Done,
}

pub(crate) struct Job {
    pub command: Command,
    pub reply: oneshot::Sender<Answer>,
}

impl Job {
    /// Gives the caller its result, and its request back.
    fn answer(self, result: Result<Reply>) {
        // A caller that stopped waiting (an async call dropped) needs no answer.
        let _ = self.reply.send(Answer { result, spent: self.command });
    }
}

/// What a caller gets back: the result, and its own request, so that the caller's thread frees
/// the request's buffers. Freeing a batch's worth of records was 6% of the writer's time.
pub(crate) struct Answer {
    pub result: Result<Reply>,
    pub spent: Command,
}

/// The refusals of a batch, answered after the writer's lock is released (see `commit_batch`).
#[must_use = "the callers wait for their answers: deliver them"]
#[derive(Default)]
pub(crate) struct Refusals(Vec<(Job, Result<Reply>)>);

impl Refusals {
    pub fn deliver(self) {
        for (job, result) in self.0 {
            job.answer(result);
        }
    }
}

/// What the writer keeps in memory between transactions. Copied before each batch and put
/// back if the batch aborts, so memory never runs ahead of the disk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriterState {
    pub next_position: u64,
    pub next_stream_id: u64,
    pub last_timestamp: i64,
    /// The greatest event id in the id index as far as this writer knows (big-endian, the
    /// index's order); an id above it goes in with APPEND (`Writer::put_id`).
    pub greatest_id: u128,
}

pub(crate) struct Writer {
    pub store: Arc<Store>,
    pub state: WriterState,
    pub jobs: Receiver<Job>,
    pub head: tokio::sync::watch::Sender<u64>,
    pub nonces: Nonces,
    pub durable: Durable,
    /// The writes of the transaction being built.
    pub ops: Ops,
    /// Set while jobs are applied one per transaction after a batch failed: appends then look
    /// every caller-given event id up before writing (see `append`).
    pub alone: bool,
    /// Set when the last commit failed because the commit log could not be reached: no job is
    /// to blame.
    pub log_refused: bool,
    /// The engine's schema registry, which a catch-up brings level with the versions another
    /// writer of a shared log stored.
    pub schemas: Arc<SchemaRegistry>,
    /// Set when the last batch's transaction had nothing to write (so it never met the log).
    pub wrote_nothing: bool,
    /// The stream states the transaction being built wrote, for `Store::late` once it commits.
    pub batch_states: HashMap<Box<[u8]>, Held>,
    /// Set while every write of the transaction being built is one that readers reach only
    /// below a bound the writer moves once the record is durable: events below the head,
    /// a stream's events and index entries below its state's revision, event ids and the stream
    /// id counter (the writer's alone). Stream states (metadata included) never clear it: they
    /// reach readers only when taken into `late`, after the sync. Such a transaction commits in LMDB while its record is
    /// still being written out (`commit`).
    pub bounded: bool,
    /// The ids of events appended without one.
    pub ids: IdClock,
}

/// What makes commits durable: the commit log, and the checkpoints of LMDB behind it.
pub(crate) struct Durable {
    pub dir: PathBuf,
    pub log: Box<dyn CommitLog>,
    pub page_size: usize,
    /// A read transaction on the last checkpoint's commit: LMDB reuses none of its pages while
    /// it is open (see checkpoint.rs).
    pub pin: Option<RoTxn<'static, WithoutTls>>,
    /// Holds the reader slot the next checkpoint's pin will take, so users get exactly the
    /// `max_readers` they asked for, whether a checkpoint is being taken or not. It pins
    /// nothing `pin` does not: it is younger.
    pub reserve: Option<RoTxn<'static, WithoutTls>>,
    /// The checkpoint being taken on a thread of its own, and what was logged when it started.
    pub running: Option<(JoinHandle<Result<Taken>>, u64)>,
    pub logged: u64,
    pub checkpointed: Instant,
    /// Set when the log or LMDB's file is in a state not known for sure (a write or sync of the
    /// log failed, a failed commit's record could not be erased, a sync of LMDB failed):
    /// nothing more is written or checkpointed until the store is reopened, which restores the
    /// last checkpoint and replays what the log holds whole.
    /// Changed only through `stop` and `resumed`, which keep `stopped` in step.
    pub broken: Option<Broken>,
    /// Why the store takes no writes (`broken`'s reason), for `Db::stopped` to read from any
    /// thread.
    pub stopped: Arc<Mutex<Option<String>>>,
    /// Commits left before the crash hook aborts the process.
    pub crash_after: Option<u64>,
    /// Bytes logged that make a checkpoint due.
    pub checkpoint_bytes: u64,
    /// The wait of `SETTLE_DELAY_ENV`.
    pub settle_delay: Option<Duration>,
    /// Batches of appends left before the hook of `CRASH_AFTER_COMMIT_ENV` aborts the process.
    pub crash_after_commit: Option<u64>,
    /// Batches of appends left before the hook of `FAIL_SETTLE_ENV` reports their sync failed.
    pub fail_settle: Option<u64>,
}

impl Drop for Durable {
    fn drop(&mut self) {
        // A checkpoint thread outliving the engine would hold LMDB and rename files in a
        // directory the process no longer locks.
        if let Some((thread, _)) = self.running.take() {
            let _ = thread.join();
        }
    }
}

/// Why a store takes no more writes (`Durable::broken`).
pub(crate) struct Broken {
    why: String,
    /// A log kept elsewhere could not be reached, or a write to it not settled: callers are
    /// told UNAVAILABLE (the store's replicas are elsewhere, try again later) rather than of a
    /// local I/O failure, and the store resumes by itself once a catch-up settles the log.
    unavailable: bool,
    /// When the store last tried to resume: at most once per `RESUME_EVERY`, so that writes
    /// refused while the log is out of reach are refused at once, not each after a wait on it.
    tried: Instant,
}

/// How often a store stopped by a log out of reach tries to settle it and resume.
const RESUME_EVERY: Duration = Duration::from_secs(1);
/// Catch-ups one batch may go through before it is refused: each one means another writer
/// took the log's next record first (two nodes serving the same log at once, for a moment).
const MAX_CATCH_UPS: usize = 8;

impl Broken {
    fn local(why: String) -> Broken {
        Broken { why, unavailable: false, tried: Instant::now() }
    }

    /// `cause` stopped the writes while `doing`.
    fn by(doing: &str, cause: &Error) -> Broken {
        Broken {
            why: format!("{doing} failed: {cause}"),
            unavailable: matches!(cause, Error::Unavailable(_)),
            tried: Instant::now(),
        }
    }

    fn error(&self, now: &str) -> Error {
        let message = format!("{now}: {}", self.why);
        if self.unavailable {
            Error::Unavailable(message)
        } else {
            Error::Io(message)
        }
    }
}

/// A checkpoint taken: the first LSN it does not hold, and the pin of its commit.
pub(crate) type Taken = (u64, RoTxn<'static, WithoutTls>);

impl Durable {
    /// Takes a checkpoint now, waiting for it: at open and at close. Called with no write
    /// transaction open.
    pub(crate) fn checkpoint(&mut self, store: &Store) -> Result<()> {
        if let Some((thread, _)) = self.running.take() {
            // Its outcome does not matter: this one supersedes it.
            let _ = thread.join();
        }
        let (checkpoint, pin) = self.begin(store)?;
        store.env.force_sync()?;
        checkpoint.write(&self.dir)?;
        self.finish(store, (checkpoint.lsn, pin))
    }

    /// The store takes no more writes, for `broken`'s reason.
    fn stop(&mut self, broken: Broken) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(broken.why.clone());
        self.broken = Some(broken);
    }

    /// The store takes writes again (a shared log settled by a catch-up).
    fn resumed(&mut self) {
        if self.broken.take().is_some() {
            *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// What a checkpoint starts from, taken between two commits: the meta pages of the last
    /// commit (in the file already: LMDB writes them before its commit returns) and a pin on
    /// it, taken before the next write transaction can reuse any of its pages.
    fn begin(&mut self, store: &Store) -> Result<(Checkpoint, RoTxn<'static, WithoutTls>)> {
        if let Some(broken) = &self.broken {
            return Err(broken.error("no checkpoint until the store is reopened"));
        }
        // The log's records before the checkpoint must all be on disk for the scan at open to
        // reach it (a store that does not sync each commit syncs them here, so first: whatever
        // fails after this, the log is synced every time a checkpoint is due).
        if let Err(e) = self.log.sync() {
            self.stop(Broken::by("syncing the commit log", &e));
            return Err(e);
        }
        // LMDB must hold every record before the checkpoint's LSN, the stream states written
        // behind included. A failure loses nothing: they stay held, and the log has them.
        store.late.flush(store)?;
        let checkpoint = Checkpoint::take(&self.dir, self.page_size, self.log.next_lsn())?;
        self.reserve = None;
        let pin = store.env.clone().static_read_txn()?;
        self.logged = 0;
        self.checkpointed = Instant::now();
        Ok((checkpoint, pin))
    }

    /// The checkpoint is durable: its pin replaces the previous one, whose pages LMDB may now
    /// reuse, and the log's segments it covers go.
    fn finish(&mut self, store: &Store, (lsn, pin): Taken) -> Result<()> {
        self.pin = Some(pin);
        self.reserve = Some(store.env.clone().static_read_txn()?);
        self.log.release_before(lsn)
    }

    /// Waits for the record last written to the log to be durable.
    fn settle(&mut self) -> Result<()> {
        let settled = self.log.settle();
        if let Some(left) = self.fail_settle.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                // The writer stops the store as for a real failure; the log's own flag, which
                // only a reopen clears too, stays clear.
                return Err(Error::Io("the test hook failed the commit log's sync".into()));
            }
        }
        settled
    }

    /// Between two batches: finishes a checkpoint whose thread is done, and starts one when due.
    /// The sync of LMDB, which writes out every page dirtied since the last checkpoint, runs
    /// on its thread while the writer goes on committing (pages of the checkpoint's commit are
    /// pinned, so no commit overwrites them meanwhile). A failure keeps the previous checkpoint
    /// in force and the log growing, and is tried again: nothing acknowledged depends on it.
    fn tend(&mut self, store: &Store) {
        if self.running.as_ref().is_some_and(|(thread, _)| thread.is_finished()) {
            let (thread, logged) = self.running.take().expect("checked");
            match thread.join() {
                Ok(Ok(taken)) => {
                    if self.finish(store, taken).is_err() {
                        self.logged += logged;
                    }
                }
                // A failed sync of LMDB may have lost pages a later sync would then report as
                // written: no checkpoint may rely on LMDB's file until the store is reopened
                // (the log holds everything since the last checkpoint).
                Ok(Err(e)) => self.stop(Broken::local(format!("syncing LMDB for a checkpoint failed: {e}"))),
                Err(_) => self.logged += logged.max(self.checkpoint_bytes),
            }
        }
        if self.broken.is_some() {
            return;
        }
        let due = self.logged >= self.checkpoint_bytes
            || (self.logged > 0 && self.checkpointed.elapsed() >= CHECKPOINT_INTERVAL);
        if !due || self.running.is_some() {
            return;
        }
        let logged = self.logged;
        let Ok((checkpoint, pin)) = self.begin(store) else {
            self.logged = logged;
            return;
        };
        let (env, dir) = (store.env.clone(), self.dir.clone());
        let thread = std::thread::Builder::new().name("graveyard-checkpoint".into()).spawn(
            move || -> Result<Taken> {
                checkpoint::write_back_paced(&dir)?;
                env.force_sync()?;
                checkpoint.write(&dir)?;
                Ok((checkpoint.lsn, pin))
            },
        );
        match thread {
            Ok(thread) => self.running = Some((thread, logged)),
            Err(_) => self.logged = logged,
        }
    }
}

/// Why a job failed: a rejection (nothing written, the batch goes on) or a storage failure
/// (the transaction is unusable).
enum Failure {
    Rejected(Error),
    Storage(Error),
}

impl From<heed::Error> for Failure {
    fn from(e: heed::Error) -> Self {
        Failure::Storage(e.into())
    }
}

type JobResult<T> = std::result::Result<T, Failure>;

fn reject<T>(e: Error) -> JobResult<T> {
    Err(Failure::Rejected(e))
}

impl Writer {
    /// The writer thread: commits what callers queue, in batches. It takes the writer's state
    /// only once jobs are waiting, and leaves them in the queue until it holds it, so a
    /// synchronous caller that commits on its own thread meanwhile (`lead`) takes them first,
    /// in call order.
    pub fn run(shared: &Mutex<Writer>) {
        let lock = || shared.lock().unwrap_or_else(|p| p.into_inner());
        let jobs = lock().jobs.clone();
        let mut batch: Vec<Job> = Vec::with_capacity(64);
        let mut select = Select::new();
        select.recv(&jobs);
        loop {
            select.ready();
            let mut writer = lock();
            let closed = writer.take_queued(&mut batch);
            let mut refusals = Refusals::default();
            if !batch.is_empty() {
                refusals = writer.commit_batch(&mut batch);
            }
            drop(writer);
            refusals.deliver();
            // The loop ends when every sender is gone: the engine is closing. Jobs already
            // queued were still applied, so a close never drops an accepted write.
            if closed && batch.is_empty() {
                // Closing: the next open then has nothing to replay.
                let mut writer = lock();
                let store = writer.store.clone();
                if writer.durable.logged > 0 || writer.durable.running.is_some() {
                    let _ = writer.durable.checkpoint(&store);
                }
                return;
            }
        }
    }

    /// Commits the jobs queued before `job`, then `job`, on the caller's thread.
    pub fn lead(&mut self, job: Job) -> Refusals {
        let mut batch = Vec::with_capacity(8);
        self.take_queued(&mut batch);
        batch.push(job);
        self.commit_batch(&mut batch)
    }

    /// Moves queued jobs into `batch`, up to a batch's size; true when the queue is closed and
    /// empty.
    fn take_queued(&mut self, batch: &mut Vec<Job>) -> bool {
        while batch.len() < MAX_BATCH_JOBS {
            match self.jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return batch.is_empty(),
            }
        }
        false
    }

    /// Commits the batch and answers its callers, all but those refused for their expected
    /// version (WRONG_EXPECTED_VERSION), whose answers are left to be delivered once the
    /// writer's lock is released. Such a caller usually reads again and retries, and of callers racing
    /// on one stream only one retry can win: the first can then commit at once instead of
    /// waiting for the others to be woken (a futex wake and a context switch each): 64
    /// threads racing on one stream made 3.2-3.8k successful appends/s, against 2.1-2.4k with
    /// every answer under the lock (bench race-64, five runs of each build alternated). The
    /// other answers stay under the lock: their callers' next appends then form one batch,
    /// where a first caller committing alone would split it in two commits rewriting the
    /// same pages (append-64: 75k appends/s with every answer after the lock, 95k under it).
    fn commit_batch(&mut self, batch: &mut Vec<Job>) -> Refusals {
        let mut refusals = Refusals::default();
        self.process(batch, &mut refusals);
        self.tend();
        refusals
    }

    /// Answers a job: after the lock when it was refused for its expected version, else at
    /// once.
    fn answer(job: Job, result: Result<Reply>, refusals: &mut Refusals) {
        if matches!(&result, Err(Error::WrongExpectedVersion { .. })) {
            refusals.0.push((job, result));
        } else {
            job.answer(result);
        }
    }

    /// Finishes or starts a checkpoint, when one is due.
    pub(crate) fn tend(&mut self) {
        let store = self.store.clone();
        let held = store.late.len();
        if held >= MAX_HELD && self.durable.broken.is_none() {
            // Memory is bounded. A failure is tried again after the next batch (the states stay
            // held and readable meanwhile), until twice the bound: then writes stop, as for any
            // failure that keeps the store from keeping LMDB level with its log.
            if let Err(e) = store.late.flush(&store) {
                if held >= 2 * MAX_HELD {
                    self.durable.stop(Broken::by("writing the stream states held to LMDB", &e));
                }
            }
        }
        self.durable.tend(&store);
    }

    fn process(&mut self, batch: &mut Vec<Job>, refusals: &mut Refusals) {
        if let Err(error) = self.resume() {
            for job in batch.drain(..) {
                job.answer(Err(error.clone_storage()));
            }
            return;
        }
        let mut outcome = self.apply_batch(batch);
        // Another writer took the log's next record (a node serving this log while the one
        // it belongs to was thought down): nothing of the batch was applied. Its records are
        // applied, then every job is checked again against the history as it now is, so an
        // expected version is never judged on a stale head. A batch that wrote nothing (every
        // job refused, or a retry recognised) never met the log, so nothing told it whether
        // another writer went ahead: on a shared log its answers are checked the same way.
        let mut rounds = 0;
        while rounds < MAX_CATCH_UPS {
            let behind = outcome.is_err() && self.durable.log.behind();
            let unchecked = outcome.is_ok() && self.wrote_nothing && self.durable.log.shared();
            if !behind && !unchecked {
                break;
            }
            rounds += 1;
            match self.catch_up() {
                Ok(0) if unchecked => break,
                Ok(_) => outcome = self.apply_batch(batch),
                Err(e) => {
                    // The log is out of reach: no job is to blame, and none is tried alone.
                    self.log_refused = true;
                    outcome = Err(e);
                    break;
                }
            }
        }
        match outcome {
            Ok(mut results) => {
                self.destroy_keys(&mut results);
                // The head moves before anyone is told, so a caller that saw its append
                // acknowledged also sees the head past it.
                self.publish();
                for (job, result) in batch.drain(..).zip(results) {
                    Self::answer(job, result, refusals);
                }
            }
            // A failure of the log (one that stops writes, or a log that cannot be reached) is
            // no job's: every job gets its cause, rather than each one trying again alone.
            Err(_)
                if !self.log_refused && self.durable.broken.is_none() && (batch.len() > 1 || !self.alone) =>
            {
                // Find out which job the storage failure belongs to: one transaction each,
                // with every id looked up (a stored id the batch skipped looking up fails its
                // put, and must be answered as a retry or refused, not reported as a failure).
                let was = std::mem::replace(&mut self.alone, true);
                for job in batch.drain(..) {
                    let mut single = vec![job];
                    self.process(&mut single, refusals);
                }
                self.alone = was;
            }
            Err(e) => {
                for job in batch.drain(..) {
                    job.answer(Err(e.clone_storage()));
                }
            }
        }
    }

    /// After the commit that marked them shredded: destroys the streams' data keys in the
    /// keyring, then drops their pending-shred entries. A shred is answered only once its key
    /// is gone; if destroying fails, the caller gets the error and the next open finishes it.
    fn destroy_keys(&mut self, results: &mut [Result<Reply>]) {
        let ids: Vec<u64> = results
            .iter()
            .filter_map(|r| if let Ok(Reply::Shredded(id)) = r { Some(*id) } else { None })
            .collect();
        if ids.is_empty() {
            return;
        }
        let store = self.store.clone();
        let destroyed = match &store.keyring {
            Some(keyring) => keyring.shred(&ids),
            None => Err(Error::Internal("a shred reached a store without a keyring".into())),
        }
        .and_then(|()| {
            self.ops.clear();
            let mut txn = store.env.write_txn()?;
            for id in &ids {
                self.remove(&mut txn, T::PendingShreds, &u64_key(*id))?;
            }
            self.commit(txn)
        });
        for result in results.iter_mut() {
            if matches!(result, Ok(Reply::Shredded(_))) {
                *result = match &destroyed {
                    Ok(()) => Ok(Reply::Done),
                    Err(e) => Err(e.clone_storage()),
                };
            }
        }
    }

    /// Before a batch: nothing when the store takes writes; when a log kept elsewhere stopped
    /// them (out of reach, or a write left unsettled), an attempt to settle it and resume, at
    /// most once per `RESUME_EVERY`; else the error every job of the batch gets.
    fn resume(&mut self) -> Result<()> {
        let shared = self.durable.log.shared();
        let Some(broken) = &mut self.durable.broken else { return Ok(()) };
        if !broken.unavailable || !shared {
            return Err(broken.error("the store must be reopened"));
        }
        let stopped = broken.error("no writes until the commit log is back");
        if broken.tried.elapsed() < RESUME_EVERY {
            return Err(stopped);
        }
        let caught = self.catch_up();
        // From the end of this attempt: a log that answers only after a timeout is not waited on
        // by every batch.
        if let Some(broken) = &mut self.durable.broken {
            broken.tried = Instant::now();
        }
        match caught {
            Ok(_) => Ok(()),
            Err(e) => Err(match e {
                Error::Unavailable(why) => Error::Unavailable(format!("{stopped}; still: {why}")),
                other => other,
            }),
        }
    }

    /// Applies the records other writers appended to a shared commit log since this store's
    /// last one, in one LMDB transaction, and rebuilds what the writer and the engine keep in
    /// memory from them: the head, the stream id counter, the schema versions. Settles a log
    /// left failed by a write out of reach (the record in doubt is read back as it is for
    /// good), after which the store takes writes again. Returns how many records were applied.
    pub(crate) fn catch_up(&mut self) -> Result<u64> {
        if !self.durable.log.shared() {
            return Ok(0);
        }
        if let Some(broken) = self.durable.broken.as_ref().filter(|b| !b.unavailable) {
            return Err(broken.error("the store must be reopened"));
        }
        let store = self.store.clone();
        let mut txn = store.env.write_txn()?;
        // The states written behind go to the table first: the records replayed may hold newer
        // ones, which the states held would otherwise hide.
        store.late.write_into(&store, &mut txn)?;
        let mut bytes = 0u64;
        let caught = self.durable.log.catch_up(&mut |lsn, record| {
            bytes += record.len() as u64;
            super::ops::replay(&store, &mut txn, lsn, record)
        });
        let count = match caught {
            Ok(count) => count,
            Err(e) => {
                txn.abort();
                return Err(e);
            }
        };
        if let Err(e) = store.late.commit_flushed(|| txn.commit()) {
            // The log moved past records LMDB does not hold: only a reopen replays them.
            self.durable.stop(Broken::local(format!("applying records of the commit log failed: {e}")));
            return Err(e.into());
        }
        self.durable.resumed();
        self.durable.logged += bytes;
        if count > 0 {
            self.state = super::recover_writer_state(&store)?;
            self.ids.carry_on(self.state.greatest_id, self.state.last_timestamp.max(now_micros()));
            self.publish();
            super::load_schemas(&store, &self.schemas)?;
        }
        Ok(count)
    }

    fn publish(&self) {
        let head = self.state.next_position;
        self.head.send_if_modified(|h| {
            let changed = *h != head;
            *h = head;
            changed
        });
    }

    /// Applies every job in one transaction and commits. `Err` means nothing was committed
    /// and the in-memory state is as before.
    fn apply_batch(&mut self, batch: &mut [Job]) -> Result<Vec<Result<Reply>>> {
        self.log_refused = false;
        let saved = self.state;
        let store = self.store.clone();
        // A panic here (a bug, or a corrupt record that slips past the checks) must not kill
        // the writer and with it every later write: the transaction is dropped (aborted) while
        // unwinding, the batch fails with INTERNAL, and the writer goes on.
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply_batch_inner(&store, batch)))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(Error::Internal(format!("the writer failed applying a batch: {what}")))
                })
                .and_then(|(txn, results)| self.commit(txn).map(|()| results));
        if outcome.is_err() {
            self.state = saved;
            self.batch_states.clear();
        }
        outcome
    }

    /// Applies the batch's jobs in a transaction, left for `commit`.
    fn apply_batch_inner<'s>(
        &mut self,
        store: &'s Store,
        batch: &mut [Job],
    ) -> Result<(RwTxn<'s>, Vec<Result<Reply>>)> {
        self.ops.clear();
        self.batch_states.clear();
        self.bounded = true;
        let outcome = (|| {
            let mut txn = store.env.write_txn()?;
            let mut results = Vec::with_capacity(batch.len());
            for job in batch.iter_mut() {
                match self.apply(&mut txn, &mut job.command) {
                    Ok(reply) => results.push(Ok(reply)),
                    Err(Failure::Rejected(e)) => results.push(Err(e)),
                    Err(Failure::Storage(e)) => return Err(e),
                }
            }
            // Data keys made for this batch are durable before the events they seal.
            if let Some(keyring) = &store.keyring {
                keyring.sync()?;
            }
            Ok((txn, results))
        })();
        outcome
    }

    /// Makes the transaction's writes durable in the log and commits it in LMDB (no sync of
    /// its own), then shows them to readers: an acknowledged write is visible at once, a
    /// visible one is durable.
    fn commit(&mut self, txn: RwTxn) -> Result<()> {
        self.wrote_nothing = self.ops.is_empty();
        if self.ops.is_empty() {
            // Every job was refused: nothing to write.
            txn.abort();
            return Ok(());
        }
        // Not on a log others write: a catch-up there rebuilds the writer's state from LMDB,
        // which must then hold nothing the log may lack.
        if self.bounded && !self.durable.log.shared() {
            self.commit_early(txn)
        } else {
            self.commit_synced(txn)
        }
    }

    /// Commits in LMDB once the record is durable, and takes the transaction's stream states
    /// in under the same lock: readers see its writes at once.
    fn commit_synced(&mut self, txn: RwTxn) -> Result<()> {
        let logged = self.durable.log.append(self.ops.bytes());
        let lsn = self.logged(logged)?;
        let committed = self.store.late.commit(|| txn.commit(), &mut self.batch_states);
        self.committed(lsn, committed)
    }

    /// A transaction of `bounded` writes commits in LMDB while the device writes its record
    /// out, and the stream states it wrote are taken in (which, with the head published after
    /// this, shows it) once the record is durable: the commit's work hides behind the sync
    /// instead of adding to it.
    fn commit_early(&mut self, txn: RwTxn) -> Result<()> {
        let written = self.durable.log.write(self.ops.bytes());
        let lsn = self.logged(written)?;
        self.committed(lsn, txn.commit())?;
        if let Some(left) = self.durable.crash_after_commit.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                std::process::abort();
            }
        }
        if let Some(delay) = self.durable.settle_delay {
            std::thread::sleep(delay);
        }
        if let Err(e) = self.durable.settle() {
            // LMDB holds writes no reader is shown (their states are not taken in, the head
            // does not move) and that may not be in the log: nothing more is written until a
            // reopen puts LMDB back at its last checkpoint and replays what the log holds.
            // Local whatever the error: only a reopen, never a catch-up, may resume writes.
            self.durable.stop(Broken::local(format!("syncing the commit log failed: {e}")));
            return Err(e);
        }
        self.store.late.take_in(&mut self.batch_states);
        Ok(())
    }

    /// The LSN of the record just written to the log, or what its failure means.
    fn logged(&mut self, logged: Result<u64>) -> Result<u64> {
        let lsn = match logged {
            Ok(lsn) => lsn,
            Err(e) => {
                // Unreachable (a log kept elsewhere): applying the jobs one by one would only
                // wait on it again for each. Other refusals (a record too large) may be the
                // batch's size alone, and are tried again job by job.
                self.log_refused = matches!(e, Error::Unavailable(_));
                if self.durable.log.failed() {
                    self.durable.stop(Broken::by("writing the commit log", &e));
                }
                return Err(e);
            }
        };
        self.durable.logged += self.ops.bytes().len() as u64;
        if let Some(left) = self.durable.crash_after.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                std::process::abort();
            }
        }
        Ok(lsn)
    }

    /// The outcome of LMDB's commit of the record at `lsn`: a failed one's record is erased.
    fn committed(&mut self, lsn: u64, committed: heed::Result<()>) -> Result<()> {
        if let Err(e) = committed {
            // The writes after this one are made without it, so it must never be replayed.
            if let Err(undo) = self.durable.log.undo_last(lsn) {
                self.durable.stop(Broken::local(format!(
                    "a commit failed ({e}) and its record could not be erased from the commit log ({undo})"
                )));
            }
            return Err(e.into());
        }
        Ok(())
    }

    fn apply(&mut self, txn: &mut RwTxn, command: &mut Command) -> JobResult<Reply> {
        match command {
            Command::Append { stream, expected, events } => {
                self.append(txn, stream, *expected, events).map(Reply::Appended)
            }
            Command::Retry { stream, expected, ids, refusal } => {
                let state = self.stream_state(txn, stream).map_err(Failure::Storage)?;
                let mut positions = Vec::with_capacity(ids.len());
                for id in ids.iter() {
                    match self.store.event_ids.get(txn, id.as_bytes())? {
                        Some(key) => positions.push(format::decode_u64_key(key).map_err(Failure::Storage)?),
                        None => break,
                    }
                }
                if let Some(state) = state.filter(|s| !s.tombstoned && positions.len() == ids.len()) {
                    if let Some(original) = self.original_append(txn, &state, *expected, &positions)? {
                        return Ok(Reply::Appended(original));
                    }
                }
                reject(refusal.clone())
            }
            Command::SetMetadata { stream, metadata } => {
                let mut state = match self.stream_state(txn, stream).map_err(Failure::Storage)? {
                    Some(s) if s.tombstoned => {
                        return reject(Error::StreamDeleted { stream: stream.clone() })
                    }
                    Some(s) => s,
                    None => self.new_stream(txn)?,
                };
                state.set_metadata(metadata);
                self.put_state(stream, &state)?;
                Ok(Reply::Done)
            }
            Command::Delete { stream, expected, tombstone } => {
                self.delete(txn, stream, *expected, *tombstone).map(|()| Reply::Done)
            }
            Command::SaveSnapshot { stream, revision, data } => {
                self.save_snapshot(txn, stream, *revision, data).map(|()| Reply::Done)
            }
            Command::CreateGroup { name, record, start } => {
                if self.store.groups.get(txn, name.as_bytes())?.is_some() {
                    return reject(Error::InvalidArgument(format!("consumer group '{name}' already exists")));
                }
                let mut record = record.clone();
                let end = match &record.target {
                    TargetRecord::All { .. } => self.state.next_position,
                    TargetRecord::Stream { stream } => self.stream_end(txn, stream)?,
                };
                record.progress.checkpoint = match start {
                    SubscriptionStart::Start => 0,
                    SubscriptionStart::End => end,
                    SubscriptionStart::After(cursor) => cursor.saturating_add(1),
                };
                // Copies left in the parked stream by a deleted group of the same name are
                // history, not this group's to replay.
                record.replay = ReplayRecord::starting_at(self.stream_end(txn, &parked_stream(name))?);
                self.put_group(txn, name, &record)?;
                Ok(Reply::Done)
            }
            Command::UpdateGroup { name, record } => {
                let Some(mut stored) = self.group(txn, name)? else {
                    return reject(Error::NotFound(format!("consumer group '{name}' does not exist")));
                };
                if stored.target != record.target {
                    return reject(Error::InvalidArgument(format!(
                        "consumer group '{name}': the target cannot change; delete and create the group"
                    )));
                }
                stored.settings = record.settings.clone();
                self.put_group(txn, name, &stored)?;
                Ok(Reply::Done)
            }
            Command::DeleteGroup { name } => {
                if !self.remove(txn, T::Groups, name.as_bytes())? {
                    return reject(Error::NotFound(format!("consumer group '{name}' does not exist")));
                }
                Ok(Reply::Done)
            }
            Command::SettleGroup { name, incarnation, seq, target, replay, parks } => {
                let Some(mut stored) = self.group(txn, name)? else {
                    return reject(Error::NotFound(format!("consumer group '{name}' does not exist")));
                };
                if stored.incarnation != *incarnation {
                    return reject(Error::NotFound(format!(
                        "consumer group '{name}' was deleted and created again: this session's group no longer exists"
                    )));
                }
                // Checks first, then writes: the parks go to the group's own system stream.
                if !parks.is_empty() {
                    self.append(txn, &parked_stream(name), ExpectedVersion::Any, parks)?;
                }
                if *seq > stored.seq {
                    stored.seq = *seq;
                    // Cloned, not taken: after a storage failure the writer applies the job
                    // again, alone.
                    stored.progress = target.clone();
                    stored.replay.progress = replay.clone();
                    self.put_group(txn, name, &stored)?;
                }
                Ok(Reply::Done)
            }
            Command::ReplayParked { name, limit } => {
                let Some(mut stored) = self.group(txn, name)? else {
                    return reject(Error::NotFound(format!("consumer group '{name}' does not exist")));
                };
                let parked_end = self.stream_end(txn, &parked_stream(name))?;
                let from = stored.replay.end;
                let to =
                    limit.map_or(parked_end, |limit| from.saturating_add(limit).min(parked_end)).max(from);
                if to > from {
                    stored.replay.end = to;
                    self.put_group(txn, name, &stored)?;
                }
                Ok(Reply::Replayed(ReplayInfo {
                    revisions: from..to,
                    parked: parked_end.saturating_sub(to),
                    replaying: stored.replay.replaying(),
                }))
            }
            Command::Shred { stream } => self.shred(txn, stream),
            Command::RotateMasterKey { key } => match &self.store.keyring {
                Some(keyring) => keyring.rotate(key).map(|()| Reply::Done).map_err(Failure::Rejected),
                None => reject(not_encrypted()),
            },
        }
    }

    fn append(
        &mut self,
        txn: &mut RwTxn,
        stream: &str,
        expected: ExpectedVersion,
        events: &mut [PreparedEvent],
    ) -> JobResult<AppendResult> {
        let store = self.store.clone();
        let existing = self.stream_state(txn, stream).map_err(Failure::Storage)?;
        if existing.is_some_and(|s| s.tombstoned) {
            return reject(Error::StreamDeleted { stream: stream.to_string() });
        }
        // No silent revival under a new key: a shredded stream takes nothing more.
        if existing.is_some_and(|s| s.shredded) {
            return reject(Error::StreamDeleted { stream: stream.to_string() });
        }

        let current = existing.map(|s| s.current()).unwrap_or(crate::types::CurrentRevision::NoStream);
        // An append whose exact expectation holds is no retry of one that committed: that one
        // would have moved the stream past it. Its ids are then new unless reused, and a reused
        // one fails its NO_OVERWRITE put below, which sends the job through again alone, with
        // every lookup. So the common case costs no B-tree search per event id.
        let ids_are_new = !self.alone
            && matches!(expected, ExpectedVersion::Exact(_) | ExpectedVersion::NoStream)
            && current.satisfies(expected);

        // Ids already stored: either this append is a retry of one that committed (answer it
        // as before, write nothing) or the ids are reused elsewhere (refused).
        let mut stored = Vec::with_capacity(events.len());
        for event in events.iter() {
            // A generated id cannot be stored already: skip the lookup (one B-tree search).
            if event.generated || ids_are_new {
                stored.push(Ok(None));
                continue;
            }
            stored
                .push(store.event_ids.get(txn, event.id.as_bytes())?.map(format::decode_u64_key).transpose());
        }
        let stored: Vec<Option<u64>> = stored.into_iter().collect::<Result<_>>().map_err(Failure::Storage)?;
        if let (Some(state), true) = (existing, stored.iter().all(Option::is_some)) {
            let positions: Vec<u64> = stored.iter().flatten().copied().collect();
            if let Some(original) = self.original_append(txn, &state, expected, &positions)? {
                return Ok(original);
            }
        }

        if !current.satisfies(expected) {
            return reject(Error::WrongExpectedVersion {
                stream: stream.to_string(),
                expected,
                actual: current,
            });
        }
        if let Some(index) = stored.iter().position(Option::is_some) {
            return reject(Error::InvalidArgument(format!(
                "event {index}: id {} is already stored in the log (event ids are unique)",
                events[index].id
            )));
        }

        // Every check passed: from here on only storage can fail.
        let mut state = match existing {
            Some(state) => state,
            None => self.new_stream(txn)?,
        };
        let first_revision = state.next_revision;
        let first_position = self.state.next_position;
        // One commit time for the whole append.
        let timestamp = self.next_timestamp();
        let own_key = match &store.keyring {
            Some(keyring) => match keyring.get_or_create(state.id).map_err(Failure::Storage)? {
                // The keyring says shredded where LMDB does not (a machine crash lost the
                // shred's commit under NoFsyncUnsafe): never write data that would vanish.
                DataKey::Shredded => return reject(Error::StreamDeleted { stream: stream.to_string() }),
                live => Some(live),
            },
            None => None,
        };
        for event in events.iter_mut() {
            let position = self.state.next_position;
            let revision = state.next_revision;
            format::place_event(&mut event.record, state.id, revision, state.last_position, timestamp);
            let position_key = u64_key(position);
            if event.generated {
                self.put_made_up_id(txn, event, timestamp, &position_key)?;
            } else {
                self.put_id(txn, &event.id, &position_key)?;
            }
            if let Some(range) = event.seal_at.clone() {
                let field = &mut event.record[range];
                // Sealed by an attempt that did not commit (a storage failure, then this job
                // alone): back to plaintext first, or it would be sealed twice.
                if let Some((sealer, aad)) = event.sealed_with.take() {
                    sealer
                        .unseal_field(&aad, &mut field[SealedLayout::KEY_ID..])
                        .map_err(Failure::Storage)?;
                }
                let key = match &event.key_owner {
                    None => (state.id, own_key.clone()),
                    Some(owner) => self.owner_key(txn, owner)?,
                };
                let aad = crypto::event_aad(state.id, revision, position);
                event.sealed_with = self.seal_event(field, key, &aad)?.map(|sealer| (sealer, aad));
            }
            // APPEND: positions only grow, so LMDB can skip the search and fill pages fully.
            self.put(txn, T::Events, PutFlags::APPEND, &position_key, &event.record)?;
            if revision % INDEX_CHUNK == INDEX_CHUNK - 1 {
                let key = index_key(state.id, revision / INDEX_CHUNK);
                self.put(txn, T::StreamIndex, PutFlags::empty(), &key, &position_key)?;
            }
            let overflow = || Failure::Storage(format::corrupt("a position or revision would pass u64::MAX"));
            self.state.next_position = position.checked_add(1).ok_or_else(overflow)?;
            state.next_revision = revision.checked_add(1).ok_or_else(overflow)?;
            state.last_position = position;
        }
        state.deleted = false;
        self.put_state(stream, &state)?;
        Ok(AppendResult {
            first_revision,
            last_revision: state.next_revision - 1,
            first_position,
            last_position: self.state.next_position - 1,
        })
    }

    /// The data key of the stream a parked copy came from (`None` when it was shredded since).
    fn owner_key(&self, txn: &RwTxn, owner: &str) -> JobResult<(u64, Option<DataKey>)> {
        let Some(state) = self.stream_state(txn, owner).map_err(Failure::Storage)? else {
            return reject(Error::Internal(format!(
                "a parked copy comes from stream '{owner}', which does not exist"
            )));
        };
        let keyring = self.store.keyring.as_ref().expect("sealed events only in stores with a keyring");
        let key = if state.shredded {
            None
        } else {
            Some(keyring.get_or_create(state.id).map_err(Failure::Storage)?)
        };
        Ok((state.id, key))
    }

    /// Seals an event's field in place (see `format::SealedLayout`) under `key`, the data key
    /// of stream `key.0`. With no key (its stream was shredded), the plaintext is wiped and the
    /// event reads back shredded.
    /// Returns the sealer used, if any.
    fn seal_event(
        &mut self,
        field: &mut [u8],
        key: (u64, Option<DataKey>),
        aad: &[u8],
    ) -> JobResult<Option<Arc<Sealer>>> {
        let (key_id, key) = key;
        field[..SealedLayout::KEY_ID].copy_from_slice(&key_id.to_le_bytes());
        let body = &mut field[SealedLayout::KEY_ID..];
        match key {
            Some(DataKey::Live(sealer)) => {
                let nonce = self.nonces.next().map_err(Failure::Storage)?;
                sealer.seal_field(nonce, aad, body).map_err(Failure::Storage)?;
                Ok(Some(sealer))
            }
            Some(DataKey::Shredded) | None => {
                body.fill(0);
                Ok(None)
            }
        }
    }

    /// The result of the earlier append that stored exactly these events, if `positions` (the
    /// stored places of the request's ids, in request order) are consecutive revisions of this
    /// stream starting where `expected` says.
    fn original_append(
        &self,
        txn: &RwTxn,
        state: &StreamState,
        expected: ExpectedVersion,
        positions: &[u64],
    ) -> JobResult<Option<AppendResult>> {
        let mut first_revision = None;
        for (i, &position) in positions.iter().enumerate() {
            let Some(bytes) = self.store.events.get(txn, &u64_key(position))? else {
                return Err(Failure::Storage(format::corrupt("an event id points to a missing event")));
            };
            let record = format::access_event(bytes).map_err(Failure::Storage)?;
            let revision = record.revision.to_native();
            if record.stream_id.to_native() != state.id {
                return Ok(None);
            }
            let first = *first_revision.get_or_insert(revision);
            // Consecutive revisions of this stream, in request order. Positions need not be
            // consecutive: other streams may have written between two earlier appends that a
            // client retries together.
            if first.checked_add(i as u64) != Some(revision) {
                return Ok(None);
            }
        }
        let first_revision = first_revision.unwrap_or(0);
        if let ExpectedVersion::Exact(n) = expected {
            if n.checked_add(1) != Some(first_revision) {
                return Ok(None);
            }
        }
        Ok(Some(AppendResult {
            first_revision,
            last_revision: first_revision.saturating_add(positions.len() as u64 - 1),
            first_position: positions[0],
            last_position: positions[positions.len() - 1],
        }))
    }

    fn delete(
        &mut self,
        txn: &mut RwTxn,
        stream: &str,
        expected: ExpectedVersion,
        tombstone: bool,
    ) -> JobResult<()> {
        let existing = self.stream_state(txn, stream).map_err(Failure::Storage)?;
        let mut state = match existing {
            Some(s) if s.tombstoned => return reject(Error::StreamDeleted { stream: stream.to_string() }),
            Some(s) => s,
            None if tombstone => StreamState::new(0), // given an id below, once checks pass
            None => return reject(Error::NotFound(format!("stream '{stream}' does not exist"))),
        };
        let current = state.current();
        if !current.satisfies(expected) {
            return reject(Error::WrongExpectedVersion {
                stream: stream.to_string(),
                expected,
                actual: current,
            });
        }
        if existing.is_none() {
            state = self.new_stream(txn)?;
        }
        if tombstone {
            state.tombstoned = true;
        } else {
            state.deleted = true;
            state.deleted_before = state.next_revision;
        }
        self.remove(txn, T::Snapshots, &u64_key(state.id))?;
        self.put_state(stream, &state)
    }

    fn save_snapshot(&mut self, txn: &mut RwTxn, stream: &str, revision: u64, data: &[u8]) -> JobResult<()> {
        let state = match self.stream_state(txn, stream).map_err(Failure::Storage)? {
            Some(s) if s.tombstoned || s.shredded => {
                return reject(Error::StreamDeleted { stream: stream.to_string() })
            }
            Some(s) => s,
            None => return reject(Error::NotFound(format!("stream '{stream}' does not exist"))),
        };
        if revision < state.first_visible() || revision >= state.next_revision {
            return reject(Error::NotFound(format!("stream '{stream}' has no visible revision {revision}")));
        }
        let data = match &self.store.keyring {
            None => data.to_vec(),
            Some(keyring) => match keyring.get_or_create(state.id).map_err(Failure::Storage)? {
                DataKey::Live(sealer) => {
                    sealer.seal(&crypto::snapshot_aad(state.id, revision), data).map_err(Failure::Storage)?
                }
                DataKey::Shredded => return reject(Error::StreamDeleted { stream: stream.to_string() }),
            },
        };
        let record = SnapshotRecord { revision, timestamp: self.next_timestamp(), data };
        let bytes = format::encode(&record).map_err(Failure::Storage)?;
        self.put(txn, T::Snapshots, PutFlags::empty(), &u64_key(state.id), &bytes)?;
        Ok(())
    }

    fn shred(&mut self, txn: &mut RwTxn, stream: &str) -> JobResult<Reply> {
        if self.store.keyring.is_none() {
            return reject(not_encrypted());
        }
        let Some(mut state) = self.stream_state(txn, stream).map_err(Failure::Storage)? else {
            return reject(Error::NotFound(format!("stream '{stream}' does not exist")));
        };
        if !state.shredded {
            state.shredded = true;
            self.put_state(stream, &state)?;
            // Unreadable from now on anyway; gone rather than left as ciphertext.
            self.remove(txn, T::Snapshots, &u64_key(state.id))?;
        }
        // Also when shredded already: the key is destroyed again (a no-op if it is gone),
        // which finishes a shred whose key destruction failed.
        self.put(txn, T::PendingShreds, PutFlags::empty(), &u64_key(state.id), &[])?;
        Ok(Reply::Shredded(state.id))
    }

    fn group(&self, txn: &RwTxn, name: &str) -> JobResult<Option<GroupRecord>> {
        match self.store.groups.get(txn, name.as_bytes())? {
            Some(bytes) => GroupRecord::decode(bytes).map(Some).map_err(Failure::Storage),
            None => Ok(None),
        }
    }

    /// The next revision of `stream` as of this transaction: 0 when it was never written.
    fn stream_end(&self, txn: &RwTxn, stream: &str) -> JobResult<u64> {
        Ok(self.stream_state(txn, stream).map_err(Failure::Storage)?.map_or(0, |s| s.next_revision))
    }

    fn put_group(&mut self, txn: &mut RwTxn, name: &str, record: &GroupRecord) -> JobResult<()> {
        self.put(txn, T::Groups, PutFlags::empty(), name.as_bytes(), &record.encode())?;
        Ok(())
    }

    fn new_stream(&mut self, txn: &mut RwTxn) -> JobResult<StreamState> {
        let id = self.state.next_stream_id;
        self.state.next_stream_id =
            id.checked_add(1).ok_or_else(|| Failure::Storage(format::corrupt("stream ids are exhausted")))?;
        let next = self.state.next_stream_id.to_be_bytes();
        self.put(txn, T::Meta, PutFlags::empty(), format::META_NEXT_STREAM_ID, &next)?;
        Ok(StreamState::new(id))
    }

    /// Logs the stream's new state, and keeps it for `Store::late` rather than writing it to the
    /// `streams` table (states.rs).
    fn put_state(&mut self, stream: &str, state: &StreamState) -> JobResult<()> {
        let bytes = format::encode(state).map_err(Failure::Storage)?;
        self.ops.put(T::Streams, stream.as_bytes(), &bytes);
        self.batch_states.insert(stream.as_bytes().into(), (*state, Box::from(&bytes[..])));
        Ok(())
    }

    /// The newest state of `stream`: as this transaction wrote it, else as committed (written
    /// behind, else in the table).
    fn stream_state(&self, txn: &RwTxn, stream: &str) -> Result<Option<StreamState>> {
        let name = stream.as_bytes();
        if let Some((state, _)) = self.batch_states.get(name) {
            return Ok(Some(*state));
        }
        match self.store.late.get(name) {
            Some(state) => Ok(Some(state)),
            None => self.store.table_state(txn, stream),
        }
    }

    /// Indexes an event's id. NO_OVERWRITE: ids stay unique even where the lookup was skipped
    /// (a colliding id fails this job's batch, then this job alone; it never overwrites). An id
    /// greater than every one in the index goes in with APPEND instead, which takes the index's
    /// last page without searching the B-tree (a search per event was a quarter of the writer's
    /// time in batches of 100): the ids the writer makes up always are (`IdClock`), and so
    /// are most of those callers make in time order (UUIDv7, as the cluster client does).
    fn put_id(&mut self, txn: &mut RwTxn, id: &Uuid, position_key: &[u8]) -> heed::Result<()> {
        let key = id.as_u128();
        if key > self.state.greatest_id {
            match self.put(txn, T::EventIds, PutFlags::APPEND, id.as_bytes(), position_key) {
                Ok(()) => {
                    self.state.greatest_id = key;
                    return Ok(());
                }
                // Not the greatest after all (a catch-up took in another writer's ids): LMDB
                // says which is, and this one is put as any other.
                Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => {
                    if let Some((last, _)) = self.store.event_ids.last(txn)? {
                        self.state.greatest_id = last.try_into().map_or(u128::MAX, u128::from_be_bytes);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.put(txn, T::EventIds, PutFlags::NO_OVERWRITE, id.as_bytes(), position_key)
    }

    /// Makes up the id of an event appended without one, indexes it and writes it into its
    /// record. An id a caller planted where the next made-up one falls (they are hard to guess,
    /// not impossible) only makes it draw another: the append was given no id to collide.
    fn put_made_up_id(
        &mut self,
        txn: &mut RwTxn,
        event: &mut PreparedEvent,
        timestamp: i64,
        position_key: &[u8],
    ) -> JobResult<()> {
        for _ in 0..MADE_UP_ID_DRAWS {
            event.id = self.ids.next(timestamp);
            match self.put_id(txn, &event.id, position_key) {
                Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => continue,
                put => {
                    put?;
                    format::place_id(&mut event.record, event.id.as_bytes());
                    return Ok(());
                }
            }
        }
        Err(Failure::Storage(Error::Internal(format!(
            "{MADE_UP_ID_DRAWS} ids made up in a row were all stored already"
        ))))
    }

    /// A write of this transaction, recorded for the commit log.
    fn put(&mut self, txn: &mut RwTxn, t: T, flags: PutFlags, key: &[u8], value: &[u8]) -> heed::Result<()> {
        self.bounded &= match t {
            T::Events | T::StreamIndex | T::EventIds => true,
            T::Meta => key == format::META_NEXT_STREAM_ID,
            _ => false,
        };
        self.store.table(t).put_with_flags(txn, flags, key, value)?;
        self.ops.put(t, key, value);
        Ok(())
    }

    /// A delete of this transaction, recorded for the commit log when there was something to
    /// delete.
    fn remove(&mut self, txn: &mut RwTxn, t: T, key: &[u8]) -> heed::Result<bool> {
        // Readers would miss what a delete takes away before it is durable.
        self.bounded = false;
        let deleted = self.store.table(t).delete(txn, key)?;
        if deleted {
            self.ops.delete(t, key);
        }
        Ok(deleted)
    }

    /// Commit timestamps never go backwards, even if the wall clock does, so max-age cut-offs
    /// are a prefix of each stream.
    fn next_timestamp(&mut self) -> i64 {
        let ts = now_micros().max(self.state.last_timestamp);
        self.state.last_timestamp = ts;
        ts
    }
}

/// Ids made up for one event before its append fails (each was stored already).
const MADE_UP_ID_DRAWS: usize = 16;

/// Makes up the ids of events appended without one: UUIDv7 (RFC 9562) of the commit's
/// millisecond whose 74 bits after the version are a counter, random at each new millisecond
/// and raised by a random step within one (§6.2, method 2), so every id is greater than the
/// one before, even when the clock steps back, and the next one is hard to guess; random
/// enough that two writers of one log never make the same.
#[derive(Default)]
pub(crate) struct IdClock {
    last: u128,
}

/// The counter of a UUIDv7: rand_a (12 bits) above rand_b (62), around the variant's 2 bits.
const COUNTER_BITS: u32 = 74;
const RAND_B_BITS: u32 = 62;
/// A random step of up to 2^32 within a millisecond leaves room for 2^41 ids in it.
const COUNTER_STEP_BITS: u32 = 32;

impl IdClock {
    /// The id of an event committed at `micros` (microseconds since the epoch).
    pub fn next(&mut self, micros: i64) -> Uuid {
        let millis = u128::from(micros.max(0) as u64 / 1000) & ((1 << 48) - 1);
        let (last_millis, last_counter) = (self.last >> 80, counter_of(self.last));
        self.last = if millis > last_millis {
            // Half the counter's range left to count up in: no millisecond runs out.
            v7(millis, fastrand::u128(..) & ((1 << (COUNTER_BITS - 1)) - 1))
        } else {
            match last_counter + 1 + fastrand::u128(..1 << COUNTER_STEP_BITS) {
                stepped if stepped < 1 << COUNTER_BITS => v7(last_millis, stepped),
                _ => v7(last_millis + 1, 0),
            }
        };
        Uuid::from_u128(self.last)
    }

    /// Carries on from the ids of the index (its greatest, `WriterState::greatest_id`) at an
    /// open or after a catch-up, so that made-up ids keep growing across them when the clock
    /// stands still or steps back. Only from a UUIDv7 of a millisecond the store's clock has
    /// reached (`now`, microseconds): a caller's id of another version or from the future
    /// would carry the made-up ones off to its millisecond.
    pub fn carry_on(&mut self, greatest_id: u128, now: i64) {
        let id = Uuid::from_u128(greatest_id);
        let reached = u128::from(now.max(0) as u64 / 1000);
        if id.get_version_num() == 7 && greatest_id >> 80 <= reached {
            self.last = self.last.max(greatest_id);
        }
    }
}

/// The UUIDv7 of millisecond `millis` and 74-bit `counter`: rand_a (the counter's top 12 bits)
/// after the version, rand_b (its low 62) after the variant.
fn v7(millis: u128, counter: u128) -> u128 {
    millis << 80
        | 0x7 << 76
        | (counter >> RAND_B_BITS) << 64
        | 0b10 << 62
        | (counter & ((1 << RAND_B_BITS) - 1))
}

fn counter_of(id: u128) -> u128 {
    ((id >> 64) & 0xfff) << RAND_B_BITS | (id & ((1 << RAND_B_BITS) - 1))
}

pub(crate) fn not_encrypted() -> Error {
    Error::InvalidArgument(
        "the store is not encrypted: open it with a master key to shred or rotate keys".into(),
    )
}

pub(crate) fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

impl Error {
    /// A copy of a storage error for every job of a failed batch.
    fn clone_storage(&self) -> Error {
        match self {
            Error::Io(m) => Error::Io(m.clone()),
            Error::Corruption(m) => Error::Corruption(m.clone()),
            Error::IncompatibleFormat(m) => Error::IncompatibleFormat(m.clone()),
            // A commit log kept elsewhere that cannot be reached, or that another writer took.
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            other => Error::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit's time in milliseconds, and in the microseconds `IdClock::next` takes.
    const MS: u64 = 1_700_000_000_000;
    const US: i64 = MS as i64 * 1000;

    fn is_v7(id: Uuid) -> bool {
        id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122
    }

    fn millis(id: Uuid) -> u64 {
        (id.as_u128() >> 80) as u64
    }

    #[test]
    fn made_up_ids_are_v7_of_the_commit_s_millisecond_and_always_greater() {
        let mut clock = IdClock::default();
        let mut last = Uuid::nil();
        // Within a millisecond, into the next one, then with the clock stepped back 5 ms.
        for (micros, expected_ms) in [(US, MS), (US + 999, MS), (US + 1000, MS + 1), (US - 5000, MS + 1)] {
            for _ in 0..1000 {
                let id = clock.next(micros);
                assert!(is_v7(id), "{id}");
                assert!(id > last, "{id} after {last}");
                assert_eq!(millis(id), expected_ms, "{id}");
                last = id;
            }
        }
        // A new millisecond starts its counter at random, in the lower half of its range.
        let first = clock.next(US + 2000);
        assert_eq!(millis(first), MS + 2);
        assert!(counter_of(first.as_u128()) < 1 << (COUNTER_BITS - 1));
        assert!(first > last);
    }

    #[test]
    fn the_clock_carries_on_from_a_v7_id_of_a_millisecond_reached_only() {
        let mut clock = IdClock::default();
        let stored = clock.next(US + 5000);
        // At a reopen whose clock stands 5 ms behind the last commit.
        let mut reopened = IdClock::default();
        reopened.carry_on(stored.as_u128(), US + 5000);
        assert!(reopened.next(US) > stored);
        // Neither from a caller's id of another version nor from a millisecond not reached.
        for foreign in [Uuid::from_u128(u128::MAX >> 1), IdClock::default().next(US + 9000)] {
            let mut clock = IdClock::default();
            clock.carry_on(foreign.as_u128(), US + 5000);
            assert_eq!(millis(clock.next(US)), MS, "{foreign}");
        }
    }

    #[test]
    fn ids_of_one_millisecond_are_not_one_apart() {
        let mut clock = IdClock::default();
        let ids: Vec<u128> = (0..100).map(|_| clock.next(US).as_u128()).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]));
        assert!(ids.windows(2).filter(|w| counter_of(w[1]) - counter_of(w[0]) == 1).count() < 3);
    }

    /// The id of millisecond `ms` whose counter is full: the next one made after it is
    /// `(ms + 1, counter 0)`, whatever the random step.
    fn full_counter(ms: u64) -> u128 {
        v7(u128::from(ms), (1 << COUNTER_BITS) - 1)
    }

    /// An id a caller planted where the writer's next made-up id falls never fails an append
    /// that gave none: the writer draws another (and, were that gone, the batch's job-by-job
    /// retry would draw one too: this guards the promise, not the loop alone).
    #[test]
    fn an_append_without_ids_never_fails_on_an_id_a_caller_planted() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::Db::open(dir.path()).unwrap();
        let event = || crate::EventData::json("T", &serde_json::json!({})).unwrap();
        // A millisecond ahead of the clock, so that the writer's next id is known: the first
        // of the millisecond after it.
        let ahead = (now_micros() / 1000) as u64 + 60_000;
        let next = v7(u128::from(ahead + 1), 0);
        db.append("planted", ExpectedVersion::Any, vec![event().with_id(Uuid::from_u128(next))]).unwrap();
        {
            let engine = db.engine().unwrap();
            let mut writer = engine.committer.as_ref().unwrap().lock().unwrap();
            writer.ids.last = full_counter(ahead);
        }
        db.append("made-up", ExpectedVersion::Any, vec![event()]).unwrap();
        let made = db.read_stream("made-up", crate::ReadOptions::forwards()).unwrap();
        assert_ne!(made[0].id.as_u128(), next);
        assert_eq!(millis(made[0].id), ahead + 1, "drawn again in the same millisecond");
        assert!(made[0].id.as_u128() > next);
    }

    #[test]
    fn a_full_counter_moves_on_to_the_next_millisecond() {
        let mut clock = IdClock::default();
        clock.next(US);
        // The counter at its greatest: the next id takes the next millisecond.
        clock.last = full_counter(MS);
        assert_eq!(counter_of(clock.last), (1 << COUNTER_BITS) - 1);
        let full = clock.last;
        let after = clock.next(US);
        assert!(is_v7(after) && after.as_u128() > full, "{after}");
        assert_eq!((millis(after), counter_of(after.as_u128())), (MS + 1, 0));
    }
}
