//! The LMDB writes of one transaction as the commit log records them, and their replay.
//!
//! Physical, not logical: a record says which keys were put or deleted with which values, so
//! its replay does not depend on the clock, on random ids or on what a check decided, only on
//! the records before it.
//!
//! An op: `kind: u8 (0 put, 1 delete) | table: u8 | key_len: u32 | key | value_len: u32 | value`
//! (the value for puts only), little-endian.

use heed::RwTxn;

use super::{Store, Table};
use crate::error::{Error, Result};

/// The tables of the store, as ops name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum T {
    Meta = 0,
    Events = 1,
    Streams = 2,
    StreamIndex = 3,
    EventIds = 4,
    Snapshots = 5,
    Groups = 6,
    PendingShreds = 7,
}

impl T {
    fn from_u8(b: u8) -> Option<T> {
        Some(match b {
            0 => T::Meta,
            1 => T::Events,
            2 => T::Streams,
            3 => T::StreamIndex,
            4 => T::EventIds,
            5 => T::Snapshots,
            6 => T::Groups,
            7 => T::PendingShreds,
            _ => return None,
        })
    }
}

impl Store {
    pub(crate) fn table(&self, t: T) -> &Table {
        match t {
            T::Meta => &self.meta,
            T::Events => &self.events,
            T::Streams => &self.streams,
            T::StreamIndex => &self.stream_index,
            T::EventIds => &self.event_ids,
            T::Snapshots => &self.snapshots,
            T::Groups => &self.groups,
            T::PendingShreds => &self.pending_shreds,
        }
    }
}

const PUT: u8 = 0;
const DELETE: u8 = 1;

/// The ops of the transaction being built.
#[derive(Default)]
pub(crate) struct Ops(Vec<u8>);

impl Ops {
    pub(crate) fn put(&mut self, t: T, key: &[u8], value: &[u8]) {
        self.0.reserve(10 + key.len() + value.len());
        self.0.extend_from_slice(&[PUT, t as u8]);
        self.0.extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.0.extend_from_slice(key);
        self.0.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.0.extend_from_slice(value);
    }

    pub(crate) fn delete(&mut self, t: T, key: &[u8]) {
        self.0.extend_from_slice(&[DELETE, t as u8]);
        self.0.extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.0.extend_from_slice(key);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

fn take<'a>(n: usize, ops: &mut &'a [u8]) -> Option<&'a [u8]> {
    if ops.len() < n {
        return None;
    }
    let (head, rest) = ops.split_at(n);
    *ops = rest;
    Some(head)
}

fn take_len(ops: &mut &[u8]) -> Option<usize> {
    take(4, ops).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
}

/// Applies the ops of record `lsn` in `txn`.
pub(crate) fn replay(store: &Store, txn: &mut RwTxn, lsn: u64, mut ops: &[u8]) -> Result<()> {
    let corrupt = |why: &str| Error::Corruption(format!("record {lsn} of the commit log: {why}"));
    let short = || corrupt("an op is cut short");
    while !ops.is_empty() {
        let head = take(2, &mut ops).ok_or_else(short)?;
        let table = T::from_u8(head[1]).ok_or_else(|| corrupt("an op names no table"))?;
        let len = take_len(&mut ops).ok_or_else(short)?;
        let key = take(len, &mut ops).ok_or_else(short)?;
        match head[0] {
            PUT => {
                let len = take_len(&mut ops).ok_or_else(short)?;
                let value = take(len, &mut ops).ok_or_else(short)?;
                store.table(table).put(txn, key, value)?;
            }
            DELETE => {
                store.table(table).delete(txn, key)?;
            }
            _ => return Err(corrupt("an op of unknown kind")),
        }
    }
    Ok(())
}
