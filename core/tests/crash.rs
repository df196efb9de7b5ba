//! Crash test: a child process appends under load with the default (fsync) durability and is
//! killed with SIGKILL at a random moment, sometimes while it is still opening the store. The
//! parent then reopens the store and proves that every acknowledged append survived exactly
//! (same ids, revisions and positions), that no append is partially visible, and that $all and
//! every stream stay gapless. The kills accumulate on one store, so reopening a store that
//! crashed many times is exercised too.
//!
//! The child is this same test binary, run as `crash_child --exact --nocapture` with the seed
//! and the directory in `GRAVEYARD_CRASH_CHILD`; without that variable `crash_child` returns at
//! once, so a plain `cargo test` runs only the parent. `GRAVEYARD_CRASH_ITERATIONS` raises the
//! number of kills (default 25), `GRAVEYARD_CRASH_SEED` replays a run.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use graveyard::{
    AppendResult, CurrentRevision, Db, Error, ErrorCode, EventData, ExpectedVersion, ReadAllOptions,
    ReadOptions, RecordedEvent, Uuid, CONTENT_TYPE_BINARY,
};

const CHILD_ENV: &str = "GRAVEYARD_CRASH_CHILD";
/// The engine's test hook for its checkpoint threshold.
const CHECKPOINT_BYTES_ENV: &str = "GRAVEYARD_TEST_CHECKPOINT_BYTES";
/// The engine's test hook for its largest log segment.
const SEGMENT_BYTES_ENV: &str = "GRAVEYARD_TEST_SEGMENT_BYTES";
/// Prefix-related names on purpose: a stream must never pick up the events of another.
const STREAMS: [&str; 4] = ["crash-a", "crash-a-1", "crash-ab", "crash-b"];
const WRITERS: usize = 4;
const EVENT_TYPE: &str = "crash";
/// A child that was never killed (the parent died) stops by itself after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(30);

/// One append the child saw acknowledged, as printed on its stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    stream: String,
    result: AppendResult,
    batch: Uuid,
    ids: Vec<Uuid>,
}

impl Ack {
    fn line(&self) -> String {
        let ids: Vec<String> = self.ids.iter().map(Uuid::to_string).collect();
        let r = &self.result;
        format!(
            "ACK {} {} {} {} {} {} {} END",
            self.stream,
            r.first_revision,
            r.last_revision,
            r.first_position,
            r.last_position,
            self.batch,
            ids.join(",")
        )
    }

    /// Parses a complete line; a torn or foreign line gives `None`.
    fn parse(line: &str) -> Option<Ack> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [tag, stream, fr, lr, fp, lp, batch, ids, end] = fields[..] else { return None };
        if tag != "ACK" || end != "END" {
            return None;
        }
        let result = AppendResult {
            first_revision: fr.parse().ok()?,
            last_revision: lr.parse().ok()?,
            first_position: fp.parse().ok()?,
            last_position: lp.parse().ok()?,
        };
        let ids = ids.split(',').map(|id| id.parse().ok()).collect::<Option<Vec<Uuid>>>()?;
        Some(Ack { stream: stream.to_string(), result, batch: batch.parse().ok()?, ids })
    }
}

/// The batch marker each event carries in its metadata: which append it belongs to, its index
/// in it, the size of the append and a hash of its data, so that the parent can check appends
/// that were never acknowledged and catch torn records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker {
    batch: Uuid,
    index: u64,
    size: u64,
    data_hash: u64,
}

impl Marker {
    fn encode(&self) -> String {
        format!("{} {} {} {:016x}", self.batch, self.index, self.size, self.data_hash)
    }

    fn decode(bytes: &[u8]) -> Option<Marker> {
        let text = std::str::from_utf8(bytes).ok()?;
        let fields: Vec<&str> = text.split(' ').collect();
        let [batch, index, size, hash] = fields[..] else { return None };
        Some(Marker {
            batch: batch.parse().ok()?,
            index: index.parse().ok()?,
            size: size.parse().ok()?,
            data_hash: u64::from_str_radix(hash, 16).ok()?,
        })
    }
}

/// FNV-1a: enough to notice a record whose data is not what was written.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

// ------------------------------------------------------------------------------------------
// The child: writers that never stop until the parent kills the process.
// ------------------------------------------------------------------------------------------

