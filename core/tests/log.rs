//! The commit log at its edges: a process killed after a commit's record is durable but before
//! LMDB has it, and a log whose last record was torn or corrupted by a crash.
//!
//! The child is this same test binary, run as `log_child --exact --nocapture` with the store's
//! directory and how many appends to make in `GRAVEYARD_LOG_CHILD`; it then aborts without
//! closing (no final checkpoint), or is aborted by the engine's crash hook.

use std::path::{Path, PathBuf};
use std::process::Command;

use graveyard::{Db, EventData, ExpectedVersion, ReadOptions};

const CHILD_ENV: &str = "GRAVEYARD_LOG_CHILD";
const CRASH_AFTER_LOG_ENV: &str = "GRAVEYARD_TEST_CRASH_AFTER_LOG";
const CHECKPOINT_BYTES_ENV: &str = "GRAVEYARD_TEST_CHECKPOINT_BYTES";
const CRASH_AFTER_COMMIT_ENV: &str = "GRAVEYARD_TEST_CRASH_AFTER_COMMIT";
const SEGMENT_BYTES_ENV: &str = "GRAVEYARD_TEST_SEGMENT_BYTES";

fn event(n: u64) -> EventData {
    padded(n, 40)
}

fn padded(n: u64, pad: usize) -> EventData {
    EventData::json("Logged", &serde_json::json!({ "n": n, "pad": "x".repeat(pad) })).unwrap()
}

/// What a child does: `count` appends with `pad` bytes of padding each (the first one with
/// `first_pad`), `pause_ms` apart, with these engine hooks.
#[derive(Clone, Copy)]
struct Child {
    count: u64,
    first_pad: usize,
    pad: usize,
    pause_ms: u64,
    crash_after_log: Option<u64>,
    crash_after_commit: Option<u64>,
    checkpoint_bytes: Option<u64>,
    segment_bytes: Option<u64>,
}

impl Child {
    fn appends(count: u64) -> Child {
        Child {
            count,
            first_pad: 40,
            pad: 40,
            pause_ms: 0,
            crash_after_log: None,
            crash_after_commit: None,
            checkpoint_bytes: None,
            segment_bytes: None,
        }
    }
}

#[test]
fn log_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let fields: Vec<&str> = spec.split('|').collect();
    let [dir, count, first_pad, pad, pause_ms] = fields[..] else { panic!("bad spec {spec}") };
    let number = |s: &str| s.parse::<u64>().unwrap();
    let db = Db::open(dir).unwrap();
    let first = db.read_stream("s", ReadOptions::forwards()).map_or(0, |e| e.len() as u64);
    for next in first..first + number(count) {
        let expected = if next == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(next - 1) };
        let pad = if next == first { number(first_pad) } else { number(pad) };
        if next > first {
            // Before, not after: the last append is followed at once by the kill.
            std::thread::sleep(std::time::Duration::from_millis(number(pause_ms)));
        }
        db.append("s", expected, vec![padded(next, pad as usize)]).unwrap();
        println!("ACK {next}");
    }
    // Killed: no close, so no final checkpoint; the appends are in the log only.
    std::process::abort();
}

/// Runs the child on `dir` for `count` appends; the revisions it saw acknowledged.
fn run_child(dir: &Path, count: u64, crash_after_log: Option<u64>) -> Vec<u64> {
    run(dir, Child { crash_after_log, ..Child::appends(count) })
}

/// Tests that run children take turns. A child spawned by one copies the parent's file
/// descriptors until it execs, another test's store lock among them (a `flock` belongs to the
/// open file description, which the copy keeps alive): that test's child or reopen could then
/// find its store locked.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// This test binary, to run only the child test `name`, with none of the engine's test hooks
/// but those the caller sets.
fn child_command(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--nocapture", "--test-threads", "1"]);
    for hook in [
        CRASH_AFTER_LOG_ENV,
        CRASH_AFTER_COMMIT_ENV,
        CHECKPOINT_BYTES_ENV,
        SEGMENT_BYTES_ENV,
        SETTLE_DELAY_ENV,
        FAIL_SETTLE_ENV,
    ] {
        command.env_remove(hook);
    }
    command
}

