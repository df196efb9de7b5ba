//! Stream states written behind: the `streams` table brought up to date less often than
//! every commit.
//!
//! Every append rewrites its stream's state (next revision, last position). Keyed by name, the
//! states of a batch of appends to many streams land on as many LMDB leaf pages, and LMDB
//! copies every page a commit touches: with 64 clients each writing its own 1,000 streams, the
//! `streams` table was most of the pages each commit wrote. So a commit records its states in
//! the commit log (as every write is: the log is the point of truth) and keeps them here, in
//! memory, instead of in LMDB; they reach the `streams` table in one transaction before every
//! checkpoint (whose LSN says LMDB holds every record before it), before a catch-up replays
//! another writer's records, and when too many are held. A state written many times between
//! two flushes then costs one page write, not one per commit.
//!
//! Reads look here first, then in LMDB: a state here is always at least as new as the one in
//! the table. A reader looks here and opens its LMDB read transaction under this map's read
//! lock (`view`), and the writer commits a transaction and brings this map level with it under
//! the write lock (`commit`, `commit_flushed`), or, for a batch of appends, commits it first and
//! takes its states in once its record is durable (`take_in`, before the head moves): so a
//! reader never finds a state newer than its transaction (naming an event it cannot see), nor
//! one older than events a read of `$all` just returned (`$all` stops at the head). A state
//! older than the transaction hides only events not yet durable. Readers wait for at most one
//! commit of LMDB (tens of microseconds; never for the log's fdatasync).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use heed::RwTxn;

use super::format::StreamState;
use super::Store;
use crate::error::Result;

/// How many states may wait here before the writer writes them to the `streams` table without
/// waiting for a checkpoint: a bound on the memory they take (about 200 bytes each).
pub(crate) const MAX_HELD: usize = 1 << 16;

/// A state as kept here: decoded for reads, encoded (the bytes the log has) for the table.
pub(crate) type Held = (StreamState, Box<[u8]>);

type Map = BTreeMap<Box<[u8]>, Held>;

/// The states committed since the `streams` table last received them, by stream name.
#[derive(Default)]
pub(crate) struct LateStates(RwLock<Map>);

/// The states held, read-locked: no commit takes effect while a reader holds it.
pub(crate) struct View<'a>(RwLockReadGuard<'a, Map>);

impl View<'_> {
    /// The newest committed state of `stream` when the table does not hold it yet.
    pub(crate) fn get(&self, stream: &[u8]) -> Option<StreamState> {
        self.0.get(stream).map(|(state, _)| *state)
    }

    /// The states held of names from `start` on that begin with `prefix`, in name order, at
    /// most `limit` of them.
    pub(crate) fn range(
        &self,
        start: Bound<&[u8]>,
        prefix: &[u8],
        limit: usize,
    ) -> Vec<(Box<[u8]>, StreamState)> {
        self.0
            .range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .take(limit)
            .map(|(name, (state, _))| (name.clone(), *state))
            .collect()
    }
}

impl LateStates {
    /// For a read: look here, open the read transaction, then drop the view.
    pub(crate) fn view(&self) -> View<'_> {
        View(self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer's own look-up (it is the only one that changes the map).
    pub(crate) fn get(&self, stream: &[u8]) -> Option<StreamState> {
        self.view().get(stream)
    }

    pub(crate) fn len(&self) -> usize {
        self.view().0.len()
    }

    /// Commits a batch's transaction and takes in the states it wrote, as one step for
    /// readers. Nothing is taken in when the commit fails.
    pub(crate) fn commit(
        &self,
        commit: impl FnOnce() -> heed::Result<()>,
        batch: &mut HashMap<Box<[u8]>, Held>,
    ) -> heed::Result<()> {
        let mut held = self.write();
        commit()?;
        held.extend(batch.drain());
        Ok(())
    }

    /// Takes in the states of a batch LMDB committed before its record was durable, once it
    /// is (writer.rs, `commit`): readers then see them.
    pub(crate) fn take_in(&self, batch: &mut HashMap<Box<[u8]>, Held>) {
        self.write().extend(batch.drain());
    }

    /// Puts every state held into `txn`'s `streams` table (not logged: the log has them), for
    /// `commit_flushed`.
    pub(crate) fn write_into(&self, store: &Store, txn: &mut RwTxn) -> heed::Result<()> {
        for (name, (_, bytes)) in self.view().0.iter() {
            store.streams.put(txn, name, bytes)?;
        }
        Ok(())
    }

    /// Commits a catch-up's transaction, which `write_into` filled before the records another
    /// writer appended were replayed into it, and forgets the states held, as one step for
    /// readers: none then finds a state held here hiding a newer one those records put in the
    /// table.
    pub(crate) fn commit_flushed(&self, commit: impl FnOnce() -> heed::Result<()>) -> heed::Result<()> {
        let mut held = self.write();
        commit()?;
        held.clear();
        Ok(())
    }

    /// Writes the states held to the `streams` table in a transaction of their own. Called by
    /// the writer between batches, with no write transaction open.
    pub(crate) fn flush(&self, store: &Store) -> Result<()> {
        if self.len() == 0 {
            return Ok(());
        }
        let mut txn = store.env.write_txn()?;
        self.write_into(store, &mut txn)?;
        // Unlike a catch-up's, this commit puts in the table exactly the states held here, so
        // a reader finds the same state in either: readers are not held up while it commits
        // (it writes many pages), only while the map is cleared after it.
        txn.commit()?;
        self.write().clear();
        Ok(())
    }
}
