//! Consumer groups under SIGKILL: a child process consumes a group and reports what it
//! settled once the call has returned; the parent kills it at random moments, reopens the
//! store, and proves that nothing settled is ever delivered again and that every event is
//! eventually delivered (at least once, no more than that).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graveyard::{
    Db, EventData, ExpectedVersion, Filter, GroupSettings, GroupTarget, NackAction, ReadOptions,
    SubscriptionStart,
};

const EVENTS: u64 = 6_000;
/// The store directory of a child; the test name given on its command line picks the child.
const ENV: &str = "GRAVEYARD_GROUP_CRASH_CHILD";
/// Marks the lines a child reports, so that libtest's own output is never taken for one.
const MARK: &str = "@@ ";

/// Prints one report line and flushes it: the parent only counts what reached the pipe.
fn report(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARK}{line}").unwrap();
    out.flush().unwrap();
}

/// Runs the child test `name` on the store in `dir`, kills it (SIGKILL) after `after` unless it
/// ended before, and returns the lines it reported.
fn run_child(name: &str, dir: &Path, after: Duration) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            // libtest prints "test <name> ... " with no newline before the child's first line,
            // so look for the mark anywhere in the line.
            .filter_map(|l| l.split_once(MARK).map(|(_, report)| report.to_string()))
            .collect::<Vec<_>>()
    });
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap()
}

fn seed() -> u64 {
    std::env::var("GRAVEYARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

fn event(n: u64) -> EventData {
    EventData::json("E", &serde_json::json!({ "n": n })).unwrap()
}

/// Appends `count` events (data `{"n": position}`) over five streams and creates group `name`
/// over $all from the start.
fn fill(db: &Db, count: u64, name: &str) {
    for chunk in 0..(count / 100) {
        let events = (0..100).map(|i| event(chunk * 100 + i)).collect();
        db.append(&format!("s-{}", chunk % 5), ExpectedVersion::Any, events).unwrap();
    }
    db.create_group(
        name,
        GroupTarget::All(Filter::default()),
        SubscriptionStart::Start,
        GroupSettings::default(),
    )
    .unwrap();
}

/// Parses "<word> <number>" after `prefix` in a reported line.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix)?.trim().parse().ok()
}

/// The child: consumes the group with default (fsync) durability, reporting every position
/// after its ack returned. Runs until killed.
#[test]
fn group_crash_child() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let db = Db::open(&dir).unwrap();
    let member = db.join_group("g", "child").unwrap();
    loop {
        let delivery = member.next_blocking().unwrap();
        member.ack(&delivery).unwrap();
        report(format_args!("acked {}", delivery.event.position));
    }
}

#[test]
fn acknowledged_events_survive_kills_and_are_never_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    fill(&Db::open(dir.path()).unwrap(), EVENTS, "g");
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let started = Instant::now();
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(120), "seed {seed}: not done after {round} kills");
        let lines = run_child("group_crash_child", dir.path(), Duration::from_millis(rng.u64(10..120)));
        for position in lines.iter().filter_map(|l| number_after(l, "acked ")) {
            // Delivered again after it was acknowledged (and the ack had returned): a violation.
            assert!(acked.insert(position), "seed {seed}: position {position} redelivered after its ack");
            assert!(!silent.contains(&position), "seed {seed}: settled position {position} delivered again");
        }
        let db = Db::open(dir.path()).unwrap();
        let info = db.group_info("g").unwrap();
        // Below the durable checkpoint everything was acknowledged. The parent may not have
        // heard of the last one: killed after its ack committed and before it printed. There
        // is at most one such event per kill (one consumer thread), and it is settled: it
        // must never come back.
        let unheard: Vec<u64> =
            (0..info.checkpoint).filter(|p| !acked.contains(p) && !silent.contains(p)).collect();
        assert!(
            unheard.len() <= 1,
            "seed {seed}: checkpoint {} passes unacked events {unheard:?}",
            info.checkpoint
        );
        silent.extend(unheard);
        db.close();
        if (acked.len() + silent.len()) as u64 == EVENTS {
            eprintln!("seed {seed}: {} kills, {} acks not heard before a kill", round + 1, silent.len());
            break;
        }
    }
    // Everything got through, each exactly once.
    assert!(acked.is_disjoint(&silent));
    assert_eq!(acked.union(&silent).copied().collect::<BTreeSet<_>>(), (0..EVENTS).collect());
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.group_info("g").unwrap().checkpoint, EVENTS);
}

// ---- ack_all: one commit for a batch ---------------------------------------------------------

const BATCH: u64 = 100;
const BATCH_EVENTS: u64 = 40_000;