/// Runs a child that must finish and print `done`.
fn run_to_end(mut command: Command, done: &str) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(done),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(dir: &Path, child: Child) -> Vec<u64> {
    let Child { count, first_pad, pad, pause_ms, .. } = child;
    let mut command = child_command("log_child");
    command.env(CHILD_ENV, format!("{}|{count}|{first_pad}|{pad}|{pause_ms}", dir.display()));
    if let Some(n) = child.crash_after_log {
        command.env(CRASH_AFTER_LOG_ENV, n.to_string());
    }
    if let Some(n) = child.crash_after_commit {
        command.env(CRASH_AFTER_COMMIT_ENV, n.to_string());
    }
    if let Some(n) = child.checkpoint_bytes {
        command.env(CHECKPOINT_BYTES_ENV, n.to_string());
    }
    if let Some(n) = child.segment_bytes {
        command.env(SEGMENT_BYTES_ENV, n.to_string());
    }
    let output = command.output().unwrap();
    assert!(!output.status.success(), "the child was meant to die");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        // The harness prints "test log_child ... " before the first line.
        .filter_map(|l| l.split("ACK ").nth(1).and_then(|n| n.trim().parse().ok()))
        .collect()
}

fn revisions(db: &Db) -> Vec<u64> {
    let events = db.read_stream("s", ReadOptions::forwards()).unwrap();
    for (i, e) in events.iter().enumerate() {
        let data: serde_json::Value = serde_json::from_slice(&e.data).unwrap();
        assert_eq!(data["n"], i as u64, "event {i} holds another append's data");
        assert_eq!(e.position, i as u64);
    }
    events.iter().map(|e| e.revision).collect()
}

#[test]
fn a_commit_in_the_log_but_not_in_lmdb_is_replayed_at_open() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    // The third commit's record is durable, then the process dies before LMDB commits it.
    let acked = run_child(dir.path(), 5, Some(3));
    assert_eq!(acked, vec![0, 1]);
    let db = Db::open(dir.path()).unwrap();
    let recovery = db.recovery().unwrap();
    assert_eq!((recovery.replayed, recovery.torn.clone()), (3, None), "{recovery:?}");
    // Exactly once each, the unacknowledged third one included (its record was whole).
    assert_eq!(revisions(&db), vec![0, 1, 2]);
    db.append("s", ExpectedVersion::Exact(2), vec![event(3)]).unwrap();
    db.close();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovery().unwrap().replayed, 0, "a clean close leaves nothing to replay");
    assert_eq!(revisions(&db), vec![0, 1, 2, 3]);
}

