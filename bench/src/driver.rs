//! Drives the stores: threads, clocks and latency histograms. Stores only do operations; all
//! timing happens here, the same way for every store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::stores::{bench_error, Attempt, BoxError, Racer, Result, Writer};
use crate::workload::payload;

/// What one workload did on one store.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Events written (successfully) or read.
    pub events: u64,
    /// Operations timed: appends, attempts, whole-stream reads or pages.
    pub ops: u64,
    /// Race attempts that lost to another writer (wrote nothing).
    pub conflicts: u64,
    /// Events of the thread that did the most: against `events`, it shows whether a store
    /// shares its throughput among threads or lets one win again and again.
    pub busiest_thread_events: u64,
    /// Wall time from the common start to the end of the last thread.
    pub elapsed: Duration,
    /// Latency of each operation, in microseconds.
    pub latency: Histogram<u64>,
}

impl Measurement {
    pub fn empty(elapsed: Duration) -> Measurement {
        Measurement {
            events: 0,
            ops: 0,
            conflicts: 0,
            busiest_thread_events: 0,
            elapsed,
            latency: histogram(),
        }
    }

    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn p50_us(&self) -> u64 {
        self.latency.value_at_quantile(0.50)
    }

    pub fn p99_us(&self) -> u64 {
        self.latency.value_at_quantile(0.99)
    }

    pub fn p999_us(&self) -> u64 {
        self.latency.value_at_quantile(0.999)
    }
}

/// 1 µs to 1 hour at 3 significant digits: any single operation here fits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

pub fn record(hist: &mut Histogram<u64>, took: Duration) {
    // Sub-microsecond operations count as 1 µs: the lowest trackable value.
    hist.saturating_record((took.as_micros() as u64).max(1));
}

/// What one thread did.
struct ThreadTally {
    events: u64,
    ops: u64,
    conflicts: u64,
    latency: Histogram<u64>,
}

/// Runs `body(i, handle, should_run)` on one thread per handle until `duration` has passed, all
/// threads released together, and merges their tallies. A failing thread stops the others early.
fn run_threads<T: Send>(
    handles: Vec<T>,
    duration: Duration,
    body: impl Fn(usize, &mut T, &dyn Fn() -> bool) -> Result<ThreadTally> + Sync,
) -> Result<Measurement> {
    let threads = handles.len();
    let start_line = Barrier::new(threads + 1);
    let failed = AtomicBool::new(false);
    let (elapsed, tallies) = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(i, mut handle)| {
                let (start_line, failed, body) = (&start_line, &failed, &body);
                scope.spawn(move || {
                    start_line.wait();
                    let deadline = Instant::now() + duration;
                    let should_run = || Instant::now() < deadline && !failed.load(Ordering::Relaxed);
                    let tally = body(i, &mut handle, &should_run);
                    if tally.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    tally
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        let tallies: Vec<Result<ThreadTally>> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(bench_error("a benchmark thread panicked"))))
            .collect();
        (start.elapsed(), tallies)
    });
    merge(elapsed, tallies)
}

/// Sums what each thread or task did into one measurement.
fn merge(elapsed: Duration, tallies: Vec<Result<ThreadTally>>) -> Result<Measurement> {
    let mut total = Measurement::empty(elapsed);
    for tally in tallies {
        let tally = tally?;
        total.events += tally.events;
        total.ops += tally.ops;
        total.conflicts += tally.conflicts;
        total.busiest_thread_events = total.busiest_thread_events.max(tally.events);
        total.latency.add(&tally.latency).map_err(|e| bench_error(format!("merging histograms: {e:?}")))?;
    }
    Ok(total)
}

/// Payload sequence numbers of thread `i` start at `i << 40`, so every event of a run differs.
fn first_seq(thread: usize) -> u64 {
    (thread as u64) << 40
}