/// Runs only in the child process (see the module docs); returns at once otherwise.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut parts = spec.splitn(3, ':');
    let (Some(seed), Some(encrypted), Some(dir)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("GRAVEYARD_CRASH_CHILD is <seed>:<encrypted>:<dir>")
    };
    let seed: u64 = seed.parse().expect("seed is a u64");
    let db = open_store(Path::new(dir), encrypted == "true")
        .unwrap_or_else(|e| panic!("child: opening {dir} failed: {e} ({})", e.code()));
    say("OPENED");
    let deadline = Instant::now() + CHILD_LIFETIME;
    let writers: Vec<_> = (0..WRITERS as u64)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || {
                write_until(&db, seed.wrapping_add(w.wrapping_mul(0x9e37_79b9_7f4a_7c15)), deadline)
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("child writer panicked");
    }
}

/// Prints one line and flushes it: a line the parent reads whole was acknowledged before the kill.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        // The parent is gone: nobody will check what happens next.
        std::process::exit(0);
    }
}

fn current_of(db: &Db, stream: &str) -> CurrentRevision {
    match db.stream_info(stream) {
        Ok(info) => info.current,
        Err(e) if e.code() == ErrorCode::NotFound => CurrentRevision::NoStream,
        Err(e) => panic!("child: stream_info({stream}) failed: {e} ({})", e.code()),
    }
}

fn write_until(db: &Db, seed: u64, deadline: Instant) {
    let mut rng = fastrand::Rng::with_seed(seed);
    // What this writer believes each stream's current revision is; corrected by conflicts.
    let mut known: HashMap<&str, CurrentRevision> = STREAMS.iter().map(|s| (*s, current_of(db, s))).collect();
    while Instant::now() < deadline {
        let stream = STREAMS[rng.usize(..STREAMS.len())];
        let size = if rng.bool() { 1 } else { rng.usize(1..20) };
        let batch = Uuid::new_v4();
        let events: Vec<EventData> = (0..size)
            .map(|index| {
                // Mostly small events, sometimes one spanning several pages.
                let len = if rng.u8(..64) == 0 { rng.usize(4096..16_384) } else { rng.usize(0..300) };
                let mut data = vec![0u8; len];
                rng.fill(&mut data);
                let marker =
                    Marker { batch, index: index as u64, size: size as u64, data_hash: fnv1a(&data) };
                EventData::binary(EVENT_TYPE, data).with_id(Uuid::new_v4()).with_metadata(marker.encode())
            })
            .collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.id.expect("ids are set")).collect();
        let expected = if rng.u8(..5) == 0 {
            ExpectedVersion::Any
        } else {
            match known[stream] {
                CurrentRevision::NoStream => ExpectedVersion::NoStream,
                CurrentRevision::Revision(r) => ExpectedVersion::Exact(r),
            }
        };
        match db.append(stream, expected, events) {
            Ok(result) => {
                let n = size as u64;
                assert_eq!(
                    result.last_revision + 1 - result.first_revision,
                    n,
                    "child: {result:?} for {n} events"
                );
                assert_eq!(
                    result.last_position + 1 - result.first_position,
                    n,
                    "child: {result:?} for {n} events"
                );
                if let ExpectedVersion::Exact(r) = expected {
                    assert_eq!(result.first_revision, r + 1, "child: Exact({r}) gave {result:?}");
                }
                if expected == ExpectedVersion::NoStream {
                    assert_eq!(result.first_revision, 0, "child: NoStream gave {result:?}");
                }
                known.insert(stream, CurrentRevision::Revision(result.last_revision));
                say(&Ack { stream: stream.to_string(), result, batch, ids }.line());
            }
            Err(Error::WrongExpectedVersion { stream: s, expected: e, actual }) => {
                assert_eq!((s.as_str(), e), (stream, expected), "child: conflict reports another request");
                assert!(
                    !actual.satisfies(expected),
                    "child: conflict on {stream}: {expected} vs actual {actual}"
                );
                known.insert(stream, actual);
            }
            Err(e) => panic!("child: append to {stream} failed: {e} ({})", e.code()),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The parent: kill, reopen, check.
// ------------------------------------------------------------------------------------------

struct ChildRun {
    acks: Vec<Ack>,
    opened: bool,
}

/// Runs the child on `dir` and kills it with SIGKILL after `delay`; returns what it acknowledged.
/// The store under test; encrypted stores also write the keyring before their commits.
fn open_store(dir: &Path, encrypted: bool) -> graveyard::Result<Db> {
    let mut options = graveyard::Options::new(dir);
    if encrypted {
        options = options.master_key(graveyard::crypto::Key::from_bytes(&[0x42; 32]).expect("32 bytes"));
    }
    Db::open_with(options)
}

fn run_child(dir: &Path, seed: u64, encrypted: bool, delay: Duration) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{seed}:{encrypted}:{}", dir.display()))
        // Half the children checkpoint every 64 KiB logged instead of every 64 MiB: kills then
        // land during checkpoints too (the sync of LMDB, the checkpoint file's rename, the
        // removal of covered log segments).
        .env(CHECKPOINT_BYTES_ENV, if seed.is_multiple_of(2) { "65536" } else { "" })
        // Half the children fill 256 KiB segments instead of 64 MiB ones: kills then land while
        // covered segments are kept as spares and reused, and the store grows over old records.
        .env(SEGMENT_BYTES_ENV, if seed % 4 < 2 { "262144" } else { "" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let lines = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill has no newline: it was never acknowledged.
                Ok(_) if buf.last() == Some(&b'\n') => {
                    lines.push(String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned())
                }
                Ok(_) => break,
            }
        }
        lines
    });
    let errors = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });

    thread::sleep(delay);
    let early_exit = child.try_wait().expect("polling the child");
    if early_exit.is_none() {
        child.kill().expect("SIGKILL to the child");
    }
    let status = child.wait().expect("reaping the child");
    let lines = lines.join().expect("stdout reader");
    let errors = errors.join().expect("stderr reader");
    // The child never stops by itself before its lifetime: exiting early means it failed.
    assert!(
        early_exit.is_none(),
        "the child exited by itself ({status}) before the kill; stderr:\n{errors}\nstdout:\n{}",
        lines.join("\n")
    );
    // libtest's "test crash_child ... " has no newline, so the marker may end that line.
    let opened = lines.iter().any(|l| l.ends_with("OPENED"));
    let acks: Vec<Ack> =
        lines.iter().filter(|l| l.starts_with("ACK ")).filter_map(|l| Ack::parse(l)).collect();
    assert!(
        acks.len() == lines.iter().filter(|l| l.starts_with("ACK ")).count(),
        "a complete ACK line did not parse: {lines:?}"
    );
    ChildRun { acks, opened }
}

