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
//! - `log_records ((log, bucket), lsn) -> id, crc, size, parts, data`: a record's head, with
//!   its bytes inline up to 256 KiB; `id` is unique to the append that wrote it. A log is
//!   bucketed by 1,024 records per partition so no partition grows without bound.
//! - `log_parts ((log, lsn, id), part) -> data`: the bytes of a larger record in 512 KiB
//!   parts, written before its head (which alone makes the record exist); only the parts of
//!   the head's own `id` are ever read.
//! - `graveyard_meta (name) -> value`: the schema version of the keyspace, and each log's
//!   incarnation (a UUID made when the log is first used, part of its identity, so a log
//!   recreated under the same name is never taken for the old one).
//!
//! See docs/cql.md for what each replication factor and consistency level guarantees.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use graveyard::commit_log::{CommitLog, CommitLogSource};
use graveyard::{Error, Result, TornTail};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, PrepareError, RequestAttemptError};
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::response::query_result::QueryResult;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::unprepared::Statement;
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
    /// TLS to every node (Cassandra's `client_encryption_options`); `None` is plain TCP.
    pub tls: Option<CqlTls>,
    /// Client-side timeout of one request.
    pub request_timeout: Duration,
    /// How long a commit whose write has an unknown outcome is retried and read back before
    /// it fails and the store takes no more writes until the log is back (it then reads the
    /// record in doubt as it is for good, and goes on).
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
            .field(
                "tls",
                &self.tls.as_ref().map(|tls| tls.server_name.as_deref().unwrap_or("each node's address")),
            )
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
            tls: None,
            request_timeout: Duration::from_secs(10),
            settle_for: Duration::from_secs(30),
        }
    }
}

/// How the nodes' certificates are checked.
#[derive(Clone)]
pub struct CqlTls {
    /// PEM certificates of the authorities trusted to sign the nodes' certificates.
    pub ca_pem: Vec<u8>,
    /// The name every node's certificate must be valid for. `None`: each node's IP address, as
    /// the driver connects by address (the certificates then carry the nodes' addresses).
    pub server_name: Option<String>,
}

impl CqlTls {
    /// The rustls configuration of the connections: TLS 1.2 or 1.3, ring's algorithms, the
    /// given authorities only. INVALID_ARGUMENT when the PEM holds no usable certificate or the
    /// name is not a DNS name or an address.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let invalid = |why: String| Error::InvalidArgument(format!("TLS to Cassandra: {why}"));
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let cert = cert.map_err(|e| invalid(format!("the CA certificates are not PEM: {e}")))?;
            roots.add(cert).map_err(|e| invalid(format!("a CA certificate is not usable: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid("the CA file holds no certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| invalid(e.to_string()))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?;
        let config = match &self.server_name {
            None => builder.with_webpki_verifier(verifier).with_no_client_auth(),
            Some(name) => {
                let name = ServerName::try_from(name.clone())
                    .map_err(|_| invalid(format!("'{name}' is not a DNS name or an IP address")))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NamedVerifier { inner: verifier, name }))
                    .with_no_client_auth()
            }
        };
        Ok(Arc::new(config))
    }
}

/// Checks a node's certificate as the standard verifier does, for one configured name instead of
/// the address the driver dialled: clusters whose certificates name a service, not each node.
#[derive(Debug)]
struct NamedVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: rustls::pki_types::ServerName<'static>,
}

impl rustls::client::danger::ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _dialled: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Names Cassandra accepts unquoted, so they need no escaping in statements.
fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} '{name}' must be 1 to {max} lower-case letters, digits or underscores, starting with a letter"
        )))
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("Cassandra: {what}: {e}"))
}

/// The pauses between tries of a step that may pass later (a node starting, a write whose
/// outcome is unknown): doubling from the first, at most 2 s, for as long as `patience` allows.
struct Backoff {
    started: Instant,
    patience: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, patience: Duration) -> Backoff {
        Backoff { started: Instant::now(), patience, next: first }
    }

    /// What is left of the patience.
    fn left(&self) -> Duration {
        self.patience.saturating_sub(self.started.elapsed())
    }

    /// Whether another pause still ends within the patience.
    fn fits(&self) -> bool {
        self.next < self.left()
    }

    fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(2));
        pause
    }
}