/// Each writer appends `events_per_append` events per call, back to back, for `duration`;
/// event `seq` carries `payload(seq)`.
pub fn run_writers(
    writers: Vec<Box<dyn Writer + '_>>,
    events_per_append: usize,
    duration: Duration,
    payload: fn(u64) -> Vec<u8>,
) -> Result<Measurement> {
    run_threads(writers, duration, |i, writer, should_run| {
        let mut tally = ThreadTally { events: 0, ops: 0, conflicts: 0, latency: histogram() };
        let mut seq = first_seq(i);
        while should_run() {
            // The payloads are built before the clock starts: we time the store, not format!.
            let payloads: Vec<Vec<u8>> = (seq..seq + events_per_append as u64).map(payload).collect();
            seq += events_per_append as u64;
            let started = Instant::now();
            writer.append(payloads)?;
            record(&mut tally.latency, started.elapsed());
            tally.ops += 1;
            tally.events += events_per_append as u64;
        }
        Ok(tally)
    })
}

/// `tasks` async tasks on a 2-thread tokio runtime (a server's shape: many requests in flight,
/// few threads), each appending one event at a time to its own stream with `append_async`.
pub fn run_async_writers(db: graveyard::Db, tasks: usize, duration: Duration) -> Result<Measurement> {
    use graveyard::{EventData, ExpectedVersion};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build()?;
    let (elapsed, tallies) = runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + duration;
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tally = ThreadTally { events: 0, ops: 0, conflicts: 0, latency: histogram() };
                    let stream = crate::stores::stream_name(i as u64);
                    let mut expected = ExpectedVersion::NoStream;
                    let mut seq = first_seq(i);
                    while Instant::now() < deadline {
                        let event = EventData::json_bytes(crate::workload::EVENT_TYPE, payload(seq));
                        seq += 1;
                        let started = Instant::now();
                        let result = db.append_async(&stream, expected, vec![event]).await?;
                        record(&mut tally.latency, started.elapsed());
                        expected = ExpectedVersion::Exact(result.last_revision);
                        tally.ops += 1;
                        tally.events += 1;
                    }
                    Ok::<_, BoxError>(tally)
                })
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks);
        for handle in handles {
            tallies.push(handle.await.map_err(|e| bench_error(format!("a benchmark task failed: {e}")))?);
        }
        Ok::<_, BoxError>((start.elapsed(), tallies))
    })?;
    merge(elapsed, tallies)
}

