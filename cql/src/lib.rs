//! GraveyardDB's commit log on Apache Cassandra (or ScyllaDB), through the `scylla` driver.
//!
//! The engine makes every committed batch one record of its commit log before it commits the
//! batch to LMDB and answers the callers (see `graveyard::commit_log`). With this log the record
//! is written to Cassandra with one lightweight transaction (`INSERT ... IF NOT EXISTS` on the
//! record's LSN): one Paxos round per batch, however many appends and events it carries, and
//! acknowledged only once the replicas the consistency level asks for hold it. LMDB on the
//! node's disk is then a replica the node rebuilds from Cassandra: after a crash it replays the
//! records after its last checkpoint; with its directory lost, every record from the first.
//!
//! Fencing: the LSN is the key of the conditional write, so two processes that both believe
//! they own a log can never both write record `n`. The one that loses learns it at its next
//! commit (nothing of that commit is applied or acknowledged) and takes no more writes until
//! it is reopened, which replays what the other wrote. A write whose outcome is unknown (a
//! timeout, a lost connection) is settled by reading the record back at the serial consistency
//! level, which completes any Paxos round left in progress, before the commit is answered.
//!
//! Tables (keyspace chosen by the caller, created when absent):
//! - `log_records ((log, bucket), lsn) -> writer, crc, size, parts, data`: a record's head,
//!   with its bytes inline up to 256 KiB; a log is bucketed by 1,024 records per partition so
//!   no partition grows without bound.
//! - `log_parts ((log, lsn, writer), part) -> data`: the bytes of a larger record in 512 KiB
//!   parts, written before its head (which alone makes the record exist); parts of a writer
//!   that lost the record are never read.
//! - `graveyard_meta (name) -> value`: the schema version of the keyspace.
//!
//! See docs/cql.md for what each replication factor and consistency level guarantees.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use graveyard::commit_log::{CommitLog, CommitLogSource};
use graveyard::{Error, Result, TornTail};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, Row};
use uuid::Uuid;

pub use scylla::statement::{Consistency, SerialConsistency};

#[cfg(feature = "testing")]
pub mod testing;

/// Records per partition of `log_records`.
const BUCKET: u64 = 1024;
/// Largest record kept inline in its head row; larger ones go to `log_parts`.
const INLINE: usize = 256 * 1024;
const PART: usize = 512 * 1024;
/// The schema this build writes and reads.
const SCHEMA_VERSION: &str = "1";
const TABLES: [&str; 3] = ["graveyard_meta", "log_records", "log_parts"];

/// How the keyspace is replicated when this log creates it (an existing keyspace is used as
/// it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy` with this many replicas: one datacenter.
    Simple(u32),
    /// `NetworkTopologyStrategy` with (datacenter, replicas) pairs.
    NetworkTopology(Vec<(String, u32)>),
}

/// Where and how the log is kept.
#[derive(Clone)]
pub struct CqlOptions {
    /// `host:port` of some nodes of the Cassandra cluster; the driver learns the others.
    pub contact_points: Vec<String>,
    pub keyspace: String,
    /// The log's name in the keyspace: one store (one GraveyardDB node) writes one log.
    pub log: String,
    pub replication: Replication,
    /// Of reads and plain writes, and of the commit phase of the conditional writes
    /// (`Quorum` by default; `LocalQuorum` with several datacenters).
    pub consistency: Consistency,
    /// Of the Paxos phase of the conditional writes and of reads that settle a write
    /// (`Serial` by default; `LocalSerial` keeps Paxos in one datacenter).
    pub serial_consistency: SerialConsistency,
    /// User name and password, for clusters with authentication.
    pub credentials: Option<(String, String)>,
    /// Client-side timeout of one request.
    pub request_timeout: Duration,
    /// How long a commit whose write has an unknown outcome is retried and read back before
    /// it fails and the store takes no more writes until reopened.
    pub settle_for: Duration,
}

/// The password never reaches a log: `Debug` names the user only.
impl std::fmt::Debug for CqlOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CqlOptions")
            .field("contact_points", &self.contact_points)
            .field("keyspace", &self.keyspace)
            .field("log", &self.log)
            .field("replication", &self.replication)
            .field("consistency", &self.consistency)
            .field("serial_consistency", &self.serial_consistency)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("request_timeout", &self.request_timeout)
            .field("settle_for", &self.settle_for)
            .finish()
    }
}