/// Everything the store must show after any crash; returns the $all log. `thorough` adds the
/// backwards reads, which cost as much again.
fn verify(db: &Db, acked: &[Ack], thorough: bool, context: &str) -> Vec<RecordedEvent> {
    let all = db.read_all(ReadAllOptions::forwards()).unwrap_or_else(|e| panic!("{context}: read_all: {e}"));
    let head = db.head_position().unwrap_or_else(|e| panic!("{context}: head_position: {e}"));
    assert_eq!(head, all.len() as u64, "{context}: head position vs number of events in $all");

    // $all: positions exactly 0..N, timestamps never decrease, ids unique.
    let mut ids = HashSet::new();
    for (i, event) in all.iter().enumerate() {
        assert_eq!(event.position, i as u64, "{context}: $all is not gapless at index {i}: {event:?}");
        assert!(ids.insert(event.id), "{context}: event id {} stored twice", event.id);
        if i > 0 {
            assert!(
                all[i - 1].timestamp <= event.timestamp,
                "{context}: timestamp decreases at position {i}: {} then {}",
                all[i - 1].timestamp,
                event.timestamp
            );
        }
    }
    if thorough {
        let backwards = db.read_all(ReadAllOptions::backwards()).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert!(backwards.iter().eq(all.iter().rev()), "{context}: $all backwards is not $all reversed");
    }

    // Every event is whole and belongs to a whole append.
    let mut batches: HashMap<Uuid, Vec<(&RecordedEvent, Marker)>> = HashMap::new();
    for event in &all {
        let marker = Marker::decode(&event.metadata).unwrap_or_else(|| {
            panic!("{context}: event at {} has a torn batch marker: {event:?}", event.position)
        });
        assert_eq!(event.event_type, EVENT_TYPE, "{context}: event at {}", event.position);
        assert_eq!(event.content_type, CONTENT_TYPE_BINARY, "{context}: event at {}", event.position);
        assert!(!event.shredded, "{context}: event at {} is shredded", event.position);
        assert_eq!(
            fnv1a(&event.data),
            marker.data_hash,
            "{context}: data of event at {} is torn",
            event.position
        );
        batches.entry(marker.batch).or_default().push((event, marker));
    }
    for (batch, events) in &batches {
        let (first, marker) = events[0];
        assert_eq!(
            events.len() as u64,
            marker.size,
            "{context}: append {batch} is partially visible: {} of {} events, the first at position {}",
            events.len(),
            marker.size,
            first.position
        );
        for (i, (event, m)) in events.iter().enumerate() {
            let i = i as u64;
            assert_eq!(m.index, i, "{context}: append {batch} out of order at position {}", event.position);
            assert_eq!(m.size, marker.size, "{context}: append {batch} disagrees on its size");
            assert_eq!(event.stream, first.stream, "{context}: append {batch} spans streams");
            assert_eq!(
                event.position,
                first.position + i,
                "{context}: append {batch} is not contiguous in $all"
            );
            assert_eq!(
                event.revision,
                first.revision + i,
                "{context}: append {batch} has non-consecutive revisions"
            );
        }
    }

    // Streams: in position order their revisions are exactly 0..k, and reading them gives
    // exactly their events of $all.
    let mut streams: Vec<&str> = STREAMS.to_vec();
    for event in &all {
        if !streams.contains(&event.stream.as_str()) {
            streams.push(&event.stream);
        }
    }
    for stream in streams {
        let expected: Vec<&RecordedEvent> = all.iter().filter(|e| e.stream == stream).collect();
        for (r, event) in expected.iter().enumerate() {
            assert_eq!(
                event.revision, r as u64,
                "{context}: {stream}: revisions in $all order are not 0..k (at position {})",
                event.position
            );
        }
        let read = db.read_stream(stream, ReadOptions::forwards());
        let info = db.stream_info(stream);
        if expected.is_empty() {
            assert_eq!(
                read.map_err(|e| e.code()),
                Err(ErrorCode::NotFound),
                "{context}: read of empty {stream}"
            );
            assert_eq!(
                info.map_err(|e| e.code()),
                Err(ErrorCode::NotFound),
                "{context}: info of empty {stream}"
            );
            continue;
        }
        let read = read.unwrap_or_else(|e| panic!("{context}: read_stream({stream}): {e}"));
        assert!(
            read.iter().eq(expected.iter().copied()),
            "{context}: read_stream({stream}) differs from $all"
        );
        if thorough {
            let backwards = db
                .read_stream(stream, ReadOptions::backwards())
                .unwrap_or_else(|e| panic!("{context}: read_stream({stream}) backwards: {e}"));
            assert!(
                backwards.iter().eq(read.iter().rev()),
                "{context}: {stream} backwards is not forwards reversed"
            );
        }
        let info = info.unwrap_or_else(|e| panic!("{context}: stream_info({stream}): {e}"));
        let last = expected.len() as u64 - 1;
        assert_eq!(info.current, CurrentRevision::Revision(last), "{context}: {stream} current revision");
        assert_eq!(info.next_revision, last + 1, "{context}: {stream} next revision");
        assert!(!info.deleted, "{context}: {stream} reads as deleted");
    }

    // Every acknowledged append is there, exactly as acknowledged.
    for ack in acked {
        let r = &ack.result;
        assert!(
            r.last_position < all.len() as u64,
            "{context}: acknowledged append is lost: {ack:?} ($all has {} events)",
            all.len()
        );
        let events = &all[r.first_position as usize..=r.last_position as usize];
        let got: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        assert_eq!(
            got, ack.ids,
            "{context}: ids at positions {}..={} for {ack:?}",
            r.first_position, r.last_position
        );
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event.stream, ack.stream, "{context}: {ack:?}");
            assert_eq!(event.revision, r.first_revision + i as u64, "{context}: {ack:?}");
            assert_eq!(
                Marker::decode(&event.metadata).map(|m| m.batch),
                Some(ack.batch),
                "{context}: {ack:?}"
            );
        }
        assert_eq!(
            r.last_revision - r.first_revision,
            r.last_position - r.first_position,
            "{context}: {ack:?}"
        );
    }
    all
}