/// The log's only segment, and the offsets of its records.
fn records(dir: &Path) -> (PathBuf, Vec<(usize, usize)>) {
    let mut segments: Vec<PathBuf> =
        std::fs::read_dir(dir.join("log")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.retain(|p| p.extension().is_some_and(|e| e == "log"));
    assert_eq!(segments.len(), 1, "{segments:?}");
    let bytes = std::fs::read(&segments[0]).unwrap();
    let mut at = 0;
    let mut found = Vec::new();
    loop {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        found.push((at, 16 + len));
        at += 16 + len;
    }
    (segments[0].clone(), found)
}

/// A batch of appends commits in LMDB before its record is synced (writer.rs, `commit`). A
/// crash in between: the record reached the disk (a process killed: the page cache keeps it),
/// or it did not (a power cut: emulated by erasing it), while LMDB's file may hold the commit
/// either way. Neither the commit's events nor its stream state may survive without the record.
#[test]
fn a_commit_in_lmdb_whose_record_was_not_synced_survives_only_with_its_record() {
    let _turn = turn();
    for lost in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let acked = run(dir.path(), Child { crash_after_commit: Some(3), ..Child::appends(5) });
        assert_eq!(acked, vec![0, 1], "lost {lost}");
        let (segment, found) = records(dir.path());
        assert_eq!(found.len(), 3, "lost {lost}: {found:?}");
        if lost {
            let (at, len) = found[2];
            let mut bytes = std::fs::read(&segment).unwrap();
            bytes[at..at + len].fill(0);
            std::fs::write(&segment, &bytes).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        let recovery = db.recovery().unwrap();
        let kept: Vec<u64> = if lost { vec![0, 1] } else { vec![0, 1, 2] };
        assert_eq!(recovery.replayed, kept.len() as u64, "lost {lost}: {recovery:?}");
        assert_eq!(revisions(&db), kept, "lost {lost}");
        let all = db.read_all(graveyard::ReadAllOptions::forwards()).unwrap();
        assert_eq!(all.len(), kept.len(), "lost {lost}: $all");
        assert_eq!(db.stream_info("s").unwrap().next_revision, kept.len() as u64, "lost {lost}");
        // The next append takes the next revision and position, and survives a reopen.
        let next = kept.len() as u64;
        let appended = db.append("s", ExpectedVersion::Exact(next - 1), vec![event(next)]).unwrap();
        assert_eq!(appended.first_position, next, "lost {lost}");
        db.close();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(revisions(&db), (0..=next).collect::<Vec<_>>(), "lost {lost}");
        db.close();
    }
}

#[test]
fn a_torn_or_corrupt_last_record_is_erased_reported_and_never_served() {
    let _turn = turn();
    for damage in ["torn", "flipped", "length"] {
        let dir = tempfile::tempdir().unwrap();
        let acked = run_child(dir.path(), 3, None);
        assert_eq!(acked, vec![0, 1, 2]);
        let (segment, found) = records(dir.path());
        assert_eq!(found.len(), 3, "{damage}: {found:?}");
        // The last record: its second half never reached the disk, or one bit of it changed.
        let (at, len) = found[2];
        let mut bytes = std::fs::read(&segment).unwrap();
        match damage {
            "torn" => bytes[at + len / 2..at + len].fill(0),
            "flipped" => bytes[at + len - 1] ^= 0x10,
            _ => bytes[at + 2] ^= 0x01,
        }
        std::fs::write(&segment, &bytes).unwrap();

        let db = Db::open(dir.path()).unwrap();
        let recovery = db.recovery().unwrap();
        assert_eq!(recovery.replayed, 2, "{damage}: {recovery:?}");
        let erased = std::fs::read(&segment).unwrap();
        assert!(erased[at..].iter().all(|&b| b == 0), "{damage}: the damaged record is erased");
        let torn = recovery.torn.expect("the damaged record is reported");
        assert_eq!((torn.lsn, torn.offset), (2, at as u64), "{damage}");
        assert_eq!(revisions(&db), vec![0, 1], "{damage}: the damaged record is not served");
        // Erased: what is written next takes its place and survives; it is shorter, so what
        // was left of the damaged record after it would be found by the next scan.
        db.append("s", ExpectedVersion::Exact(1), vec![padded(2, 0)]).unwrap();
        db.close();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.recovery().unwrap().torn, None, "{damage}");
        assert_eq!(revisions(&db), vec![0, 1, 2], "{damage}");
        db.close();
    }
}

#[test]
fn damage_before_the_last_record_is_corruption_not_a_silent_loss() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    run_child(dir.path(), 3, None);
    let (segment, found) = records(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    let (at, len) = found[0];
    bytes[at + len - 1] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    // Record 0 fails its checksum: records 1 and 2 after it cannot be replayed without it. The
    // store is refused rather than opened without acknowledged commits.
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), graveyard::ErrorCode::Corruption, "{err}");
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn records_across_segments_are_replayed_and_covered_segments_removed() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    // 600 KB commits: the 1 MiB first segment holds one, then segments double.
    let acked = run(dir.path(), Child { first_pad: 600_000, pad: 600_000, ..Child::appends(8) });
    assert_eq!(acked, (0..8).collect::<Vec<_>>());
    assert!(segments(dir.path()).len() >= 3, "{:?}", segments(dir.path()));
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovery().unwrap().replayed, 8);
    assert_eq!(revisions(&db), (0..8).collect::<Vec<_>>());
    // The open's checkpoint covers every earlier segment: only the current one is left, once
    // their removal (on a thread of its own) is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while segments(dir.path()).len() > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(segments(dir.path()).len(), 1, "{:?}", segments(dir.path()));
    db.close();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(revisions(&db), (0..8).collect::<Vec<_>>());
}