impl CqlOptions {
    pub fn new(
        contact_points: Vec<String>,
        keyspace: impl Into<String>,
        log: impl Into<String>,
    ) -> CqlOptions {
        CqlOptions {
            contact_points,
            keyspace: keyspace.into(),
            log: log.into(),
            replication: Replication::Simple(1),
            consistency: Consistency::Quorum,
            serial_consistency: SerialConsistency::Serial,
            credentials: None,
            request_timeout: Duration::from_secs(10),
            settle_for: Duration::from_secs(30),
        }
    }
}

/// Names Cassandra accepts unquoted, so they need no escaping in statements.
fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.as_bytes()[0].is_ascii_alphabetic();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} '{name}' must be 1 to {max} letters, digits or underscores, starting with a letter"
        )))
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("Cassandra: {what}: {e}"))
}

struct Statements {
    insert_head: PreparedStatement,
    insert_part: PreparedStatement,
    select_from: PreparedStatement,
    select_one: PreparedStatement,
    select_parts: PreparedStatement,
    delete_head: PreparedStatement,
}

struct Shared {
    runtime: tokio::runtime::Runtime,
    session: Arc<Session>,
    statements: Arc<Statements>,
    options: CqlOptions,
}

impl Shared {
    /// Runs `f` on the log's own runtime and waits for it: the engine's writer is a plain
    /// thread, and a caller inside another runtime must not be asked to drive this one.
    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| Error::Internal("the CQL log's runtime stopped".into()))
    }
}

/// A commit log kept in Cassandra: give it to `graveyard::Options::commit_log`.
pub struct CqlLogSource {
    shared: Arc<Shared>,
}

impl CqlLogSource {
    /// Connects, creates the keyspace and tables when absent (refusing a keyspace that holds
    /// other tables, or ours at a newer schema), and prepares the statements.
    pub fn connect(options: CqlOptions) -> Result<Arc<CqlLogSource>> {
        check_name("the keyspace", &options.keyspace, 48)?;
        if options.log.is_empty() || options.log.len() > 200 {
            return Err(Error::InvalidArgument("the log's name must be 1 to 200 bytes".into()));
        }
        if options.contact_points.is_empty() {
            return Err(Error::InvalidArgument("no Cassandra contact point given".into()));
        }
        match &options.replication {
            Replication::Simple(0) => {
                return Err(Error::InvalidArgument("a replication factor must be at least 1".into()))
            }
            Replication::NetworkTopology(dcs) if dcs.is_empty() || dcs.iter().any(|(_, n)| *n == 0) => {
                return Err(Error::InvalidArgument(
                    "NetworkTopologyStrategy needs at least one datacenter, each with at least 1 replica"
                        .into(),
                ))
            }
            _ => {}
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("graveyard-cql")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("starting the CQL log's runtime: {e}")))?;
        let (session, statements) = runtime.block_on(setup(options.clone()))?;
        Ok(Arc::new(CqlLogSource {
            shared: Arc::new(Shared {
                runtime,
                session: Arc::new(session),
                statements: Arc::new(statements),
                options,
            }),
        }))
    }
}