/// A failure of a setup step. Cassandra's refusals of what was asked (no permission, a
/// replication it does not accept) are said with their own code and are final; anything else
/// (a node starting, a timeout, a schema settling) is UNAVAILABLE, which `setup` tries again.
/// (Credentials refused are a failure to connect, said as such before any step.)
fn setup_failure(what: &str, e: impl Into<Refused>) -> Error {
    let refused = e.into();
    let message = format!("Cassandra: {what}: {}", refused.message);
    match refused.db {
        Some(DbError::Unauthorized) => Error::PermissionDenied(message),
        Some(DbError::SyntaxError | DbError::Invalid | DbError::ConfigError) => {
            Error::InvalidArgument(message)
        }
        _ => Error::Unavailable(message),
    }
}

/// A driver error, with Cassandra's own error when it is one.
struct Refused {
    message: String,
    db: Option<DbError>,
}

fn db_error(e: &RequestAttemptError) -> Option<DbError> {
    match e {
        RequestAttemptError::DbError(db, _) => Some(db.clone()),
        _ => None,
    }
}

impl From<ExecutionError> for Refused {
    fn from(e: ExecutionError) -> Refused {
        let db = match &e {
            ExecutionError::LastAttemptError(attempt) => db_error(attempt),
            ExecutionError::PrepareError(PrepareError::AllAttemptsFailed { first_attempt }) => {
                db_error(first_attempt)
            }
            _ => None,
        };
        Refused { message: e.to_string(), db }
    }
}

impl From<PrepareError> for Refused {
    fn from(e: PrepareError) -> Refused {
        let db = match &e {
            PrepareError::AllAttemptsFailed { first_attempt } => db_error(first_attempt),
            _ => None,
        };
        Refused { message: e.to_string(), db }
    }
}

struct Statements {
    insert_head: PreparedStatement,
    insert_part: PreparedStatement,
    select_from: PreparedStatement,
    select_one: PreparedStatement,
    select_parts: PreparedStatement,
}

struct Shared {
    /// Taken only by `Drop`.
    runtime: Option<tokio::runtime::Runtime>,
    session: Arc<Session>,
    statements: Arc<Statements>,
    options: CqlOptions,
    /// The log's incarnation (see `graveyard_meta`).
    incarnation: Uuid,
}

/// Runs `f` on `runtime` and waits for it, from any thread: the engine's writer is a plain
/// thread, and a caller inside another runtime must not be asked to drive this one.
fn run_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| Error::Internal("the CQL log's runtime stopped".into()))
}

impl Shared {
    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Result<T> {
        run_on(self.runtime.as_ref().expect("the runtime lives until drop"), f)
    }

    /// Record `lsn`'s head, read at the serial level (see `select_one`).
    fn read_one(&self, lsn: u64) -> Result<Option<Head>> {
        self.run(read_one(self.session.clone(), self.statements.clone(), self.options.log.clone(), lsn))?
    }

    /// A record's bytes, from its head or its parts, checked against its checksum.
    fn record_bytes(&self, record: Head) -> Result<Vec<u8>> {
        let data = if record.parts == 0 {
            record.data
        } else {
            let parts = self.run(read_parts(
                self.session.clone(),
                self.statements.clone(),
                self.options.log.clone(),
                record.lsn,
                record.id,
                record.parts,
            ))??;
            if parts.len() != record.parts as usize
                || parts.iter().enumerate().any(|(i, (n, _))| *n as usize != i)
            {
                return Err(Error::Corruption(format!(
                    "record {} of commit log '{}' should have {} parts and has {}",
                    record.lsn,
                    self.options.log,
                    record.parts,
                    parts.len()
                )));
            }
            parts.into_iter().flat_map(|(_, data)| data).collect()
        };
        if data.len() as u64 != record.size || crc32c::crc32c(&data) as i32 != record.crc {
            return Err(Error::Corruption(format!(
                "record {} of commit log '{}' does not match its checksum",
                record.lsn, self.options.log
            )));
        }
        Ok(data)
    }