#[test]
fn a_segment_replaced_while_empty_is_never_removed_by_a_checkpoint() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    // The first commit does not fit the empty 1 MiB first segment, which is replaced by a
    // larger one of the same name; checkpoints after every commit then run while small
    // commits follow, and the process dies without closing.
    let child = Child {
        first_pad: 1_500_000,
        pad: 40,
        pause_ms: 30,
        checkpoint_bytes: Some(1),
        ..Child::appends(12)
    };
    let acked = run(dir.path(), child);
    assert_eq!(acked, (0..12).collect::<Vec<_>>());
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(revisions(&db), (0..12).collect::<Vec<_>>(), "{:?}", db.recovery());
}

/// The log's segments, by first LSN: the name, the salt and the bytes of each.
fn segment_bytes(dir: &Path) -> Vec<(String, u64, Vec<u8>)> {
    segments(dir)
        .into_iter()
        .map(|name| {
            let stem = name.trim_end_matches(".log");
            let salt = stem.split_once('-').map_or(0, |(_, salt)| u64::from_str_radix(salt, 16).unwrap());
            let bytes = std::fs::read(dir.join("log").join(&name)).unwrap();
            (name, salt, bytes)
        })
        .collect()
}

/// Where the records of a segment end: the offset of the zeros after its last record.
fn records_end(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at + 16 <= bytes.len() && bytes[at..at + 16].iter().any(|&b| b != 0) {
        at += 16 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    at
}

/// A whole record numbered `lsn` with an 8-byte payload, its checksum made with `salt` (0: as in a
/// segment without one).
fn forged_record(salt: u64, lsn: u64) -> Vec<u8> {
    let mut record = 8u32.to_le_bytes().to_vec();
    record.extend_from_slice(&[0; 4]);
    record.extend_from_slice(&lsn.to_le_bytes());
    let seed = match salt {
        0 => crc32c::crc32c(&record[..4]),
        salt => crc32c::crc32c_append(crc32c::crc32c(&salt.to_le_bytes()), &record[..4]),
    };
    let crc = crc32c::crc32c_append(crc32c::crc32c_append(seed, &record[8..16]), b"planted!");
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record.extend_from_slice(b"planted!");
    record
}

/// A version-4 store's log: segments named without a salt, whose checksums start at `len`. It is
/// read as it is and written on: the current segment keeps going without a salt.
#[test]
fn a_log_written_before_salts_is_read_and_written_on() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_child(dir.path(), 3, None), vec![0, 1, 2]);
    for (name, salt, mut bytes) in segment_bytes(dir.path()) {
        assert_ne!(salt, 0, "{name}");
        let mut at = 0;
        while at + 16 <= bytes.len() && bytes[at..at + 16].iter().any(|&b| b != 0) {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let sum = crc32c::crc32c_append(crc32c::crc32c(&bytes[at..at + 4]), &bytes[at + 8..at + 16]);
            let crc = crc32c::crc32c_append(sum, &bytes[at + 16..at + 16 + len]);
            bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
            at += 16 + len;
        }
        let log = dir.path().join("log");
        std::fs::remove_file(log.join(&name)).unwrap();
        std::fs::write(log.join(format!("{}.log", name.split_once('-').unwrap().0)), &bytes).unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovery().unwrap().torn, None);
    assert_eq!(revisions(&db), vec![0, 1, 2]);
    db.append("s", ExpectedVersion::Exact(2), vec![event(3)]).unwrap();
    db.close();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(revisions(&db), vec![0, 1, 2, 3]);
    db.close();
    assert!(segments(dir.path()).iter().all(|name| !name.contains('-')), "{:?}", segments(dir.path()));
}

/// 1 MiB segments of about ten 100 KB commits each, checkpoints every 200 KB logged: full
/// segments the checkpoints cover are kept as spares and reused with their old records in them.
fn reused(count: u64) -> Child {
    Child {
        pad: 100_000,
        first_pad: 100_000,
        pause_ms: 5,
        checkpoint_bytes: Some(200_000),
        segment_bytes: Some(1 << 20),
        ..Child::appends(count)
    }
}

