//! GraveyardDB embedded, through `graveyard::Db` with default options.

use std::path::{Path, PathBuf};

use graveyard::{
    CurrentRevision, Db, Durability, ErrorCode, EventData, ExpectedVersion, Options, ReadAllOptions,
    ReadOptions,
};

use super::{bench_error, stream_name, Attempt, Preload, Racer, Racers, Result, Store, Writer, Writers};
use crate::workload::{Workload, EVENT_TYPE};

pub struct GraveyardStore {
    dir: PathBuf,
    db: Db,
    /// The master key of an encrypted store.
    master_key: Option<[u8; 32]>,
}

/// The bench's master key: what is measured is the sealing, not the key's secrecy.
const BENCH_MASTER_KEY: [u8; 32] = [0x42; 32];

impl GraveyardStore {
    pub fn open(dir: &Path) -> Result<GraveyardStore> {
        Ok(GraveyardStore { dir: dir.to_path_buf(), db: Db::open(dir)?, master_key: None })
    }

    /// Encrypted at rest, otherwise the defaults.
    pub fn open_encrypted(dir: &Path) -> Result<GraveyardStore> {
        let master_key = Some(BENCH_MASTER_KEY);
        let db = Db::open_with(options(dir, master_key))?;
        Ok(GraveyardStore { dir: dir.to_path_buf(), db, master_key })
    }

    /// With the schema of the `schema-*` workloads governing the bench's event type. Its
    /// version is one event in the log, which the workload counts before it starts.
    pub fn open_validated(dir: &Path) -> Result<GraveyardStore> {
        let store = GraveyardStore::open(dir)?;
        store.db.upsert_schema(&crate::workload::schema10())?;
        Ok(store)
    }
}

fn options(dir: &Path, master_key: Option<[u8; 32]>) -> Options {
    let options = Options::new(dir);
    match master_key {
        Some(key) => options.master_key(graveyard::crypto::Key::from_bytes(&key).expect("32 bytes")),
        None => options,
    }
}

fn events(payloads: Vec<Vec<u8>>) -> Vec<EventData> {
    payloads.into_iter().map(|p| EventData::json_bytes(EVENT_TYPE, p)).collect()
}

struct GraveyardWriter {
    db: Db,
    stream: String,
    last_revision: Option<u64>,
}

impl Writer for GraveyardWriter {
    fn append(&mut self, payloads: Vec<Vec<u8>>) -> Result<()> {
        let count = payloads.len() as u64;
        let expected = self.last_revision.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let result = self.db.append(&self.stream, expected, events(payloads))?;
        // Cheap checks of the contract while we are here: a bench that silently measured a
        // store writing the wrong revisions would be worse than none.
        let first = self.last_revision.map_or(0, |r| r + 1);
        if result.first_revision != first
            || result.last_revision != first + count - 1
            || result.last_position - result.first_position != count - 1
        {
            return Err(bench_error(format!(
                "append to {} after {expected} returned {result:?}, expected revisions {first}..={}",
                self.stream,
                first + count - 1
            )));
        }
        self.last_revision = Some(result.last_revision);
        Ok(())
    }
}

struct GraveyardRacer {
    db: Db,
    stream: String,
}

impl Racer for GraveyardRacer {
    fn attempt(&mut self, payload: Vec<u8>) -> Result<Attempt> {
        let expected = match self.db.stream_info(&self.stream) {
            Ok(info) => match info.current {
                CurrentRevision::NoStream => ExpectedVersion::NoStream,
                CurrentRevision::Revision(r) => ExpectedVersion::Exact(r),
            },
            Err(e) if e.code() == ErrorCode::NotFound => ExpectedVersion::NoStream,
            Err(e) => return Err(e.into()),
        };
        match self.db.append(&self.stream, expected, events(vec![payload])) {
            Ok(_) => Ok(Attempt::Committed),
            Err(e) if e.code() == ErrorCode::WrongExpectedVersion => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }
}

impl Store for GraveyardStore {
    fn writers(&mut self, count: usize) -> Result<Writers<'_>> {
        Ok((0..count as u64)
            .map(|i| {
                Box::new(GraveyardWriter { db: self.db.clone(), stream: stream_name(i), last_revision: None })
                    as Box<dyn Writer>
            })
            .collect())
    }

    fn racers(&mut self, count: usize) -> Result<Racers<'_>> {
        Ok(Racers::Handles(
            (0..count)
                .map(|_| {
                    Box::new(GraveyardRacer { db: self.db.clone(), stream: stream_name(0) }) as Box<dyn Racer>
                })
                .collect(),
        ))
    }

    /// Preloads without fsync (the one place the bench uses `NoFsyncUnsafe`: the data is
    /// throwaway and only read afterwards), then closes and reopens with the defaults, so the
    /// measured handle is an ordinary `Db::open`.
    fn preload(&mut self, plan: Preload) -> Result<()> {
        self.db.close();
        let relaxed =
            Db::open_with(options(&self.dir, self.master_key).durability(Durability::NoFsyncUnsafe))?;
        for (stream, first, count) in plan.appends() {
            let payloads = (first..first + count).map(plan.payload).collect();
            relaxed.append(&stream_name(stream), ExpectedVersion::Any, events(payloads))?;
        }
        relaxed.close();
        self.db = Db::open_with(options(&self.dir, self.master_key))?;
        Ok(())
    }

    /// Through the zero-copy visit, copying each payload out as a user decoding it would (the
    /// other stores' readers also hand out one owned value per event).
    fn read_stream(&mut self, stream: u64) -> Result<u64> {
        let mut payloads = Vec::new();
        self.db.visit_stream(&stream_name(stream), ReadOptions::forwards(), |event| {
            payloads.push((event.revision, event.data.to_vec()));
            true
        })?;
        Ok(std::hint::black_box(payloads).len() as u64)
    }

    fn scan_all(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        let mut next = 0;
        loop {
            let mut gap = None;
            let seen = self.db.visit_all(&ReadAllOptions::forwards().from(next).limit(page), |event| {
                if event.position != next {
                    gap.get_or_insert((next, event.position));
                }
                std::hint::black_box((event.stream, event.revision, event.event_type, event.data));
                next = event.position + 1;
                true
            })?;
            if let Some((expected, got)) = gap {
                return Err(bench_error(format!(
                    "read_all expected position {expected}, got {got}: the log has a gap"
                )));
            }
            if seen == 0 {
                break;
            }
            on_page(seen);
        }
        Ok(next)
    }

    fn read_all_owned(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        let mut next = 0;
        loop {
            let events = self.db.read_all(ReadAllOptions::forwards().from(next).limit(page))?;
            for event in &events {
                if event.position != next {
                    return Err(bench_error(format!(
                        "read_all expected position {next}, got {}: the log has a gap",
                        event.position
                    )));
                }
                next += 1;
            }
            if events.is_empty() {
                break;
            }
            on_page(std::hint::black_box(events).len() as u64);
        }
        Ok(next)
    }

    fn async_db(&mut self) -> Option<Db> {
        Some(self.db.clone())
    }

    fn event_count(&mut self) -> Result<u64> {
        Ok(self.db.head_position()?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close();
        Ok(())
    }
}

/// How this store does `workload` differently from its description, if it does.
pub fn note(workload: Workload) -> Option<&'static str> {
    match workload {
        Workload::ReadStream | Workload::ScanAll => Some(
            "GraveyardDB preloaded with Durability::NoFsyncUnsafe, then closed and reopened with the \
             defaults (Fsync) for the measured reads",
        ),
        _ => None,
    }
}
