//! varvedb 0.4.2 (the seed project), through its public API only.
//!
//! Its model: a named stream (here one, "bench") holds many stream ids, each a sequence of
//! events; our stream i is stream id i. An event is an rkyv-archived Rust value; ours carries
//! the event type and the JSON bytes, the same information SQLite stores per row. varvedb has
//! no expected-version check, so appends are unconditional; `race-64` is emulated with the
//! lock a varvedb user needs to get one (see `VarveRacer`).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rkyv::rancor;
use varvedb::{GlobalSequence, Stream, StreamId, Varve, VarveConfig};

use super::{bench_error, Attempt, Preload, Racer, Racers, Result, Store, Writer, Writers, LMDB_MAP_SIZE};
use crate::workload::{Workload, EVENT_TYPE};

#[derive(rkyv::Archive, rkyv::Serialize)]
pub struct BenchEvent {
    event_type: String,
    data: Vec<u8>,
}

impl BenchEvent {
    fn new(data: Vec<u8>) -> BenchEvent {
        BenchEvent { event_type: EVENT_TYPE.to_owned(), data }
    }
}

/// varvedb serialises each event into a fixed buffer of this many bytes: ample for a
/// ~100-byte payload plus the archive's headers.
const EVENT_BUFFER: usize = 512;

type BenchStream = Stream<BenchEvent, EVENT_BUFFER>;

/// varvedb's name for the one named stream everything goes in.
const STREAM: &str = "bench";

pub struct VarveStore {
    varve: Varve,
}

impl VarveStore {
    pub fn open(dir: &Path) -> Result<VarveStore> {
        let config = VarveConfig { map_size: LMDB_MAP_SIZE, ..VarveConfig::default() };
        Ok(VarveStore { varve: Varve::with_config(dir, config)? })
    }

    fn stream(&mut self) -> Result<BenchStream> {
        Ok(self.varve.stream::<BenchEvent, EVENT_BUFFER>(STREAM)?)
    }
}

/// Checks the archive and copies the event out, as a reader that keeps events does.
fn decode(bytes: &[u8]) -> Result<(String, Vec<u8>)> {
    let event = rkyv::access::<ArchivedBenchEvent, rancor::Error>(bytes)?;
    Ok((event.event_type.as_str().to_owned(), event.data.as_slice().to_vec()))
}

struct VarveWriter {
    stream: BenchStream,
    id: StreamId,
}

impl Writer for VarveWriter {
    fn append(&mut self, payloads: Vec<Vec<u8>>) -> Result<()> {
        if payloads.len() == 1 {
            let event = BenchEvent::new(payloads.into_iter().next().unwrap_or_default());
            self.stream.append_alloc(self.id, &event)?;
        } else {
            let events: Vec<BenchEvent> = payloads.into_iter().map(BenchEvent::new).collect();
            self.stream.append_batch_alloc(self.id, &events)?;
        }
        Ok(())
    }
}

/// The stream handle every racer shares, and the revision of its last event as known to the
/// application. varvedb cannot report a stream's current revision cheaply nor append on a
/// condition, so a user who needs optimistic concurrency must keep both behind one lock.
struct RaceState {
    stream: BenchStream,
    last_revision: Option<u64>,
}

struct VarveRacer {
    shared: Arc<Mutex<RaceState>>,
}

impl VarveRacer {
    fn lock(&self) -> Result<MutexGuard<'_, RaceState>> {
        self.shared.lock().map_err(|_| bench_error("a varvedb racer panicked holding the stream lock"))
    }
}

impl Racer for VarveRacer {
    fn attempt(&mut self, payload: Vec<u8>) -> Result<Attempt> {
        let seen = self.lock()?.last_revision;
        let mut state = self.lock()?;
        if state.last_revision != seen {
            return Ok(Attempt::Conflict);
        }
        let (revision, _) = state.stream.append_alloc(StreamId(0), &BenchEvent::new(payload))?;
        state.last_revision = Some(revision.0);
        Ok(Attempt::Committed)
    }
}

