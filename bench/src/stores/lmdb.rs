//! Bare LMDB through heed: what the storage under GraveyardDB costs by itself. One database,
//! big-endian position -> payload bytes; no streams, no version check, no event envelope.

use std::path::Path;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, U64};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, PutFlags};

use super::{Preload, Racers, Result, Store, Writer, Writers, LMDB_MAP_SIZE};
use crate::workload::Workload;

type EventsDb = Database<'static, U64<BigEndian>, Bytes>;

pub struct LmdbStore {
    env: Env,
    db: EventsDb,
}

impl LmdbStore {
    pub fn open(dir: &Path) -> Result<LmdbStore> {
        // SAFETY: the directory is a fresh tempdir that nothing else maps, and this process opens
        // it once (heed's rule for `open`).
        let env = unsafe { EnvOpenOptions::new().map_size(LMDB_MAP_SIZE).max_readers(256).open(dir)? };
        let wtxn = env.write_txn()?;
        let db = env
            .create_databases_and_commit(wtxn, |opener, wtxn| {
                opener.create_database(wtxn, None).map(CommitOrAbort::<_, ()>::Commit)
            })?
            .unwrap_commit();
        Ok(LmdbStore { env, db })
    }
}

/// One write transaction: the payloads at the next positions, then a synced commit. The next
/// position is read inside the transaction, as any real log must, since writers share the env.
fn append(env: &Env, db: EventsDb, payloads: &[Vec<u8>]) -> Result<()> {
    let mut wtxn = env.write_txn()?;
    let next = db.last(&wtxn)?.map_or(0, |(last, _)| last + 1);
    for (position, data) in (next..).zip(payloads) {
        // Positions only grow, so APPEND skips the search and fills pages fully.
        db.put_with_flags(&mut wtxn, PutFlags::APPEND, &position, data)?;
    }
    wtxn.commit()?;
    Ok(())
}

struct LmdbWriter<'a> {
    env: &'a Env,
    db: EventsDb,
}

impl Writer for LmdbWriter<'_> {
    fn append(&mut self, payloads: Vec<Vec<u8>>) -> Result<()> {
        append(self.env, self.db, &payloads)
    }
}

/// Copies every value of `range` out, as a reader that keeps the events would.
fn read_range(env: &Env, db: EventsDb, range: std::ops::Range<u64>) -> Result<Vec<Vec<u8>>> {
    let rtxn = env.read_txn()?;
    let mut out = Vec::new();
    for item in db.range(&rtxn, &range)? {
        out.push(item?.1.to_vec());
    }
    Ok(out)
}

impl Store for LmdbStore {
    fn writers(&mut self, count: usize) -> Result<Writers<'_>> {
        Ok((0..count)
            .map(|_| Box::new(LmdbWriter { env: &self.env, db: self.db }) as Box<dyn Writer>)
            .collect())
    }

    fn racers(&mut self, _count: usize) -> Result<Racers<'_>> {
        Ok(Racers::NotApplicable("bare LMDB has no streams nor version check to race on"))
    }

    fn preload(&mut self, plan: Preload) -> Result<()> {
        for (_, first, count) in plan.appends() {
            let payloads: Vec<Vec<u8>> = (first..first + count).map(plan.payload).collect();
            append(&self.env, self.db, &payloads)?;
        }
        Ok(())
    }

    fn read_stream(&mut self, _stream: u64) -> Result<u64> {
        // The preload of read-stream writes only that stream, so "the stream" is every record.
        let events = read_range(&self.env, self.db, 0..u64::MAX)?;
        Ok(std::hint::black_box(events).len() as u64)
    }

    fn scan_all(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        let mut next = 0;
        loop {
            // A read transaction per page, like a paging reader between calls.
            let events = read_range(&self.env, self.db, next..next + page)?;
            if events.is_empty() {
                break;
            }
            next += events.len() as u64;
            on_page(std::hint::black_box(events).len() as u64);
        }
        Ok(next)
    }

    fn event_count(&mut self) -> Result<u64> {
        let rtxn = self.env.read_txn()?;
        Ok(self.db.len(&rtxn)?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        // Dropping the last Env handle closes it; heed's `prepare_for_closing` would only let us
        // wait for that, which nothing here needs.
        drop(self);
        Ok(())
    }
}

/// How this store does `workload` differently from its description, if it does.
pub fn note(workload: Workload) -> Option<&'static str> {
    match workload {
        Workload::ReadStream => {
            Some("LMDB (heed) has no streams: reads the same number of records by position")
        }
        _ => None,
    }
}
