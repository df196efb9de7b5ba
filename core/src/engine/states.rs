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
//! the table. A reader takes the state here *before* it opens its LMDB read transaction (see
//! `Store::read_state`): this map only moves forward after LMDB commits, so the state a reader
//! takes from it names no event its later transaction lacks (an older state is a consistent,
//! earlier view of the stream).

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

/// The states committed since the `streams` table last received them, by stream name.
#[derive(Default)]
pub(crate) struct LateStates(RwLock<BTreeMap<Box<[u8]>, Held>>);

impl LateStates {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<Box<[u8]>, Held>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<Box<[u8]>, Held>> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest committed state of `stream` when the table does not hold it yet.
    pub(crate) fn get(&self, stream: &[u8]) -> Option<StreamState> {
        self.read().get(stream).map(|(state, _)| *state)
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// The states held of names from `start` on that begin with `prefix`, in name order, at
    /// most `limit` of them.
    pub(crate) fn range(
        &self,
        start: Bound<&[u8]>,
        prefix: &[u8],
        limit: usize,
    ) -> Vec<(Box<[u8]>, StreamState)> {
        let held = self.read();
        held.range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .take(limit)
            .map(|(name, (state, _))| (name.clone(), *state))
            .collect()
    }

    /// Takes in the states of a batch LMDB has just committed (never before: a reader could
    /// then follow a state to an event its transaction does not hold).
    pub(crate) fn commit(&self, batch: &mut HashMap<Box<[u8]>, Held>) {
        if batch.is_empty() {
            return;
        }
        let mut held = self.write();
        for (name, state) in batch.drain() {
            held.insert(name, state);
        }
    }

    /// Puts every state held into `txn`'s `streams` table (not logged: the log has them).
    /// `clear` once that transaction has committed.
    pub(crate) fn write_into(&self, store: &Store, txn: &mut RwTxn) -> heed::Result<()> {
        for (name, (_, bytes)) in self.read().iter() {
            store.streams.put(txn, name, bytes)?;
        }
        Ok(())
    }

    /// Forgets the states held, once the table holds them (after the commit of `write_into`'s
    /// transaction, so that no reader meanwhile finds neither).
    pub(crate) fn clear(&self) {
        self.write().clear();
    }

    /// Writes the states held to the `streams` table in a transaction of their own. Called by
    /// the writer between batches, with no write transaction open.
    pub(crate) fn flush(&self, store: &Store) -> Result<()> {
        if self.read().is_empty() {
            return Ok(());
        }
        let mut txn = store.env.write_txn()?;
        self.write_into(store, &mut txn)?;
        txn.commit()?;
        self.clear();
        Ok(())
    }
}