    /// Hands every record from `from` on to `replay`, in order, and returns the LSN after the
    /// last one: page by page (a few records at a time: records can be large) across buckets,
    /// then the tail at the serial level.
    fn replay_from(&self, from: u64, replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
        let mut lsn = from;
        loop {
            let page = self.run(read_page(
                self.session.clone(),
                self.statements.clone(),
                self.options.log.clone(),
                lsn,
            ))??;
            let (short, empty) = (page.len() < REPLAY_PAGE, page.is_empty());
            for record in page {
                if record.lsn != lsn {
                    return Err(Error::Corruption(format!(
                        "commit log '{}' has record {} where record {lsn} was expected",
                        self.options.log, record.lsn
                    )));
                }
                let data = self.record_bytes(record)?;
                replay(lsn, &data)?;
                lsn += 1;
            }
            // A short page ends the log, unless it ended its bucket: the log may go on in the
            // next one. An empty page ends it (a bucket holds a record before the next one does).
            if empty || (short && !lsn.is_multiple_of(BUCKET)) {
                break;
            }
        }
        // The tail, read at the serial level: a record whose write was left in progress by a
        // writer that stopped is completed (or not) now, and replayed if it was.
        while let Some(record) = self.read_one(lsn)? {
            let data = self.record_bytes(record)?;
            replay(lsn, &data)?;
            lsn += 1;
        }
        Ok(lsn)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle may go inside an async context (a node shutting down), where a
        // runtime may not block to stop.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A commit log kept in Cassandra: give it to `graveyard::Options::commit_log`.
pub struct CqlLogSource {
    shared: Arc<Shared>,
}

impl CqlLogSource {
    /// Connects, creates the keyspace and tables when absent (refusing a keyspace that holds
    /// other tables, or ours at a newer schema), and prepares the statements. Blocks until
    /// done; may be called from any thread.
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
        let (session, statements, incarnation) = match run_on(&runtime, setup(options.clone())) {
            Ok(Ok(set_up)) => set_up,
            Ok(Err(e)) | Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(Arc::new(CqlLogSource {
            shared: Arc::new(Shared {
                runtime: Some(runtime),
                session: Arc::new(session),
                statements: Arc::new(statements),
                options,
                incarnation,
            }),
        }))
    }
}

async fn setup(options: CqlOptions) -> Result<(Session, Statements, Uuid)> {
    let mut builder = SessionBuilder::new()
        .known_nodes(&options.contact_points)
        .connection_timeout(options.request_timeout)
        // A schema change waits for the ring to agree (the driver's default bound is 60 s),
        // here for a third of `settle_for` (at least one request timeout): a wait that cannot
        // end (its coordinator left the driver's view of the ring) is then one failed try of an
        // idempotent step, tried again, where waiting it out took all of `settle_for` (seen in
        // CI). A try that finds the change made waits again, so a slow ring still gets its time.
        .schema_agreement_timeout(options.request_timeout.max(options.settle_for / 3));
    if let Some((user, password)) = &options.credentials {
        builder = builder.user(user, password);
    }
    if let Some(tls) = &options.tls {
        builder = builder.tls_context(Some(tls.client_config()?));
    }
    // Not tried again: a Cassandra that cannot be reached at all is said at once.
    let session = builder.build().await.map_err(|e| unavailable("connecting", e))?;
    // Once it answers, what fails is passing (a ring still starting, a schema settling, a
    // timeout under load) and every step is idempotent: tried again for `settle_for`.
    let mut backoff = Backoff::new(Duration::from_millis(100), options.settle_for);
    loop {
        // A try is bounded too (by what is left of `settle_for`, at least one request timeout):
        // its steps have timeouts of their own, which add up past `settle_for`. Cut anywhere,
        // it is tried again from the start.
        let left = backoff.left().max(options.request_timeout);
        let tried = tokio::time::timeout(left, schema_and_statements(&session, &options))
            .await
            .unwrap_or_else(|_| {
                Err(SetupError {
                    error: Error::Unavailable(format!(
                        "Cassandra: setting up the keyspace did not finish within {} ms",
                        left.as_millis()
                    )),
                    passing: true,
                })
            });
        match tried {
            Ok((statements, incarnation)) => return Ok((session, statements, incarnation)),
            Err(failed) if failed.passing && backoff.fits() => tokio::time::sleep(backoff.pause()).await,
            Err(failed) => return Err(failed.error),
        }
    }
}

/// A setup step's failure, and whether it may pass if tried again.
struct SetupError {
    error: Error,
    passing: bool,
}

/// What Cassandra is not (UNAVAILABLE) may pass; what it refused is final.
impl From<Error> for SetupError {
    fn from(error: Error) -> SetupError {
        let passing = matches!(error, Error::Unavailable(_));
        SetupError { error, passing }
    }
}

/// Makes or checks the keyspace, its tables and this log's marks, and prepares the statements.
async fn schema_and_statements(
    session: &Session,
    options: &CqlOptions,
) -> std::result::Result<(Statements, Uuid), SetupError> {
    let ks = &options.keyspace;

    // The ring read again on every try: on a Cassandra still starting the driver's first read
    // can fail (seen: "prepared query not found" on system_schema), leaving it with a placeholder
    // host id for the contact point until a later read replaces it. A coordinator picked from
    // that view is a node the driver then no longer knows, and its schema change cannot be
    // awaited.
    session.refresh_metadata().await.map_err(|e| unavailable("reading the ring's metadata", e))?;

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
        ))
        .into());
    }

    let replication = match &options.replication {
        Replication::Simple(n) => format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}"),
        Replication::NetworkTopology(dcs) => {
            for (dc, _) in dcs {
                if dc.contains('\'') {
                    return Err(
                        Error::InvalidArgument(format!("datacenter name '{dc}' holds a quote")).into()
                    );
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
            "CREATE TABLE IF NOT EXISTS {ks}.log_records (log text, bucket bigint, lsn bigint, id uuid, \
             crc int, size bigint, parts int, data blob, PRIMARY KEY ((log, bucket), lsn)) \
             WITH CLUSTERING ORDER BY (lsn ASC)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.log_parts (log text, lsn bigint, id uuid, part int, data blob, \
             PRIMARY KEY ((log, lsn, id), part))"
        ),
    ];
    // Every statement on one coordinator, the same one for every GraveyardDB node: the live
    // Cassandra node with the lowest host id. Two coordinators creating one table at once give
    // it two ids, and until the schema converges replicas refuse the table's writes (measured:
    // three nodes starting together against a new keyspace, one failed its first Paxos round);
    // one coordinator applies them in turn, the second finding the table there.
    let coordinator = session
        .get_cluster_state()
        .get_nodes_info()
        .iter()
        .filter(|node| node.is_connected())
        .map(|node| node.host_id)
        .min()
        .ok_or_else(|| Error::Unavailable("Cassandra: no node is connected".into()))?;
    // A schema change waits for every live replica: given a few request timeouts, bounded all
    // the same so that a wedged coordinator is tried again (every step is idempotent). Named by
    // host id, looked up in the driver's current view at each statement: a node it has since
    // dropped fails this try instead of being used through a stale handle.
    let on_coordinator = ExecutionProfile::builder()
        .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
            NodeIdentifier::HostId(coordinator),
            None,
        ))
        .request_timeout(Some(options.request_timeout * 3))
        .build()
        .into_handle();
    for ddl in &ddl {
        let mut statement = Statement::new(ddl.as_str());
        statement.set_execution_profile_handle(Some(on_coordinator.clone()));
        session.query_unpaged(statement, ()).await.map_err(|e| {
            // Cassandra also refuses a datacenter it does not know yet (its nodes still
            // joining): tried again for settle_for, then said as the refusal it is.
            let refused = Refused::from(e);
            let config = matches!(refused.db, Some(DbError::ConfigError));
            let error = setup_failure("creating the schema", refused);
            SetupError { passing: config || matches!(error, Error::Unavailable(_)), error }
        })?;
        session.await_schema_agreement().await.map_err(|e| unavailable("waiting for schema agreement", e))?;
    }

    let prepare = |cql: String| async move {
        let mut statement =
            session.prepare(cql).await.map_err(|e| setup_failure("preparing a statement", e))?;
        statement.set_consistency(options.consistency);
        statement.set_serial_consistency(Some(options.serial_consistency));
        statement.set_request_timeout(Some(options.request_timeout));
        Ok::<_, Error>(statement)
    };

    // Marks written once and read back at the serial level: the schema version, and this
    // log's incarnation.
    let mark =
        prepare(format!("INSERT INTO {ks}.graveyard_meta (name, value) VALUES (?, ?) IF NOT EXISTS")).await?;
    let mut read_mark = prepare(format!("SELECT value FROM {ks}.graveyard_meta WHERE name = ?")).await?;
    read_mark.set_consistency(serial_as_consistency(options.serial_consistency));
    let settle_mark = |name: String, value: String| {
        let (mark, read_mark) = (&mark, &read_mark);
        async move {
            let what = format!("writing the mark '{name}'");
            session.execute_unpaged(mark, (&name, value)).await.map_err(|e| setup_failure(&what, e))?;
            let found = session
                .execute_unpaged(read_mark, (&name,))
                .await
                .map_err(|e| unavailable(&what, e))?
                .into_rows_result()
                .map_err(|e| unavailable(&what, e))?
                .maybe_first_row::<(String,)>()
                .map_err(|e| unavailable(&what, e))?;
            found.map(|(value,)| value).ok_or_else(|| {
                Error::Unavailable(format!("keyspace '{ks}': the mark '{name}' could not be read back"))
            })
        }
    };
    let version = settle_mark("schema".into(), SCHEMA_VERSION.into()).await?;
    if version != SCHEMA_VERSION {
        return Err(Error::IncompatibleFormat(format!(
            "keyspace '{ks}' holds GraveyardDB's tables at schema version {version}; this build knows {SCHEMA_VERSION}"
        )).into());
    }
    let incarnation = settle_mark(format!("log:{}", options.log), Uuid::new_v4().to_string()).await?;
    let incarnation = Uuid::parse_str(&incarnation).map_err(|_| {
        Error::Corruption(format!(
            "keyspace '{ks}': log '{}' has the incarnation '{incarnation}'",
            options.log
        ))
    })?;

    // Conditional writes are never retried by the driver: an attempt that may have been
    // applied is settled by reading it back (see `CqlLog::write_head`), never by writing again
    // blindly on another node and reporting that attempt's error.
    let no_retry: Arc<dyn scylla::policies::retry::RetryPolicy> =
        Arc::new(scylla::policies::retry::FallthroughRetryPolicy::new());
    let mut insert_head = prepare(format!(
        "INSERT INTO {ks}.log_records (log, bucket, lsn, id, crc, size, parts, data) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
    ))
    .await?;
    insert_head.set_retry_policy(Some(no_retry));
    let mut select_one = prepare(format!(
        "SELECT lsn, id, crc, size, parts, data FROM {ks}.log_records WHERE log = ? AND bucket = ? AND lsn = ?"
    ))
    .await?;
    // A read at the serial level completes a Paxos round left in progress, so what it answers
    // is settled: no later write can make an absent record appear.
    select_one.set_consistency(serial_as_consistency(options.serial_consistency));
    let statements = Statements {
        insert_head,
        insert_part: prepare(format!(
            "INSERT INTO {ks}.log_parts (log, lsn, id, part, data) VALUES (?, ?, ?, ?, ?)"
        ))
        .await?,
        select_from: prepare(format!(
            "SELECT lsn, id, crc, size, parts, data FROM {ks}.log_records \
             WHERE log = ? AND bucket = ? AND lsn >= ? LIMIT {REPLAY_PAGE}"
        ))
        .await?,
        select_one,
        select_parts: prepare(format!(
            "SELECT part, data FROM {ks}.log_parts WHERE log = ? AND lsn = ? AND id = ? AND part < ?"
        ))
        .await?,
    };
    Ok((statements, incarnation))
}

