use graveyard::{Db, EventData, ExpectedVersion};
use std::time::{Duration, Instant};
fn main() {
    let threads: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(64);
    let batch: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let db = if std::env::var("NOSYNC").is_ok() {
        Db::open_with(graveyard::Options::new(dir.path()).durability(graveyard::Durability::NoFsyncUnsafe))
            .unwrap()
    } else {
        Db::open(dir.path()).unwrap()
    };
    let payload = br#"{"order":"0123456789","amount":12345,"currency":"EUR","note":"benchmark payload of about 100 b"}"#;
    let start = Instant::now();
    let total = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let db = db.clone();
            let total = &total;
            s.spawn(move || {
                let stream = format!("s-{t}");
                let mut n = 0u64;
                let mut expected = ExpectedVersion::NoStream;
                while start.elapsed() < Duration::from_secs(3) {
                    let events =
                        (0..batch).map(|_| EventData::json_bytes("Bench", payload.to_vec())).collect();
                    let r = db.append(&stream, expected, events).unwrap();
                    expected = ExpectedVersion::Exact(r.last_revision);
                    n += batch as u64;
                }
                total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    let n = total.into_inner();
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    let wchar: u64 = io
        .lines()
        .find(|l| l.starts_with("wchar"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let size = std::fs::metadata(dir.path().join("data.mdb")).unwrap().len();
    println!("written {} bytes/event, file {} bytes/event", wchar / n, size / n);
    println!("{threads} threads x batch {batch}: {:.0} events/s", n as f64 / start.elapsed().as_secs_f64());
}