async fn setup(options: CqlOptions) -> Result<(Session, Statements)> {
    let mut builder = SessionBuilder::new()
        .known_nodes(&options.contact_points)
        .connection_timeout(options.request_timeout);
    if let Some((user, password)) = &options.credentials {
        builder = builder.user(user, password);
    }
    let session = builder.build().await.map_err(|e| unavailable("connecting", e))?;
    let ks = &options.keyspace;

    // A keyspace that holds anything else is not ours to write in.
    let existing: Vec<String> = session
        .query_iter("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (ks,))
        .await
        .map_err(|e| unavailable("listing the keyspace's tables", e))?
        .rows_stream::<(String,)>()
        .map_err(|e| unavailable("listing the keyspace's tables", e))?
        .map_ok(|(name,)| name)
        .try_collect()
        .await
        .map_err(|e| unavailable("listing the keyspace's tables", e))?;
    let foreign: Vec<&String> = existing.iter().filter(|t| !TABLES.contains(&t.as_str())).collect();
    if !foreign.is_empty() {
        return Err(Error::IncompatibleFormat(format!(
            "keyspace '{ks}' holds tables that are not GraveyardDB's ({}): choose another keyspace",
            foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }

    let replication = match &options.replication {
        Replication::Simple(n) => format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}"),
        Replication::NetworkTopology(dcs) => {
            for (dc, _) in dcs {
                if dc.contains('\'') {
                    return Err(Error::InvalidArgument(format!("datacenter name '{dc}' holds a quote")));
                }
            }
            let dcs: Vec<String> = dcs.iter().map(|(dc, n)| format!("'{dc}': {n}")).collect();
            format!("{{'class': 'NetworkTopologyStrategy', {}}}", dcs.join(", "))
        }
    };
    let ddl = [
        format!("CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {replication}"),
        format!("CREATE TABLE IF NOT EXISTS {ks}.graveyard_meta (name text PRIMARY KEY, value text)"),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.log_records (log text, bucket bigint, lsn bigint, writer uuid, \
             crc int, size bigint, parts int, data blob, PRIMARY KEY ((log, bucket), lsn)) \
             WITH CLUSTERING ORDER BY (lsn ASC)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.log_parts (log text, lsn bigint, writer uuid, part int, data blob, \
             PRIMARY KEY ((log, lsn, writer), part))"
        ),
    ];
    for statement in &ddl {
        session
            .query_unpaged(statement.as_str(), ())
            .await
            .map_err(|e| unavailable("creating the schema", e))?;
    }
    session.await_schema_agreement().await.map_err(|e| unavailable("waiting for schema agreement", e))?;

    let prepare = |cql: String| {
        let session = &session;
        let options = &options;
        async move {
            let mut statement =
                session.prepare(cql).await.map_err(|e| unavailable("preparing a statement", e))?;
            statement.set_consistency(options.consistency);
            statement.set_serial_consistency(Some(options.serial_consistency));
            statement.set_request_timeout(Some(options.request_timeout));
            Ok::<_, Error>(statement)
        }
    };

    // The schema version: written once, read back at the serial level.
    let mark =
        prepare(format!("INSERT INTO {ks}.graveyard_meta (name, value) VALUES ('schema', ?) IF NOT EXISTS"))
            .await?;
    session
        .execute_unpaged(&mark, (SCHEMA_VERSION,))
        .await
        .map_err(|e| unavailable("marking the schema", e))?;
    let mut read_mark =
        prepare(format!("SELECT value FROM {ks}.graveyard_meta WHERE name = 'schema'")).await?;
    read_mark.set_consistency(serial_as_consistency(options.serial_consistency));
    let found = session
        .execute_unpaged(&read_mark, ())
        .await
        .map_err(|e| unavailable("reading the schema version", e))?
        .into_rows_result()
        .map_err(|e| unavailable("reading the schema version", e))?
        .maybe_first_row::<(String,)>()
        .map_err(|e| unavailable("reading the schema version", e))?;
    match found {
        Some((version,)) if version == SCHEMA_VERSION => {}
        Some((version,)) => {
            return Err(Error::IncompatibleFormat(format!(
                "keyspace '{ks}' holds GraveyardDB's tables at schema version {version}; this build knows {SCHEMA_VERSION}"
            )))
        }
        None => return Err(Error::Unavailable(format!("keyspace '{ks}': the schema version could not be read back"))),
    }

    let statements = Statements {
        insert_head: prepare(format!(
            "INSERT INTO {ks}.log_records (log, bucket, lsn, writer, crc, size, parts, data) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        ))
        .await?,
        insert_part: prepare(format!("INSERT INTO {ks}.log_parts (log, lsn, writer, part, data) VALUES (?, ?, ?, ?, ?)"))
            .await?,
        select_from: prepare(format!(
            "SELECT lsn, writer, crc, size, parts, data FROM {ks}.log_records WHERE log = ? AND bucket = ? AND lsn >= ?"
        ))
        .await?,
        select_one: {
            let mut statement = prepare(format!(
                "SELECT lsn, writer, crc, size, parts, data FROM {ks}.log_records WHERE log = ? AND bucket = ? AND lsn = ?"
            ))
            .await?;
            // A read at the serial level completes a Paxos round left in progress, so what it
            // answers is settled: no later write can make an absent record appear.
            statement.set_consistency(serial_as_consistency(options.serial_consistency));
            statement
        },
        select_parts: prepare(format!(
            "SELECT part, data FROM {ks}.log_parts WHERE log = ? AND lsn = ? AND writer = ?"
        ))
        .await?,
        delete_head: prepare(format!(
            "DELETE FROM {ks}.log_records WHERE log = ? AND bucket = ? AND lsn = ? IF writer = ?"
        ))
        .await?,
    };
    Ok((session, statements))
}

fn serial_as_consistency(serial: SerialConsistency) -> Consistency {
    match serial {
        SerialConsistency::Serial => Consistency::Serial,
        SerialConsistency::LocalSerial => Consistency::LocalSerial,
    }
}

impl CommitLogSource for CqlLogSource {
    fn identity(&self) -> String {
        format!("cql:{}/{}", self.shared.options.keyspace, self.shared.options.log)
    }

    fn open(
        &self,
        _store_dir: &Path,
        from_lsn: u64,
        replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<(Box<dyn CommitLog>, Option<TornTail>)> {
        let shared = &self.shared;
        let mut lsn = from_lsn;
        // Bucket by bucket from the checkpoint's LSN, each read in pages.
        loop {
            let records = shared.run(read_bucket(
                shared.session.clone(),
                shared.statements.clone(),
                shared.options.log.clone(),
                lsn,
            ))??;
            let full = !records.is_empty() && (lsn + records.len() as u64).is_multiple_of(BUCKET);
            for record in records {
                if record.lsn != lsn {
                    return Err(Error::Corruption(format!(
                        "commit log '{}' has record {} where record {lsn} was expected",
                        shared.options.log, record.lsn
                    )));
                }
                let data = self.record_bytes(record)?;
                replay(lsn, &data)?;
                lsn += 1;
            }
            if !full {
                break;
            }
        }
        // The tail, read at the serial level: a record whose write was left in progress by a
        // writer that stopped is completed (or not) now, and replayed if it was.
        while let Some(record) = shared.run(read_one(
            shared.session.clone(),
            shared.statements.clone(),
            shared.options.log.clone(),
            lsn,
        ))?? {
            let data = self.record_bytes(record)?;
            replay(lsn, &data)?;
            lsn += 1;
        }
        let log = CqlLog {
            shared: shared.clone(),
            writer: Uuid::new_v4(),
            next_lsn: lsn,
            last: None,
            failed: false,
        };
        Ok((Box::new(log), None))
    }
}

impl CqlLogSource {
    /// A record's bytes, from its head or its parts, checked against its checksum.
    fn record_bytes(&self, record: Head) -> Result<Vec<u8>> {
        let shared = &self.shared;
        let data = if record.parts == 0 {
            record.data
        } else {
            let parts = shared.run(read_parts(
                shared.session.clone(),
                shared.statements.clone(),
                shared.options.log.clone(),
                record.lsn,
                record.writer,
            ))??;
            if parts.len() != record.parts as usize
                || parts.iter().enumerate().any(|(i, (n, _))| *n as usize != i)
            {
                return Err(Error::Corruption(format!(
                    "record {} of commit log '{}' should have {} parts and has {}",
                    record.lsn,
                    shared.options.log,
                    record.parts,
                    parts.len()
                )));
            }
            parts.into_iter().flat_map(|(_, data)| data).collect()
        };
        if data.len() as u64 != record.size || crc32c::crc32c(&data) as i32 != record.crc {
            return Err(Error::Corruption(format!(
                "record {} of commit log '{}' does not match its checksum",
                record.lsn, shared.options.log
            )));
        }
        Ok(data)
    }
}

/// A record's head row.
struct Head {
    lsn: u64,
    writer: Uuid,
    crc: i32,
    size: u64,
    parts: i32,
    data: Vec<u8>,
}

type HeadRow = (i64, Uuid, i32, i64, i32, Option<Vec<u8>>);

fn head(row: HeadRow) -> Head {
    let (lsn, writer, crc, size, parts, data) = row;
    Head { lsn: lsn as u64, writer, crc, size: size as u64, parts, data: data.unwrap_or_default() }
}

fn key(lsn: u64) -> (i64, i64) {
    ((lsn / BUCKET) as i64, lsn as i64)
}

async fn read_bucket(
    session: Arc<Session>,
    statements: Arc<Statements>,
    log: String,
    from: u64,
) -> Result<Vec<Head>> {
    let (bucket, lsn) = key(from);
    let what = "reading the commit log";
    session
        .execute_iter(statements.select_from.clone(), (&log, bucket, lsn))
        .await
        .map_err(|e| unavailable(what, e))?
        .rows_stream::<HeadRow>()
        .map_err(|e| unavailable(what, e))?
        .map_ok(head)
        .try_collect()
        .await
        .map_err(|e| unavailable(what, e))
}

async fn read_one(
    session: Arc<Session>,
    statements: Arc<Statements>,
    log: String,
    lsn: u64,
) -> Result<Option<Head>> {
    let (bucket, at) = key(lsn);
    let what = "reading the commit log";
    Ok(session
        .execute_unpaged(&statements.select_one, (&log, bucket, at))
        .await
        .map_err(|e| unavailable(what, e))?
        .into_rows_result()
        .map_err(|e| unavailable(what, e))?
        .maybe_first_row::<HeadRow>()
        .map_err(|e| unavailable(what, e))?
        .map(head))
}

async fn read_parts(
    session: Arc<Session>,
    statements: Arc<Statements>,
    log: String,
    lsn: u64,
    writer: Uuid,
) -> Result<Vec<(i32, Vec<u8>)>> {
    let what = "reading a record's parts";
    session
        .execute_iter(statements.select_parts.clone(), (&log, lsn as i64, writer))
        .await
        .map_err(|e| unavailable(what, e))?
        .rows_stream::<(i32, Vec<u8>)>()
        .map_err(|e| unavailable(what, e))?
        .try_collect()
        .await
        .map_err(|e| unavailable(what, e))
}

/// `[applied]` of a conditional write's answer.
fn applied(result: QueryResult) -> std::result::Result<bool, String> {
    let rows = result.into_rows_result().map_err(|e| e.to_string())?;
    match rows.maybe_first_row::<Row>().map_err(|e| e.to_string())? {
        Some(Row { columns }) => match columns.first() {
            Some(Some(CqlValue::Boolean(applied))) => Ok(*applied),
            _ => Err("the answer has no [applied] column".into()),
        },
        None => Err("the answer has no row".into()),
    }
}

/// Errors after which the request was surely never sent, so nothing can have been written.
fn never_sent(e: &ExecutionError) -> bool {
    matches!(
        e,
        ExecutionError::BadQuery(_) | ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_)
    )
}

enum Written {
    /// The record is ours.
    Ours,
    /// Another writer holds this LSN.
    Taken(Uuid),
    /// Settled as not written (never sent, or read back absent at the serial level).
    Not(Error),
    /// Neither written nor absent as far as anyone can tell now.
    Unknown(Error),
}

struct CqlLog {
    shared: Arc<Shared>,
    /// This open's name on the records it writes.
    writer: Uuid,
    next_lsn: u64,
    last: Option<u64>,
    failed: bool,
}

impl CqlLog {
    fn name(&self) -> &str {
        &self.shared.options.log
    }

    /// Writes the head of record `lsn`, settling an unknown outcome by reading it back.
    fn write_head(&self, lsn: u64, record: &[u8], parts: usize) -> Result<Written> {
        let shared = &self.shared;
        let (bucket, at) = key(lsn);
        let crc = crc32c::crc32c(record) as i32;
        let size = record.len() as i64;
        let inline = if parts == 0 { record.to_vec() } else { Vec::new() };
        let started = Instant::now();
        let settle_for = shared.options.settle_for;
        let mut delay = Duration::from_millis(50);
        loop {
            let (session, statements, log, writer, inline) = (
                shared.session.clone(),
                shared.statements.clone(),
                self.name().to_owned(),
                self.writer,
                inline.clone(),
            );
            let attempt = shared.run(async move {
                session
                    .execute_unpaged(
                        &statements.insert_head,
                        (&log, bucket, at, writer, crc, size, parts as i32, inline),
                    )
                    .await
            })?;
            let failure = match attempt {
                Ok(result) => match applied(result) {
                    Ok(true) => return Ok(Written::Ours),
                    // Taken: by whom is read back below (it may be this writer's own earlier
                    // attempt whose answer was lost).
                    Ok(false) => None,
                    Err(why) => Some(why),
                },
                Err(e) if never_sent(&e) => {
                    return Ok(Written::Not(unavailable(&format!("writing record {lsn}"), e)));
                }
                Err(e) => Some(e.to_string()),
            };
            let read = shared.run(read_one(
                shared.session.clone(),
                shared.statements.clone(),
                self.name().to_owned(),
                lsn,
            ))?;
            let why = failure.clone().unwrap_or_default();
            match read {
                Ok(Some(found)) if found.writer == self.writer => return Ok(Written::Ours),
                Ok(Some(found)) => return Ok(Written::Taken(found.writer)),
                Ok(None) if failure.is_none() => {
                    return Err(Error::Internal(format!(
                        "Cassandra refused record {lsn} of commit log '{}' as present, then read it as absent",
                        self.name()
                    )))
                }
                // Settled as not written: writing again is safe (the write is conditional).
                Ok(None) if started.elapsed() >= settle_for => {
                    return Ok(Written::Not(Error::Unavailable(format!(
                        "record {lsn} of commit log '{}' could not be written in {} s: {why}",
                        self.name(),
                        settle_for.as_secs()
                    ))))
                }
                Err(e) if started.elapsed() >= settle_for => {
                    return Ok(Written::Unknown(Error::Unavailable(format!(
                        "the outcome of writing record {lsn} of commit log '{}' is unknown ({why}; reading it back: {e})",
                        self.name()
                    ))))
                }
                Ok(None) | Err(_) => {}
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Writes the parts of a large record, concurrently; plain writes, since no reader looks at
    /// them before the head that names this writer exists.
    fn write_parts(&self, lsn: u64, record: &[u8]) -> Result<usize> {
        let shared = &self.shared;
        let chunks: Vec<Vec<u8>> = record.chunks(PART).map(<[u8]>::to_vec).collect();
        let count = chunks.len();
        let (session, statements, log, writer) =
            (shared.session.clone(), shared.statements.clone(), self.name().to_owned(), self.writer);
        shared
            .run(async move {
                let writes = chunks.into_iter().enumerate().map(|(part, data)| {
                    let (session, statements, log) = (session.clone(), statements.clone(), log.clone());
                    async move {
                        session
                            .execute_unpaged(
                                &statements.insert_part,
                                (&log, lsn as i64, writer, part as i32, data),
                            )
                            .await
                            .map(|_| ())
                    }
                });
                futures_util::future::try_join_all(writes).await
            })?
            .map_err(|e| unavailable(&format!("writing the parts of record {lsn}"), e))?;
        Ok(count)
    }
}

impl CommitLog for CqlLog {
    fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    fn append(&mut self, record: &[u8]) -> Result<u64> {
        if self.failed {
            return Err(Error::Unavailable(format!("commit log '{}' must be reopened", self.name())));
        }
        let lsn = self.next_lsn;
        let parts = if record.len() > INLINE { self.write_parts(lsn, record)? } else { 0 };
        match self.write_head(lsn, record, parts)? {
            Written::Ours => {
                self.last = Some(lsn);
                self.next_lsn = lsn + 1;
                Ok(lsn)
            }
            Written::Taken(other) => {
                self.failed = true;
                Err(Error::Unavailable(format!(
                    "record {lsn} of commit log '{}' was written by another writer ({other}): this store no longer \
                     owns the log; reopen it to take up what was written",
                    self.name()
                )))
            }
            Written::Not(e) => Err(e),
            Written::Unknown(e) => {
                // The record may exist: only a reopen, which reads the tail at the serial
                // level, can tell.
                self.failed = true;
                Err(e)
            }
        }
    }

    fn undo_last(&mut self, lsn: u64) -> Result<()> {
        if self.last != Some(lsn) {
            return Err(Error::Internal(format!("record {lsn} is not the last one of the commit log")));
        }
        let shared = &self.shared;
        let (bucket, at) = key(lsn);
        let (session, statements, log, writer) =
            (shared.session.clone(), shared.statements.clone(), self.name().to_owned(), self.writer);
        let erased = shared
            .run(async move {
                session.execute_unpaged(&statements.delete_head, (&log, bucket, at, writer)).await
            })?
            .map_err(|e| e.to_string())
            .and_then(applied);
        match erased {
            Ok(true) => {
                self.last = None;
                self.next_lsn = lsn;
                Ok(())
            }
            Ok(false) => {
                self.failed = true;
                Err(Error::Unavailable(format!(
                    "record {lsn} of commit log '{}' is no longer this writer's",
                    self.name()
                )))
            }
            Err(e) => {
                self.failed = true;
                Err(Error::Unavailable(format!("erasing record {lsn} of commit log '{}': {e}", self.name())))
            }
        }
    }

    fn failed(&self) -> bool {
        self.failed
    }

    /// Every append is durable once acknowledged.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// The records stay: they are the replicated history other replicas (and a rebuilt
    /// directory) replay.
    fn release_before(&mut self, _lsn: u64) -> Result<()> {
        Ok(())
    }
}