fn serial_as_consistency(serial: SerialConsistency) -> Consistency {
    match serial {
        SerialConsistency::Serial => Consistency::Serial,
        SerialConsistency::LocalSerial => Consistency::LocalSerial,
    }
}

impl CommitLogSource for CqlLogSource {
    /// `cql:<keyspace>/<log>@<incarnation>`: a keyspace or log dropped and made again under the
    /// same name is another log, and a store of the old one is refused.
    fn identity(&self) -> String {
        let shared = &self.shared;
        format!("cql:{}/{}@{}", shared.options.keyspace, shared.options.log, shared.incarnation)
    }

    fn open(
        &self,
        _store_dir: &Path,
        from_lsn: u64,
        replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<(Box<dyn CommitLog>, Option<TornTail>)> {
        let shared = &self.shared;
        // The store's checkpoint covers records up to `from_lsn`: the log must have them.
        if from_lsn > 0 && shared.read_one(from_lsn - 1)?.is_none() {
            return Err(Error::Corruption(format!(
                "commit log '{}' ends before record {}, which this store's checkpoint covers",
                shared.options.log,
                from_lsn - 1
            )));
        }
        let lsn = shared.replay_from(from_lsn, replay)?;
        Ok((Box::new(CqlLog { shared: shared.clone(), next_lsn: lsn, failed: false, behind: false }), None))
    }
}

/// Records read at once when replaying: records go up to 256 KiB inline.
const REPLAY_PAGE: usize = 64;
/// Parts of a large record written at once.
const PARTS_IN_FLIGHT: usize = 8;

/// A record's head row.
struct Head {
    lsn: u64,
    /// Unique to the append that wrote it.
    id: Uuid,
    crc: i32,
    size: u64,
    parts: i32,
    data: Vec<u8>,
}

type HeadRow = (i64, Uuid, i32, i64, i32, Option<Vec<u8>>);

fn head(row: HeadRow) -> Head {
    let (lsn, id, crc, size, parts, data) = row;
    Head { lsn: lsn as u64, id, crc, size: size as u64, parts, data: data.unwrap_or_default() }
}

fn key(lsn: u64) -> (i64, i64) {
    ((lsn / BUCKET) as i64, lsn as i64)
}

/// Whether Cassandra forgot a prepared statement again after the driver prepared it anew (its
/// cache of prepared statements evicts when many keyspaces share a cluster): worth another try.
fn unprepared(e: &ExecutionError) -> bool {
    use scylla::errors::{DbError, RequestAttemptError};
    matches!(e, ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Unprepared { .. }, _)))
}