#[test]
fn covered_segments_are_reused_and_their_old_records_never_served() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let acked = run(dir.path(), reused(65));
    assert_eq!(acked, (0..65).collect::<Vec<_>>());
    let log = std::fs::read_dir(dir.path().join("log")).unwrap();
    let spares =
        log.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("spare-")).count();
    assert!(spares <= 2, "at most two spares are kept, found {spares}");
    // Reused: after a segment's last record and its zeros come old records, not zeros.
    let segments = segment_bytes(dir.path());
    let over_old = segments
        .iter()
        .filter(|(_, _, bytes)| {
            bytes.get(records_end(bytes) + 16..).is_some_and(|old| old.iter().any(|&b| b != 0))
        })
        .count();
    assert!(over_old > 0, "no segment of {} was reused", segments.len());
    // The open serves exactly the acknowledged commits, and reports no torn record: the old
    // records after the end are neither replayed nor mistaken for a crash's damage.
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovery().unwrap().torn, None);
    assert_eq!(revisions(&db), (0..65).collect::<Vec<_>>());
    db.close();
    // Another child goes on over the same store, reusing its segments, and is killed.
    let acked = run(dir.path(), reused(40));
    assert_eq!(acked, (65..105).collect::<Vec<_>>());
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.recovery().unwrap().torn, None);
    assert_eq!(revisions(&db), (0..105).collect::<Vec<_>>());
    db.close();
}

/// A store whose child made 65 commits over reused segments, and its last segment: name, salt and
/// bytes.
fn reused_store() -> (tempfile::TempDir, String, u64, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), reused(65)), (0..65).collect::<Vec<_>>());
    let (name, salt, bytes) = segment_bytes(dir.path()).pop().unwrap();
    (dir, name, salt, bytes)
}

/// A crash can keep a commit's record but not the zeros written after it; in a reused segment old
/// bytes then follow the last record. They are reported as a torn record and erased, never
/// served, and the next commit takes their place.
#[test]
fn old_bytes_after_the_last_record_of_a_reused_segment_are_erased_not_served() {
    let _turn = turn();
    let (dir, name, _, mut bytes) = reused_store();
    let end = records_end(&bytes);
    let old = (end + 16..bytes.len() - 16)
        .find(|&at| bytes[at..at + 16].iter().all(|&b| b != 0))
        .expect("the last segment is a reused one, with old records after its end");
    bytes.copy_within(old..old + 16, end);
    let segment = dir.path().join("log").join(&name);
    std::fs::write(&segment, &bytes).unwrap();
    let db = Db::open(dir.path()).unwrap();
    let torn = db.recovery().unwrap().torn.expect("the old bytes are reported");
    assert_eq!((torn.lsn, torn.offset), (65, end as u64));
    assert_eq!(revisions(&db), (0..65).collect::<Vec<_>>());
    assert!(std::fs::read(&segment).unwrap()[end..].iter().all(|&b| b == 0), "erased");
    db.append("s", ExpectedVersion::Exact(64), vec![event(65)]).unwrap();
    db.close();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(revisions(&db), (0..66).collect::<Vec<_>>());
    db.close();
}

/// A reused segment holds old events' bytes after its end, which a client chose: a record it
/// planted there, numbered after the log's end, must not make the open call the log corrupt (a
/// whole record after the end is not a crash's doing) and refuse the store. It cannot: the
/// segment's salt, which its checksum would need, is known to the store only. A record with the
/// right salt there is still corruption.
#[test]
fn a_record_planted_in_old_bytes_never_passes_for_one_of_the_segment() {
    let _turn = turn();
    let (dir, name, salt, bytes) = reused_store();
    assert_ne!(salt, 0, "{name}");
    let segment = dir.path().join("log").join(&name);
    let at = records_end(&bytes) + 4096;
    let plant = |record: Vec<u8>| {
        let mut planted = bytes.clone();
        planted[at..at + record.len()].copy_from_slice(&record);
        std::fs::write(&segment, &planted).unwrap();
    };
    for guess in [0, salt ^ 1, 0x0123_4567_89ab_cdef] {
        plant(forged_record(guess, 70));
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.recovery().unwrap().torn, None, "salt guessed {guess:x}");
        assert_eq!(revisions(&db), (0..65).collect::<Vec<_>>());
        db.close();
    }
    plant(forged_record(salt, 70));
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), graveyard::ErrorCode::Corruption, "{err}");
}

const SETTLE_CHILD_ENV: &str = "GRAVEYARD_SETTLE_CHILD";
const SETTLE_DELAY_ENV: &str = "GRAVEYARD_TEST_SETTLE_DELAY_MS";
const SETTLE_DELAY_MS: u64 = 300;

