//! The stores under test, behind one interface the workload driver uses.
//!
//! Each store opens in its own directory and does every workload through its own public API,
//! the way a user of that store would. Where a store lacks a feature a workload needs, its
//! module says how it is emulated (a footnote in the table) or reports "n/a" with the reason.

use std::path::Path;

use crate::workload::Workload;

mod graveyard;
mod lmdb;
mod sqlite;
mod varve;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Map size of the LMDB-based peers: address space, not disk. varvedb's default (10 MiB)
/// cannot hold the `scan-all` log, so it is the one setting we change there.
pub const LMDB_MAP_SIZE: usize = 64 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Graveyard,
    /// GraveyardDB with a 10-field schema governing the events of the schema workloads.
    GraveyardValidated,
    /// GraveyardDB encrypted at rest (a master key), for the encryption workloads.
    GraveyardEncrypted,
    Varve,
    Sqlite,
    Lmdb,
}

impl Peer {
    /// GraveyardDB first: the ratio column divides by the others.
    pub const ALL: [Peer; 4] = [Peer::Graveyard, Peer::Varve, Peer::Sqlite, Peer::Lmdb];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Graveyard => "GraveyardDB",
            Peer::GraveyardValidated => "GraveyardDB + schema",
            Peer::GraveyardEncrypted => "GraveyardDB encrypted",
            Peer::Varve => "varvedb 0.4.2",
            Peer::Sqlite => "SQLite",
            Peer::Lmdb => "LMDB (heed)",
        }
    }

    /// How the store is configured, and that it syncs every commit.
    pub fn setup(self) -> &'static str {
        match self {
            Peer::Graveyard => {
                "embedded `Db::open`, default Durability::Fsync (fsync per commit, group commit)"
            }
            Peer::GraveyardValidated => {
                "as GraveyardDB, with the 10-field schema of the schema-* workloads registered for their \
                 event type, so every event is validated on append"
            }
            Peer::GraveyardEncrypted => {
                "as GraveyardDB, opened with a master key: every event's data and metadata sealed with \
                 AES-256-GCM under its stream's data key on append, opened on read"
            }
            Peer::Varve => {
                "public API, default flags (LMDB syncs every commit); map size raised to 64 GiB \
                 (its 10 MiB default cannot hold the scan-all log)"
            }
            Peer::Sqlite => {
                "rusqlite (bundled), WAL, synchronous=FULL, one BEGIN IMMEDIATE transaction per append \
                 with a max(revision) check, one connection per writer thread"
            }
            Peer::Lmdb => {
                "heed 0.23, one database position -> payload bytes, one write transaction per append, \
                 default flags (sync every commit); no streams, no version check: the floor LMDB sets"
            }
        }
    }

    /// How this store does `workload` differently from its description (a footnote), if it does.
    pub fn note(self, workload: Workload) -> Option<&'static str> {
        match self {
            Peer::Graveyard | Peer::GraveyardValidated | Peer::GraveyardEncrypted => {
                graveyard::note(workload)
            }
            Peer::Varve => varve::note(workload),
            Peer::Sqlite => sqlite::note(workload),
            Peer::Lmdb => lmdb::note(workload),
        }
    }

    pub fn open(self, dir: &Path) -> Result<Box<dyn Store>> {
        Ok(match self {
            Peer::Graveyard => Box::new(graveyard::GraveyardStore::open(dir)?),
            Peer::GraveyardValidated => Box::new(graveyard::GraveyardStore::open_validated(dir)?),
            Peer::GraveyardEncrypted => Box::new(graveyard::GraveyardStore::open_encrypted(dir)?),
            Peer::Varve => Box::new(varve::VarveStore::open(dir)?),
            Peer::Sqlite => Box::new(sqlite::SqliteStore::open(dir)?),
            Peer::Lmdb => Box::new(lmdb::LmdbStore::open(dir)?),
        })
    }
}

/// Appends to one stream that only this writer writes to, checking the expected version
/// where the store can (the previous append's last revision, or "no stream" first).
pub trait Writer: Send {
    fn append(&mut self, payloads: Vec<Vec<u8>>) -> Result<()>;
}

/// One of many threads racing on the same stream.
pub trait Racer: Send {
    /// Reads the stream's current revision, then appends one event on condition that it is
    /// still that revision.
    fn attempt(&mut self, payload: Vec<u8>) -> Result<Attempt>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Committed,
    /// Another thread appended between our read and our append: nothing was written.
    Conflict,
}

pub type Writers<'a> = Vec<Box<dyn Writer + 'a>>;

pub enum Racers<'a> {
    Handles(Vec<Box<dyn Racer + 'a>>),
    NotApplicable(&'static str),
}

/// Data written before a read workload is measured: `total` events in appends of `batch`,
/// the appends going round-robin over `streams` streams (stream i is `stream_name(i)`).
#[derive(Debug, Clone, Copy)]
pub struct Preload {
    pub streams: u64,
    pub total: u64,
    pub batch: u64,
    /// The payload of event `seq`.
    pub payload: fn(u64) -> Vec<u8>,
}

impl Preload {
    /// The appends of the preload, in order: (stream index, first payload seq, events).
    pub fn appends(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let batches = self.total.div_ceil(self.batch);
        (0..batches).map(move |b| {
            let first = b * self.batch;
            (b % self.streams, first, self.batch.min(self.total - first))
        })
    }
}

pub trait Store {
    /// `count` writers, writer i on stream i.
    fn writers(&mut self, count: usize) -> Result<Writers<'_>>;

    /// `count` racers, all on stream 0.
    fn racers(&mut self, count: usize) -> Result<Racers<'_>>;

    fn preload(&mut self, plan: Preload) -> Result<()>;

    /// Reads the whole of stream `stream` forward, copying every event out as a user would get
    /// it; returns how many events it read.
    fn read_stream(&mut self, stream: u64) -> Result<u64>;

    /// Reads the whole global log forward, `page` events at a time where the store can page,
    /// calling `on_page(events)` after each page; returns how many events it read.
    fn scan_all(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64>;

    /// Like `scan_all`, through the read that returns owned events (GraveyardDB's `read_all`).
    fn read_all_owned(&mut self, _page: u64, _on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        Err(bench_error("this store has no owned read of its log"))
    }

    /// A handle for async appends from tasks, if the store has an async API.
    fn async_db(&mut self) -> Option<::graveyard::Db> {
        None
    }

    /// Events in the store now: checked against what the driver counted as written.
    fn event_count(&mut self) -> Result<u64>;

    /// Closes the store cleanly before its directory is removed.
    fn close(self: Box<Self>) -> Result<()>;
}

/// The name of stream `i` in the stores that name streams.
pub fn stream_name(i: u64) -> String {
    format!("bench-{i}")
}

/// Wraps a message as an error of the bench itself (not of a store).
pub fn bench_error(msg: impl Into<String>) -> BoxError {
    msg.into().into()
}