/// Retrying an acknowledged append after the crash is recognised: same result, nothing written.
fn retry_is_idempotent(db: &Db, all: &[RecordedEvent], ack: &Ack, exact: bool, context: &str) {
    let r = ack.result;
    let events: Vec<EventData> = all[r.first_position as usize..=r.last_position as usize]
        .iter()
        .map(|e| {
            EventData::binary(&e.event_type, e.data.clone()).with_id(e.id).with_metadata(e.metadata.clone())
        })
        .collect();
    let expected = match (exact, r.first_revision) {
        (false, _) => ExpectedVersion::Any,
        (true, 0) => ExpectedVersion::NoStream,
        (true, n) => ExpectedVersion::Exact(n - 1),
    };
    let head = db.head_position().expect("head_position");
    let retried = db.append(&ack.stream, expected, events).map_err(|e| e.to_string());
    assert_eq!(retried, Ok(r), "{context}: retry of {ack:?} with {expected:?}");
    assert_eq!(db.head_position().expect("head_position"), head, "{context}: the retry wrote events");
}

#[test]
fn crash_recovery() {
    crash_recovery_of(false, 25);
}

/// The same with encryption: a new stream's data key is durable before its first sealed event
/// commits, so every acknowledged event still opens after any kill.
#[test]
fn crash_recovery_encrypted() {
    crash_recovery_of(true, 12);
}

