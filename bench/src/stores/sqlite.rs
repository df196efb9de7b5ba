//! SQLite as an event store: the table and transaction shape a careful user would write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{bench_error, stream_name, Attempt, Preload, Racer, Racers, Result, Store, Writer, Writers};
use crate::workload::{Workload, EVENT_TYPE};

/// Long enough that a writer waiting behind 63 others for the write lock never gives up:
/// a busy error would be a failed append, which this bench does not expect.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream   TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    UNIQUE (stream, revision)
)";

const MAX_REVISION: &str = "SELECT max(revision) FROM events WHERE stream = ?1";
const INSERT: &str = "INSERT INTO events (stream, revision, type, data) VALUES (?1, ?2, ?3, ?4)";

pub struct SqliteStore {
    path: PathBuf,
    conn: Connection,
}

/// Opens a connection with the settings every connection needs: `synchronous` and the busy
/// timeout are per connection, WAL is stored in the file.
fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(bench_error(format!("SQLite refused WAL mode (journal_mode = {mode})")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl SqliteStore {
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        let path = dir.join("events.sqlite");
        let conn = connect(&path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { path, conn })
    }
}

/// Appends `payloads` to `stream` in one transaction if its last revision is `expected`
/// (`None`: the stream has no events). Returns the stream's revision before the append when
/// it was not `expected` (nothing written), else the new last revision.
fn append(
    conn: &mut Connection,
    stream: &str,
    expected: Option<i64>,
    payloads: &[Vec<u8>],
) -> Result<std::result::Result<i64, Option<i64>>> {
    // IMMEDIATE takes the write lock before the check, so the check and the insert are one
    // atomic step; a DEFERRED transaction could read, then fail to upgrade its lock.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: Option<i64> = tx.prepare_cached(MAX_REVISION)?.query_row([stream], |row| row.get(0))?;
    if current != expected {
        // Dropping the transaction rolls it back; it wrote nothing, so nothing is synced.
        return Ok(Err(current));
    }
    let mut revision = current.map_or(0, |r| r + 1);
    {
        let mut insert = tx.prepare_cached(INSERT)?;
        for data in payloads {
            insert.execute(params![stream, revision, EVENT_TYPE, data])?;
            revision += 1;
        }
    }
    tx.commit()?;
    Ok(Ok(revision - 1))
}

struct SqliteWriter {
    conn: Connection,
    stream: String,
    last_revision: Option<i64>,
}

impl Writer for SqliteWriter {
    fn append(&mut self, payloads: Vec<Vec<u8>>) -> Result<()> {
        match append(&mut self.conn, &self.stream, self.last_revision, &payloads)? {
            Ok(last) => {
                self.last_revision = Some(last);
                Ok(())
            }
            Err(actual) => Err(bench_error(format!(
                "SQLite stream {} is at {actual:?}, its only writer expected {:?}",
                self.stream, self.last_revision
            ))),
        }
    }
}

struct SqliteRacer {
    conn: Connection,
    stream: String,
}

impl Racer for SqliteRacer {
    fn attempt(&mut self, payload: Vec<u8>) -> Result<Attempt> {
        let seen: Option<i64> =
            self.conn.prepare_cached(MAX_REVISION)?.query_row([&self.stream], |row| row.get(0))?;
        Ok(match append(&mut self.conn, &self.stream, seen, &[payload])? {
            Ok(_) => Attempt::Committed,
            Err(_) => Attempt::Conflict,
        })
    }
}

impl Store for SqliteStore {
    fn writers(&mut self, count: usize) -> Result<Writers<'_>> {
        (0..count as u64)
            .map(|i| {
                Ok(Box::new(SqliteWriter {
                    conn: connect(&self.path)?,
                    stream: stream_name(i),
                    last_revision: None,
                }) as Box<dyn Writer>)
            })
            .collect()
    }

    fn racers(&mut self, count: usize) -> Result<Racers<'_>> {
        let racers = (0..count)
            .map(|_| {
                Ok(Box::new(SqliteRacer { conn: connect(&self.path)?, stream: stream_name(0) })
                    as Box<dyn Racer>)
            })
            .collect::<Result<_>>()?;
        Ok(Racers::Handles(racers))
    }

    fn preload(&mut self, plan: Preload) -> Result<()> {
        let mut last: HashMap<u64, i64> = HashMap::new();
        for (stream, first, count) in plan.appends() {
            let payloads: Vec<Vec<u8>> = (first..first + count).map(plan.payload).collect();
            let expected = last.get(&stream).copied();
            let new_last =
                append(&mut self.conn, &stream_name(stream), expected, &payloads)?.map_err(|actual| {
                    bench_error(format!("SQLite preload found stream {stream} at {actual:?}"))
                })?;
            last.insert(stream, new_last);
        }
        Ok(())
    }

    fn read_stream(&mut self, stream: u64) -> Result<u64> {
        let mut query = self.conn.prepare_cached(
            "SELECT position, revision, type, data FROM events WHERE stream = ?1 ORDER BY revision",
        )?;
        let rows = query.query_map([stream_name(stream)], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let events = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(std::hint::black_box(events).len() as u64)
    }

    fn scan_all(&mut self, page: u64, on_page: &mut dyn FnMut(u64)) -> Result<u64> {
        // Keyset pagination on the primary key: each page is a range seek, never an OFFSET.
        let mut query = self.conn.prepare_cached(
            "SELECT position, stream, revision, type, data FROM events WHERE position >= ?1 \
             ORDER BY position LIMIT ?2",
        )?;
        let mut next: i64 = 0;
        let mut total = 0;
        loop {
            let rows = query.query_map(params![next, page as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let events = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(last) = events.last() else { break };
            next = last.0 + 1;
            total += events.len() as u64;
            on_page(std::hint::black_box(events).len() as u64);
        }
        Ok(total)
    }

    fn event_count(&mut self) -> Result<u64> {
        let count: Option<i64> =
            self.conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0)).optional()?;
        Ok(count.unwrap_or(0) as u64)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

/// How this store does `workload` differently from its description, if it does.
pub fn note(_workload: Workload) -> Option<&'static str> {
    None
}