/// Runs `request` again, up to 3 more times, while Cassandra answers that its statement is not
/// prepared (the driver prepares it again before each attempt's end).
async fn prepared_again<T, F, Fut>(mut request: F) -> std::result::Result<T, ExecutionError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, ExecutionError>>,
{
    let mut tries = 0;
    loop {
        match request().await {
            Err(e) if unprepared(&e) && tries < 3 => tries += 1,
            done => return done,
        }
    }
}

/// Up to `REPLAY_PAGE` records of `from`'s bucket, from `from` on.
async fn read_page(
    session: Arc<Session>,
    statements: Arc<Statements>,
    log: String,
    from: u64,
) -> Result<Vec<Head>> {
    let (bucket, lsn) = key(from);
    let what = "reading the commit log";
    let rows = prepared_again(|| session.execute_unpaged(&statements.select_from, (&log, bucket, lsn)))
        .await
        .map_err(|e| unavailable(what, e))?
        .into_rows_result()
        .map_err(|e| unavailable(what, e))?;
    rows.rows::<HeadRow>()
        .map_err(|e| unavailable(what, e))?
        .map(|row| row.map(head).map_err(|e| unavailable(what, e)))
        .collect()
}

async fn read_one(
    session: Arc<Session>,
    statements: Arc<Statements>,
    log: String,
    lsn: u64,
) -> Result<Option<Head>> {
    let (bucket, at) = key(lsn);
    let what = "reading the commit log";
    Ok(prepared_again(|| session.execute_unpaged(&statements.select_one, (&log, bucket, at)))
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
    id: Uuid,
    parts: i32,
) -> Result<Vec<(i32, Vec<u8>)>> {
    let what = "reading a record's parts";
    session
        .execute_iter(statements.select_parts.clone(), (&log, lsn as i64, id, parts))
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

/// Errors after which the request was surely never sent, so nothing can have been written
/// (the conditional write is never retried by the driver, so its error is its only attempt's).
fn never_sent(e: &ExecutionError) -> bool {
    matches!(
        e,
        ExecutionError::BadQuery(_) | ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_)
    )
}

enum Written {
    /// The record is this append's.
    Ours,
    /// Another append holds this LSN (another writer's, or an attempt of this one whose outcome
    /// was unknown).
    Taken(Uuid),
    /// Nothing was sent: nothing can have been written.
    NotSent(Error),
    /// Neither written nor absent as far as anyone can tell now.
    Unknown(Error),
}

struct CqlLog {
    shared: Arc<Shared>,
    next_lsn: u64,
    failed: bool,
    /// The last append found its LSN taken by another writer: `catch_up` applies its records.
    behind: bool,
}

impl CqlLog {
    fn name(&self) -> &str {
        &self.shared.options.log
    }

    /// Writes the head of record `lsn` under the append's own `id`, settling an unknown
    /// outcome by reading the record back.
    fn write_head(&self, lsn: u64, id: Uuid, record: &[u8], parts: usize) -> Result<Written> {
        let shared = &self.shared;
        let (bucket, at) = key(lsn);
        let crc = crc32c::crc32c(record) as i32;
        let size = record.len() as i64;
        // One copy of the record for every attempt.
        let inline = Arc::new(if parts == 0 { record.to_vec() } else { Vec::new() });
        let settle_for = shared.options.settle_for;
        let mut backoff = Backoff::new(Duration::from_millis(50), settle_for);
        let mut sent = false;
        loop {
            let (session, statements, log, inline) =
                (shared.session.clone(), shared.statements.clone(), self.name().to_owned(), inline.clone());
            let attempt = shared.run(async move {
                session
                    .execute_unpaged(
                        &statements.insert_head,
                        (&log, bucket, at, id, crc, size, parts as i32, inline),
                    )
                    .await
            })?;
            let failure = match attempt {
                Ok(result) => match applied(result) {
                    Ok(true) => return Ok(Written::Ours),
                    // Taken: by whom is read back below (it may be an earlier attempt of this
                    // append whose answer was lost).
                    Ok(false) => None,
                    Err(why) => Some(why),
                },
                Err(e) if never_sent(&e) && !sent => {
                    return Ok(Written::NotSent(unavailable(&format!("writing record {lsn}"), e)));
                }
                Err(e) => Some(e.to_string()),
            };
            sent = true;
            // (The runtime lives as long as this log: only Cassandra's errors come back.)
            let read = shared.read_one(lsn);
            let why = failure.clone().unwrap_or_default();
            match read {
                Ok(Some(found)) if found.id == id && found.crc == crc && found.size == size as u64 => {
                    return Ok(Written::Ours)
                }
                Ok(Some(found)) => return Ok(Written::Taken(found.id)),
                Ok(None) if failure.is_none() => {
                    return Err(Error::Internal(format!(
                    "Cassandra refused record {lsn} of commit log '{}' as present, then read it as absent",
                    self.name()
                )))
                }
                // Absent, as settled now: writing again is safe (the write is conditional).
                Ok(None) | Err(_) if backoff.fits() => {}
                // An attempt may still be running on its coordinator: only a reopen, which reads
                // the tail at the serial level, can tell.
                Ok(None) | Err(_) => {
                    let read = match read {
                        Ok(_) => "absent so far".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    return Ok(Written::Unknown(Error::Unavailable(format!(
                        "the outcome of writing record {lsn} of commit log '{}' is unknown after {} s ({why}; read back: {read})",
                        self.name(),
                        settle_for.as_secs()
                    ))));
                }
            }
            std::thread::sleep(backoff.pause());
        }
    }

    /// Writes the parts of a large record under the append's `id`, a few at a time; plain
    /// writes, since nothing reads them before a head naming `id` exists.
    fn write_parts(&self, lsn: u64, id: Uuid, record: &[u8]) -> Result<usize> {
        use futures_util::StreamExt;
        let shared = &self.shared;
        let chunks: Vec<Vec<u8>> = record.chunks(PART).map(<[u8]>::to_vec).collect();
        let count = chunks.len();
        let (session, statements, log) =
            (shared.session.clone(), shared.statements.clone(), self.name().to_owned());
        shared
            .run(async move {
                futures_util::stream::iter(chunks.into_iter().enumerate())
                    .map(|(part, data)| {
                        let (session, statements, log) = (session.clone(), statements.clone(), log.clone());
                        async move {
                            session
                                .execute_unpaged(
                                    &statements.insert_part,
                                    (&log, lsn as i64, id, part as i32, data),
                                )
                                .await
                                .map(|_| ())
                        }
                    })
                    .buffer_unordered(PARTS_IN_FLIGHT)
                    .try_collect::<Vec<()>>()
                    .await
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
            return Err(Error::Unavailable(format!(
                "commit log '{}' has a record in doubt: catch up first",
                self.name()
            )));
        }
        self.behind = false;
        let lsn = self.next_lsn;
        // Unique to this append, so that a record read back is known to be this append's and
        // not an earlier attempt's at the same LSN, and its parts are its own.
        let id = Uuid::new_v4();
        let parts = if record.len() > INLINE { self.write_parts(lsn, id, record)? } else { 0 };
        match self.write_head(lsn, id, record, parts)? {
            Written::Ours => {
                self.next_lsn = lsn + 1;
                Ok(lsn)
            }
            // Nothing of this append was written: the store catches up with the other writer's
            // records and checks its batch again (see `CommitLog::behind`).
            Written::Taken(other) => {
                self.behind = true;
                Err(Error::Unavailable(format!(
                    "record {lsn} of commit log '{}' was written by another writer (append {other}) first",
                    self.name()
                )))
            }
            Written::NotSent(e) => Err(e),
            Written::Unknown(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Never: once written, a record may have been read by another replica (a store opened
    /// on the log elsewhere), which then built on it. The store stops taking writes; reopening
    /// it replays the record, so the commit whose LMDB transaction failed here is applied then
    /// (its callers were told it failed: like a timeout, its outcome was unknown to them).
    fn undo_last(&mut self, lsn: u64) -> Result<()> {
        self.failed = true;
        // A catch-up reads it back, as a reopen would.
        self.next_lsn = lsn;
        Err(Error::Unavailable(format!(
            "record {lsn} of commit log '{}' stays in Cassandra, where others may have read it: reopen the \
             store to apply it",
            self.name()
        )))
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

    fn behind(&self) -> bool {
        self.behind
    }

    /// Reads on from this log's next LSN as a reopen does (the tail at the serial level, which
    /// settles a write left in doubt); the log takes writes again only once all of it was
    /// handed over. A log whose failed commit's record is in Cassandra but not in the store
    /// (`undo_last`) is not this one's to mend: its store is stopped for good until reopened.
    fn catch_up(&mut self, replay: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
        let next = self.shared.replay_from(self.next_lsn, replay)?;
        let count = next - self.next_lsn;
        self.next_lsn = next;
        self.failed = false;
        self.behind = false;
        Ok(count)
    }

    fn shared(&self) -> bool {
        true
    }
}