/// The plain and the encrypted test take turns. A child spawned by one copies the parent's
/// file descriptors until it execs, the other test's store lock among them (a `flock` belongs
/// to the open file description, which the copy keeps alive): the other test's next child
/// could then find its store locked.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn crash_recovery_of(encrypted: bool, default_iterations: usize) {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let iterations: usize = std::env::var("GRAVEYARD_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_iterations);
    let seed: u64 = std::env::var("GRAVEYARD_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test: GRAVEYARD_CRASH_SEED={seed} GRAVEYARD_CRASH_ITERATIONS={iterations}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let started = Instant::now();

    let mut acked: Vec<Ack> = Vec::new();
    let mut killed_before_open = 0;
    for iteration in 0..iterations {
        // Some kills land while the child is still starting or opening the store.
        let delay = match rng.u8(..100) {
            0..10 => rng.u64(0..8),
            10..20 => rng.u64(8..25),
            _ => rng.u64(25..400),
        };
        let run = run_child(&store, rng.u64(..), encrypted, Duration::from_millis(delay));
        if !run.opened {
            killed_before_open += 1;
        }
        let context =
            format!("seed {seed}, iteration {iteration} (killed after {delay} ms, {} acks)", run.acks.len());
        acked.extend(run.acks);

        let db = open_store(&store, encrypted)
            .unwrap_or_else(|e| panic!("{context}: reopening failed: {e} ({})", e.code()));
        let all = verify(&db, &acked, false, &context);
        if !acked.is_empty() {
            let ack = &acked[rng.usize(..acked.len())];
            retry_is_idempotent(&db, &all, ack, rng.bool(), &context);
        }
        db.close();
    }

    // After all the crashes, the store takes new appends where the log left off.
    let context = format!("seed {seed}, after the crashes");
    let db = open_store(&store, encrypted).unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
    let all = verify(&db, &acked, true, &context);
    let mut head = all.len() as u64;
    let fresh = format!("crash-new-{seed}");
    let mut streams: Vec<&str> = STREAMS.to_vec();
    streams.push(&fresh);
    for stream in streams {
        let last = all.iter().filter(|e| e.stream == stream).map(|e| e.revision).max();
        let expected = last.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let next = last.map_or(0, |l| l + 1);
        let batch = Uuid::new_v4();
        let events: Vec<EventData> = (0..3u64)
            .map(|index| {
                let data = format!("after {index}").into_bytes();
                let marker = Marker { batch, index, size: 3, data_hash: fnv1a(&data) };
                EventData::binary(EVENT_TYPE, data).with_id(Uuid::new_v4()).with_metadata(marker.encode())
            })
            .collect();
        let ids = events.iter().map(|e| e.id.expect("ids are set")).collect();
        let result =
            db.append(stream, expected, events).unwrap_or_else(|e| panic!("{context}: {stream}: {e}"));
        let want = AppendResult {
            first_revision: next,
            last_revision: next + 2,
            first_position: head,
            last_position: head + 2,
        };
        assert_eq!(result, want, "{context}: append to {stream} with {expected:?}");
        head += 3;
        acked.push(Ack { stream: stream.to_string(), result, batch, ids });
    }
    db.close();
    let db = open_store(&store, encrypted).unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
    let all = verify(&db, &acked, true, &context);
    assert_eq!(all.len() as u64, head, "{context}: events after the last reopen");
    db.close();

    let elapsed = started.elapsed();
    eprintln!(
        "crash test (encrypted: {encrypted}): {iterations} kills ({killed_before_open} before the store was open), {} acknowledged appends, \
         {} events in $all, {:.1} s",
        acked.len(),
        all.len(),
        elapsed.as_secs_f64()
    );
}
