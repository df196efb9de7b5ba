//! Consumer groups under SIGKILL: a child process consumes a group and reports each position
//! once its `ack` has returned; the parent kills it at random moments, reopens the store, and
//! proves that no acknowledged event is ever delivered again and that every event is
//! eventually delivered (at least once, no more than that).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graveyard::{Db, EventData, ExpectedVersion, Filter, GroupSettings, GroupTarget, SubscriptionStart};

const EVENTS: u64 = 6_000;
const ENV: &str = "GRAVEYARD_GROUP_CRASH_CHILD";

/// The child: consumes the group with default (fsync) durability, printing every position
/// after its ack returned. Runs until killed or until everything is consumed.
#[test]
fn group_crash_child() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let db = Db::open(&dir).unwrap();
    let mut member = db.join_group("g", "child").unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let delivery = member.next_blocking().unwrap();
        member.ack(&delivery).unwrap();
        use std::io::Write;
        writeln!(out, "acked {}", delivery.event.position).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_events_survive_kills_and_are_never_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        for chunk in 0..(EVENTS / 100) {
            let events =
                (0..100).map(|i| EventData::json("E", &serde_json::json!({ "n": chunk * 100 + i })).unwrap());
            db.append(&format!("s-{}", chunk % 5), ExpectedVersion::Any, events.collect()).unwrap();
        }
        db.create_group(
            "g",
            GroupTarget::All(Filter::default()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .unwrap();
    }
    let seed = std::env::var("GRAVEYARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let started = Instant::now();
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(120), "seed {seed}: not done after {round} kills");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["group_crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let kill_after = Duration::from_millis(rng.u64(10..120));
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(|l| l.ok())
                // libtest prints "test group_crash_child ... " with no newline before the
                // child's first line, so look for the marker anywhere in the line.
                .filter_map(|l| l.rsplit_once("acked ").and_then(|(_, p)| p.trim().parse::<u64>().ok()))
                .collect::<Vec<_>>()
        });
        std::thread::sleep(kill_after);
        let _ = child.kill();
        let _ = child.wait();
        for position in reader.join().unwrap() {
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