impl Store for VarveStore {
    fn writers(&mut self, count: usize) -> Result<Writers<'_>> {
        // A `Stream` appends through `&mut self`, so each thread gets its own handle; handles
        // share one LMDB env, which serialises their write transactions.
        (0..count as u64)
            .map(|i| Ok(Box::new(VarveWriter { stream: self.stream()?, id: StreamId(i) }) as Box<dyn Writer>))
            .collect()
    }

    fn racers(&mut self, count: usize) -> Result<Racers<'_>> {
        let shared = Arc::new(Mutex::new(RaceState { stream: self.stream()?, last_revision: None }));
        Ok(Racers::Handles(
            (0..count).map(|_| Box::new(VarveRacer { shared: shared.clone() }) as Box<dyn Racer>).collect(),
        ))
    }

    fn preload(&mut self, plan: Preload) -> Result<()> {
        let mut stream = self.stream()?;
        for (id, first, count) in plan.appends() {
            let events: Vec<BenchEvent> =
                (first..first + count).map(|seq| BenchEvent::new((plan.payload)(seq))).collect();
            stream.append_batch_alloc(StreamId(id), &events)?;
        }
        Ok(())
    }

    fn read_stream(&mut self, stream: u64) -> Result<u64> {
        let handle = self.stream()?;
        let reader = handle.reader();
        let mut events = Vec::new();
        let mut failure = None;
        // `for_each` lends each payload from the read transaction; decoding it there and
        // copying the result out is what `collect_bytes` + decode would do, minus a copy.
        reader.iter_stream(StreamId(stream), None)?.for_each(|revision, bytes| match decode(bytes) {
            Ok(event) => events.push((revision, event)),
            Err(e) => {
                failure.get_or_insert(e);
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(std::hint::black_box(events).len() as u64),
        }
    }

    fn scan_all(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        // `iter_from` has no limit: a paging reader would rescan to the end on every page, so a
        // user reads the log in one pass. The driver's "page" latency is then the time per
        // `page` events of that pass.
        let reader = self.varve.global_reader();
        let mut in_page = 0;
        let mut total = 0;
        let mut failure = None;
        reader.iter_from(GlobalSequence(0))?.for_each(|event| {
            match decode(&event.payload) {
                Ok(decoded) => {
                    std::hint::black_box((event.global_seq, event.stream_id, event.stream_seq, decoded));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
            in_page += 1;
            total += 1;
            if in_page == page {
                on_page(in_page);
                in_page = 0;
            }
        })?;
        if in_page > 0 {
            on_page(in_page);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    fn event_count(&mut self) -> Result<u64> {
        Ok(self.varve.next_global_seq().0)
    }

    fn close(self: Box<Self>) -> Result<()> {
        drop(self);
        Ok(())
    }
}

/// How this store does `workload` differently from its description, if it does.
pub fn note(workload: Workload) -> Option<&'static str> {
    Some(match workload {
        Workload::Append1 | Workload::Append8 | Workload::Append64 => {
            "varvedb has no expected-version check: unconditional appends (one Stream handle per thread)"
        }
        Workload::Append64Tasks
        | Workload::CatchUp
        | Workload::Live
        | Workload::SchemaBatch100
        | Workload::SchemaAppend64
        | Workload::SealedAppend64
        | Workload::SealedAppend64Large
        | Workload::SealedScanAll
        | Workload::SealedScanAllLarge => return None,
        Workload::Batch100 => {
            "varvedb has no expected-version check: unconditional `append_batch_alloc` (one transaction)"
        }
        Workload::Race64 => {
            "varvedb has no expected-version check: emulated in the application with one mutex over the \
             shared Stream handle and the last revision it appended"
        }
        Workload::ReadStream => {
            "varvedb: `iter_stream(..).for_each`, each event checked (rkyv) and copied out"
        }
        Workload::ScanAll => {
            "varvedb cannot page `iter_from` (no limit): one `for_each` pass over the log; latency is the \
             time per page-sized run of events within it"
        }
    })
}