/// Run by `an_append_is_shown_only_once_its_record_is_durable` in a child with the writer's
/// settle delay: an append commits in LMDB, then the writer waits `SETTLE_DELAY_MS` before the
/// `fdatasync` of its record. Every kind of read runs meanwhile; one that shows the append
/// before that wait is over showed an event that was not durable.
#[test]
fn settle_child() {
    use graveyard::{ListStreamsOptions, ReadAllOptions};
    let Ok(dir) = std::env::var(SETTLE_CHILD_ENV) else { return };
    let db = Db::open(&dir).unwrap();
    db.append("old", ExpectedVersion::NoStream, vec![event(0)]).unwrap();
    let delay = std::time::Duration::from_millis(SETTLE_DELAY_MS);
    // One append to an existing stream, one creating a stream, each watched alone.
    for (stream, expected) in [("old", ExpectedVersion::Exact(0)), ("new", ExpectedVersion::NoStream)] {
        let head = db.head_position().unwrap();
        let start = std::time::Instant::now();
        let appender = {
            let db = db.clone();
            std::thread::spawn(move || db.append(stream, expected, vec![event(1)]).unwrap())
        };
        let shown = || {
            let all = db.read_all(ReadAllOptions::forwards()).unwrap();
            let last = db.read_all(ReadAllOptions::backwards().limit(1)).unwrap();
            let from_head = db.read_all(ReadAllOptions::backwards().from(head).limit(1)).unwrap();
            let events = db.read_stream(stream, ReadOptions::forwards()).map_or(0, |e| e.len());
            let info = db.stream_info(stream).map(|i| i.next_revision).unwrap_or(0);
            let listed = db.list_streams(&ListStreamsOptions::new(10)).unwrap();
            let listed = listed.iter().find(|s| s.name == stream).map_or(0, |s| s.next_revision);
            let before = if stream == "old" { 1 } else { 0 };
            [
                all.len() as u64 > head,
                last.first().is_some_and(|e| e.position >= head),
                from_head.first().is_some_and(|e| e.position >= head),
                events > before,
                info > before as u64,
                listed > before as u64,
                db.head_position().unwrap() > head,
            ]
        };
        let mut reads = 0;
        while !appender.is_finished() {
            let seen = shown();
            reads += 1;
            if seen.iter().any(|&s| s) {
                assert!(
                    start.elapsed() >= delay,
                    "a read showed the append to {stream} before its record was durable: {seen:?}"
                );
            }
        }
        appender.join().unwrap();
        assert!(reads > 10, "the reads did not overlap the append ({reads})");
        assert_eq!(shown(), [true; 7], "an acknowledged append to {stream} is not shown by every read");
    }
    db.close();
    println!("SETTLE OK");
}

#[test]
fn an_append_is_shown_only_once_its_record_is_durable() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let mut command = child_command("settle_child");
    command.env(SETTLE_CHILD_ENV, dir.path()).env(SETTLE_DELAY_ENV, SETTLE_DELAY_MS.to_string());
    run_to_end(command, "SETTLE OK");
}

const QUEUED_CHILD_ENV: &str = "GRAVEYARD_QUEUED_CHILD";
const FAIL_SETTLE_ENV: &str = "GRAVEYARD_TEST_FAIL_SETTLE";
/// Long enough that append A reaches the writer well within half of it, even on a busy machine.
const QUEUED_DELAY_MS: u64 = 600;