/// The child: takes the group's deliveries BATCH at a time and acknowledges each batch with one
/// `ack_all`, reporting the batch once that returned. Runs until killed.
#[test]
fn ack_all_crash_child() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let db = Db::open(&dir).unwrap();
    let member = db.join_group("b", "child").unwrap();
    loop {
        let batch: Vec<_> = (0..BATCH).map(|_| member.next_blocking().unwrap()).collect();
        member.ack_all(&batch).unwrap();
        let (first, last) = (batch[0].event.position, batch[batch.len() - 1].event.position);
        report(format_args!("batch {first} {last}"));
    }
}

/// One consumer, batches of consecutive positions from the checkpoint: if `ack_all` committed
/// its deliveries one by one, a kill could leave the checkpoint inside a batch.
#[test]
fn ack_all_batches_survive_kills_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    fill(&Db::open(dir.path()).unwrap(), BATCH_EVENTS, "b");
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut heard = BTreeSet::new();
    let mut checkpoint = 0;
    let started = Instant::now();
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(120), "seed {seed}: not done after {round} kills");
        // Short lives: a batch commits in well under a millisecond, so kills must come often.
        for line in run_child("ack_all_crash_child", dir.path(), Duration::from_millis(rng.u64(5..40))) {
            let (first, last) = line
                .strip_prefix("batch ")
                .and_then(|rest| rest.split_once(' '))
                .map(|(a, b)| (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()))
                .unwrap_or_else(|| panic!("seed {seed}: unexpected report {line:?}"));
            assert_eq!((first % BATCH, last), (0, first + BATCH - 1), "seed {seed}: a batch out of line");
            assert!(first >= checkpoint, "seed {seed}: batch {first} delivered again after its ack_all");
            assert!(heard.insert(first), "seed {seed}: batch {first} acknowledged twice");
        }
        let db = Db::open(dir.path()).unwrap();
        let now = db.group_info("b").unwrap().checkpoint;
        db.close();
        assert_eq!(now % BATCH, 0, "seed {seed}: checkpoint {now} inside a batch: a partial ack_all");
        assert!(now >= checkpoint, "seed {seed}: checkpoint went back from {checkpoint} to {now}");
        // Every batch heard of is durable; at most the one a kill interrupted after its commit
        // is durable and not heard of.
        assert!(heard.iter().all(|&first| first + BATCH <= now), "seed {seed}: a heard batch is not durable");
        assert!(now <= (heard.len() as u64 + round + 1) * BATCH, "seed {seed}: unheard batches settled");
        checkpoint = now;
        if checkpoint == BATCH_EVENTS {
            eprintln!("seed {seed}: {} kills, {} batches heard", round + 1, heard.len());
            break;
        }
    }
}

// ---- replay of parked events -----------------------------------------------------------------

const REPLAY_EVENTS: u64 = 2_000;
/// The first REPLAY_PARKED events are parked before the kills start: copy revision r is the
/// event at position r.
const REPLAY_PARKED: u64 = 1_200;
const REPLAY_CHUNK: u64 = 300;

/// Whether the child parks a replayed event again: a first copy of every tenth event fails
/// once more; its second copy is acknowledged.
fn parks_again(parked_revision: u64, position: u64) -> bool {
    parked_revision < REPLAY_PARKED && position % 10 == 3
}

/// The child: consumes group `r` (its target and the replays of its parked events), replaying
/// REPLAY_CHUNK parked events whenever no replay is left to consume. Reports every delivery
/// ("got <key> <position> <n>"), then its settlement once that returned ("acked <key>
/// <position>" or "parked <key> <position>"); a key is `t<position>` for the target,
/// `r<revision>` for a replayed copy. Runs until killed.
#[test]
fn replay_crash_child() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let db = Db::open(&dir).unwrap();
    let member = db.join_group("r", "child").unwrap();
    loop {
        // One consumer that settles each delivery before the next: no replay left means none
        // is in flight either.
        let info = db.group_info("r").unwrap();
        if info.replaying == 0 && info.parked > 0 {
            db.replay_parked("r", Some(REPLAY_CHUNK)).unwrap();
        }
        let d = member.next_blocking().unwrap();
        let position = d.event.position;
        let key = match d.parked_revision() {
            Some(revision) => format!("r{revision}"),
            None => format!("t{position}"),
        };
        let n = d.event.json::<serde_json::Value>().unwrap()["n"].as_u64().unwrap();
        report(format_args!("got {key} {position} {n}"));
        if d.parked_revision().is_some_and(|r| parks_again(r, position)) {
            member.nack(&d, NackAction::Park).unwrap();
            report(format_args!("parked {key} {position}"));
        } else {
            member.ack(&d).unwrap();
            report(format_args!("acked {key} {position}"));
        }
    }
}