/// Subscribes to $all from the start and takes `total` preloaded events; one latency sample per
/// `page` deliveries.
pub fn run_catch_up(db: &graveyard::Db, total: u64, page: u64) -> Result<Measurement> {
    use graveyard::{SubscribeOptions, SubscriptionMessage};
    let mut latency = histogram();
    let start = Instant::now();
    let mut sub = db.subscribe_to_all(SubscribeOptions::from_start())?;
    let (mut events, mut next) = (0u64, 0u64);
    let mut page_start = Instant::now();
    while events < total {
        match sub.next_blocking() {
            Some(Ok(SubscriptionMessage::Event(e))) => {
                if e.position != next {
                    return Err(bench_error(format!(
                        "catch-up expected position {next}, got {}",
                        e.position
                    )));
                }
                std::hint::black_box(&e.data);
                next += 1;
                events += 1;
                if events % page == 0 {
                    record(&mut latency, page_start.elapsed());
                    page_start = Instant::now();
                }
            }
            Some(Ok(SubscriptionMessage::CaughtUp)) => {
                return Err(bench_error(format!("caught up after {events} of {total} events")));
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(bench_error("the subscription ended")),
        }
    }
    let mut m = Measurement::empty(start.elapsed());
    m.events = events;
    m.ops = events / page;
    m.latency = latency;
    Ok(m)
}

/// One writer appends single events (durably) for `duration` while a live subscriber records,
/// for each event, the time from issuing its append to receiving it.
pub fn run_live(db: &graveyard::Db, duration: Duration) -> Result<Measurement> {
    const STOP: &str = "BenchStop";
    use graveyard::{EventData, ExpectedVersion, SubscribeOptions, SubscriptionMessage};
    use std::sync::Mutex;
    let issued: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    let base = db.head_position()?;
    let mut sub = db.subscribe_to_all(SubscribeOptions::from_end())?;
    let start = Instant::now();
    let (written, latency) = std::thread::scope(|scope| -> Result<(u64, Histogram<u64>)> {
        let writer = scope.spawn(|| -> Result<u64> {
            let mut n = 0u64;
            while start.elapsed() < duration {
                issued.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
                let event = EventData::json_bytes(crate::workload::EVENT_TYPE, payload(n));
                db.append("live", ExpectedVersion::Any, vec![event])?;
                n += 1;
            }
            // The subscriber stops at this one: it may be waiting for an event when time is up.
            db.append("live", ExpectedVersion::Any, vec![EventData::json_bytes(STOP, b"{}".to_vec())])?;
            Ok(n)
        });
        let mut latency = histogram();
        let mut received = 0u64;
        loop {
            match sub.next_blocking() {
                Some(Ok(SubscriptionMessage::Event(e))) if e.event_type == STOP => break,
                Some(Ok(SubscriptionMessage::Event(e))) => {
                    let at = Instant::now();
                    let index = (e.position - base) as usize;
                    let sent = issued.lock().unwrap_or_else(|p| p.into_inner())[index];
                    record(&mut latency, at - sent);
                    received += 1;
                }
                Some(Ok(SubscriptionMessage::CaughtUp)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(bench_error("the subscription ended")),
            }
        }
        let n = writer.join().map_err(|_| bench_error("the writer panicked"))??;
        if received != n {
            return Err(bench_error(format!("the subscriber received {received} of {n} events")));
        }
        Ok((n, latency))
    })?;
    let mut m = Measurement::empty(start.elapsed());
    m.events = written;
    m.ops = written;
    m.latency = latency;
    Ok(m)
}

/// Each racer attempts conditional single-event appends on the shared stream for `duration`.
pub fn run_racers(racers: Vec<Box<dyn Racer + '_>>, duration: Duration) -> Result<Measurement> {
    run_threads(racers, duration, |i, racer, should_run| {
        let mut tally = ThreadTally { events: 0, ops: 0, conflicts: 0, latency: histogram() };
        let mut seq = first_seq(i);
        while should_run() {
            let data = payload(seq);
            seq += 1;
            let started = Instant::now();
            let attempt = racer.attempt(data)?;
            record(&mut tally.latency, started.elapsed());
            tally.ops += 1;
            match attempt {
                Attempt::Committed => tally.events += 1,
                Attempt::Conflict => tally.conflicts += 1,
            }
        }
        Ok(tally)
    })
}

/// Repeats a whole read (returning the events it read) at least `min_reps` times and until
/// `min_time` has passed; each read must return `expected` events.
pub fn run_reads(
    min_reps: u32,
    min_time: Duration,
    expected: u64,
    mut read: impl FnMut() -> Result<u64>,
) -> Result<Measurement> {
    let mut m = Measurement::empty(Duration::ZERO);
    let start = Instant::now();
    while m.ops < u64::from(min_reps) || start.elapsed() < min_time {
        let started = Instant::now();
        let events = read()?;
        record(&mut m.latency, started.elapsed());
        check_count(events, expected)?;
        m.ops += 1;
        m.events += events;
    }
    m.elapsed = start.elapsed();
    Ok(m)
}

/// Like [`run_reads`] for a paged scan: `scan` calls the page callback after each page, and the
/// latency recorded is the time per page.
pub fn run_scans(
    min_reps: u32,
    min_time: Duration,
    expected: u64,
    mut scan: impl FnMut(&mut dyn FnMut(u64)) -> Result<u64>,
) -> Result<Measurement> {
    let mut m = Measurement::empty(Duration::ZERO);
    let start = Instant::now();
    let mut reps = 0;
    while reps < min_reps || start.elapsed() < min_time {
        let mut page_started = Instant::now();
        let mut pages = 0;
        let events = scan(&mut |_events_in_page| {
            let now = Instant::now();
            record(&mut m.latency, now - page_started);
            pages += 1;
            page_started = now;
        })?;
        check_count(events, expected)?;
        m.ops += pages;
        m.events += events;
        reps += 1;
    }
    m.elapsed = start.elapsed();
    Ok(m)
}

fn check_count(read: u64, expected: u64) -> Result<(), BoxError> {
    if read == expected {
        Ok(())
    } else {
        Err(bench_error(format!("read {read} events, the store was loaded with {expected}")))
    }
}