/// Run by `appends_queued_behind_a_batch_being_synced_*` in a child with the writer's settle
/// delay: append A commits in LMDB and waits `QUEUED_DELAY_MS` for its record; B (to A's
/// stream, expecting A's revision) and C (a new stream) are queued meanwhile and commit after
/// it. A reader polls throughout: each state it sees must be one a
/// commit made, shown no sooner than its record was durable. With `fail` (the hook fails A's
/// sync), every append must fail and the store, reopened, holds A (its record was written
/// whole) and nothing of B or C, and goes on from A.
#[test]
fn queued_child() {
    use graveyard::{Error, ReadAllOptions};
    let Ok(spec) = std::env::var(QUEUED_CHILD_ENV) else { return };
    let (dir, fail) = spec.split_once('|').unwrap();
    let fail = fail == "fail";
    let db = Db::open(dir).unwrap();
    let start = std::time::Instant::now();
    let delay = std::time::Duration::from_millis(QUEUED_DELAY_MS);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(before) = db.head_position() else { break };
                let s = db.read_stream("s", ReadOptions::forwards()).map_or(0, |e| e.len() as u64);
                let t = db.read_stream("t", ReadOptions::forwards()).map_or(0, |e| e.len() as u64);
                let all = db.read_all(ReadAllOptions::forwards()).unwrap().len() as u64;
                let head = db.head_position().unwrap();
                let state = (before, s, t, all, head);
                // $all between the heads around it; every event below the first head in its
                // stream (A, at 0, in "s"); no more events than were appended.
                let consistent = head <= 3
                    && (before..=head).contains(&all)
                    && s <= 2
                    && t <= 1
                    && s + t >= before
                    && (before == 0 || s >= 1);
                assert!(consistent, "a read saw a state no commit made: {state:?}");
                // A's record is durable after one delay at the earliest, B's and C's (a later
                // batch, with its own delay) after two.
                let shown = (s + t).max(all).max(head).min(2) as u32;
                assert!(start.elapsed() >= delay * shown, "{state:?} shown before it was durable");
                if seen.last() != Some(&head) {
                    seen.push(head);
                }
            }
            seen
        })
    };
    let append = |stream: &'static str, expected: ExpectedVersion, n: u64| {
        let db = db.clone();
        std::thread::spawn(move || db.append(stream, expected, vec![event(n)]))
    };
    let a = append("s", ExpectedVersion::NoStream, 0);
    // A is committed in LMDB and waiting for its sync (the delay) long before this.
    std::thread::sleep(delay / 2);
    let b = append("s", ExpectedVersion::Exact(0), 1);
    let c = append("t", ExpectedVersion::NoStream, 2);
    let (a, b, c) = (a.join().unwrap(), b.join().unwrap(), c.join().unwrap());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    if !fail {
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!((a.first_revision, a.first_position), (0, 0));
        assert_eq!((b.first_revision, c.first_revision), (1, 0));
        let mut positions = [b.first_position, c.first_position];
        positions.sort_unstable();
        assert_eq!(positions, [1, 2]);
        assert!(seen.starts_with(&[0, 1]) && seen.ends_with(&[3]), "the reader missed a step: {seen:?}");
        db.close();
        println!("QUEUED OK");
        return;
    }
    assert!(
        matches!(&a, Err(Error::Io(why)) if why.contains("test hook")),
        "A was not failed by its sync: {a:?}"
    );
    for (name, outcome) in [("B", &b), ("C", &c)] {
        assert!(
            matches!(outcome, Err(Error::Io(why)) if why.contains("must be reopened")),
            "{name} was not refused by the stopped store: {outcome:?}"
        );
    }
    assert_eq!(seen, [0], "a read showed an append whose sync failed");
    db.close();
    // The reopened store's syncs succeed.
    std::env::remove_var(FAIL_SETTLE_ENV);
    let db = Db::open(dir).unwrap();
    let s = db.read_stream("s", ReadOptions::forwards()).unwrap();
    assert_eq!(s.iter().map(|e| e.revision).collect::<Vec<_>>(), [0], "B survived the failed sync before it");
    assert!(db.read_stream("t", ReadOptions::forwards()).map_or(true, |e| e.is_empty()), "C survived");
    assert_eq!(db.head_position().unwrap(), 1);
    // The store goes on from A.
    let next = db.append("s", ExpectedVersion::Exact(0), vec![event(3)]).unwrap();
    assert_eq!((next.first_revision, next.first_position), (1, 1));
    db.close();
    println!("QUEUED OK");
}

fn queued(fail: bool) {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let mut command = child_command("queued_child");
    command
        .env(QUEUED_CHILD_ENV, format!("{}|{}", dir.path().display(), if fail { "fail" } else { "ok" }))
        .env(SETTLE_DELAY_ENV, QUEUED_DELAY_MS.to_string());
    if fail {
        command.env(FAIL_SETTLE_ENV, "1");
    }
    run_to_end(command, "QUEUED OK");
}

#[test]
fn appends_queued_behind_a_batch_being_synced_follow_it() {
    queued(false);
}

#[test]
fn appends_queued_behind_a_batch_whose_sync_fails_fail_with_it() {
    queued(true);
}
