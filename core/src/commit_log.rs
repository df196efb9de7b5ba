//! Where a write becomes durable, as a seam: the engine's own log of segment files on the
//! store's disk (the default), or a log kept elsewhere, such as the Cassandra-backed one of
//! the `graveyard-cql` crate, which replicates every commit before it is acknowledged.
//!
//! The engine hands each committed batch to the log as one record (its physical writes to
//! LMDB, see docs/format.md) and shows it to readers only once the record is durable (after
//! `append`, or after `write` and `settle`): a record the log holds is the truth, LMDB is
//! brought up to date behind it. At open the engine restores
//! its last checkpoint and replays every record from the checkpoint's LSN on; a store directory
//! lost with its disk is rebuilt by replaying a remote log from LSN 0.
//!
//! A store remembers which log it was created with ([`CommitLogSource::identity`]) and refuses
//! to be opened with another: the LSNs of one log mean nothing in another.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;

/// What the open of the file log found at the end of the log: a record torn by a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file holding it.
    pub segment: String,
    /// Offset of the torn record in it.
    pub offset: u64,
    /// The LSN the record would have had.
    pub lsn: u64,
}

/// An open commit log, owned by the store's writer.
pub trait CommitLog: Send {
    /// The LSN the next record gets. LSNs are numbered without gap.
    fn next_lsn(&self) -> u64;

    /// Appends one record and returns its LSN once the record is durable (in the log's sense:
    /// synced to disk, or acknowledged by the replicas the log's settings ask for). An error
    /// means the record was not appended, or that the log cannot tell (then [`failed`] says so
    /// and the store takes no more writes until it is reopened).
    ///
    /// [`failed`]: CommitLog::failed
    fn append(&mut self, record: &[u8]) -> Result<u64>;

    /// Appends one record and returns its LSN, leaving the wait for it to be durable to
    /// [`settle`](CommitLog::settle): the writer commits LMDB meanwhile (showing nothing to
    /// readers until the record is settled). A log that cannot split the two makes the record
    /// durable here, as `append` does. An error is `append`'s.
    fn write(&mut self, record: &[u8]) -> Result<u64> {
        self.append(record)
    }

    /// Waits until the record [`write`](CommitLog::write) appended is durable. An error leaves
    /// the log [`failed`](CommitLog::failed): whether the record is there is not known.
    fn settle(&mut self) -> Result<()> {
        Ok(())
    }

    /// Erases the last record appended, of LSN `lsn`: its LMDB commit failed, so the writes
    /// after it are made without it and it must never be replayed.
    fn undo_last(&mut self, lsn: u64) -> Result<()>;

    /// True once a failure left the log in a state not known for sure.
    fn failed(&self) -> bool;

    /// Makes every record appended durable, where `append` does not already.
    fn sync(&mut self) -> Result<()>;

    /// A checkpoint of LMDB covers every record before `lsn`: this store no longer needs them
    /// (a log shared with other replicas may keep them for those).
    fn release_before(&mut self, lsn: u64) -> Result<()>;

    /// True when the last `append` failed because the log already held a record at its LSN,
    /// written by another writer of the same log (another node that took the log over): the
    /// store is behind, and [`catch_up`](CommitLog::catch_up) brings it level.
    fn behind(&self) -> bool {
        false
    }

    /// Hands every record after the last one this log appended or replayed to `replay`, in
    /// order, and makes the log ready to append after them; returns how many there were. It
    /// also settles a failure whose outcome was unknown ([`failed`](CommitLog::failed)): the
    /// record in doubt is read back as it is for good, replayed if it exists, and the log
    /// takes writes again. A log only its store writes has nothing to catch up with: the
    /// engine's file log keeps this default, which changes nothing and leaves a failed log
    /// failed.
    fn catch_up(&mut self, _replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
        Ok(0)
    }

    /// Whether [`catch_up`](CommitLog::catch_up) can settle a failure: a log kept elsewhere
    /// that others may write.
    fn shared(&self) -> bool {
        false
    }
}

/// What opens a store's commit log.
pub trait CommitLogSource: Send + Sync {
    /// Names the log for good (for example `cql:<keyspace>/<log>`), stored with the store at
    /// creation and checked at every later open.
    fn identity(&self) -> String;

    /// Opens the log of the store in `store_dir` and hands every record from `from_lsn` on to
    /// `replay`, in order. Returns the log, ready to append after its last record, and the torn
    /// record the open erased, if the log can have any.
    fn open(
        &self,
        store_dir: &Path,
        from_lsn: u64,
        replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<(Box<dyn CommitLog>, Option<TornTail>)>;
}

/// The identity of the engine's own log of segment files, and of every store created before
/// logs could be chosen.
pub const FILE_LOG: &str = "file";

/// A [`CommitLogSource`] as an option of [`crate::Options::commit_log`]: two are alike when
/// their identities are.
#[derive(Clone)]
pub struct LogChoice(pub Arc<dyn CommitLogSource>);

impl fmt::Debug for LogChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LogChoice").field(&self.0.identity()).finish()
    }
}

impl PartialEq for LogChoice {
    fn eq(&self, other: &LogChoice) -> bool {
        self.0.identity() == other.0.identity()
    }
}
impl Eq for LogChoice {}