#[test]
fn a_replay_survives_kills_losing_no_parked_event_and_repeating_no_settled_one() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        fill(&db, REPLAY_EVENTS, "r");
        let member = db.join_group("r", "setup").unwrap();
        // In windows smaller than max_in_flight, so that the positions come in order.
        for _ in 0..(REPLAY_PARKED / 200) {
            let window: Vec<_> = (0..200).map(|_| member.next_blocking().unwrap()).collect();
            member.nack_all(&window, NackAction::Park).unwrap();
        }
        let info = db.group_info("r").unwrap();
        assert_eq!((info.checkpoint, info.parked), (REPLAY_PARKED, REPLAY_PARKED));
    }
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    // Keys whose settlement was heard: never delivered again.
    let mut settled = BTreeSet::new();
    let mut acked_positions = BTreeSet::new();
    // Per round, the delivery a kill may have interrupted: settled or not, nobody knows.
    let mut unheard: BTreeMap<String, u64> = BTreeMap::new();
    let mut checkpoint = 0;
    let started = Instant::now();
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(180), "seed {seed}: not done after {round} kills");
        let mut open_delivery = None;
        for line in run_child("replay_crash_child", dir.path(), Duration::from_millis(rng.u64(10..120))) {
            let words: Vec<&str> = line.split(' ').collect();
            let (what, key) = (words[0], words[1].to_string());
            let position: u64 = words[2].parse().unwrap();
            match what {
                "got" => {
                    assert!(
                        !settled.contains(&key),
                        "seed {seed}: {key} delivered again after it was settled"
                    );
                    // The original event, whether from the target or from a copy.
                    assert_eq!(
                        words[3].parse::<u64>().unwrap(),
                        position,
                        "seed {seed}: {key} has other data"
                    );
                    if let Some(revision) = key.strip_prefix('r').map(|r| r.parse::<u64>().unwrap()) {
                        assert!(
                            revision >= REPLAY_PARKED || revision == position,
                            "seed {seed}: {key} is not {position}"
                        );
                    } else {
                        assert!(
                            position >= REPLAY_PARKED,
                            "seed {seed}: parked {position} delivered from the target"
                        );
                    }
                    unheard.remove(&key);
                    open_delivery = Some((key, position));
                }
                "acked" | "parked" => {
                    assert_eq!(open_delivery.take(), Some((key.clone(), position)));
                    settled.insert(key);
                    if what == "acked" {
                        assert!(
                            acked_positions.insert(position),
                            "seed {seed}: position {position} acked twice"
                        );
                    }
                }
                _ => panic!("seed {seed}: unexpected report {line:?}"),
            }
        }
        unheard.extend(open_delivery);
        let db = Db::open(dir.path()).unwrap();
        let info = db.group_info("r").unwrap();
        assert!(info.checkpoint >= checkpoint, "seed {seed}: the target's checkpoint went back");
        checkpoint = info.checkpoint;
        db.close();
        let covered = acked_positions.union(&unheard.values().copied().collect()).count() as u64;
        if covered == REPLAY_EVENTS && info.parked == 0 && info.replaying == 0 {
            eprintln!(
                "seed {seed}: {} kills, {} deliveries not settled before a kill",
                round + 1,
                unheard.len()
            );
            break;
        }
    }

    // Drain what is left in-process, up to a marker appended last. Every replay is settled
    // (durably: replaying and parked are 0), so only an event of the target whose ack a kill
    // interrupted before it committed may come back.
    let db = Db::open(dir.path()).unwrap();
    let marker = db.append("marker", ExpectedVersion::Any, vec![event(u64::MAX)]).unwrap().first_position;
    let member = db.join_group("r", "drain").unwrap();
    loop {
        let d = member.next_blocking().unwrap();
        member.ack(&d).unwrap();
        if d.event.position == marker {
            break;
        }
        let key = format!("t{}", d.event.position);
        assert_eq!(d.parked_revision(), None, "seed {seed}: a replay left over");
        assert!(
            unheard.contains_key(&key),
            "seed {seed}: {key} left over, and not from an interrupted delivery"
        );
        acked_positions.insert(d.event.position);
    }
    // Every event was acknowledged in the end, heard of or interrupted by a kill after the
    // commit (at most one per kill); none of the parked ones was lost.
    let unheard_positions: BTreeSet<u64> = unheard.values().copied().collect();
    assert_eq!(
        acked_positions.union(&unheard_positions).count() as u64,
        REPLAY_EVENTS,
        "seed {seed}: lost events"
    );
    let info = db.group_info("r").unwrap();
    assert_eq!((info.checkpoint, info.parked, info.replaying), (db.head_position().unwrap(), 0, 0));
    // Each first copy of a tenth event was parked again exactly once: never lost, never twice.
    let copies = db.read_stream(&graveyard::parked_stream("r"), ReadOptions::forwards()).unwrap();
    assert_eq!(copies.len() as u64, REPLAY_PARKED + REPLAY_PARKED / 10, "seed {seed}");
}
