//! The PostgreSQL 15 peer: a fresh cluster started by `scripts/postgres.sh` on a free loopback
//! port, and an event store built on it the common way: one table, a unique (stream, revision)
//! constraint as the optimistic-concurrency check, one transaction per append.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Statement};

use super::load::Appender;
use crate::stores::{bench_error, BoxError, Result};
use crate::workload::EVENT_TYPE;

/// `scripts/postgres.sh` of the source tree this bench was built from.
pub const DEFAULT_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres.sh");

/// What the table and the append look like, for the report.
pub const SETUP: &str = "PostgreSQL 15 (Debian package), fresh cluster on 127.0.0.1, default durability \
    (fsync=on, synchronous_commit=on, full_page_writes=on), tokio-postgres over TCP; table \
    events(position bigserial primary key, stream text, revision bigint, event_id uuid unique, type text, \
    data jsonb, metadata bytea, created timestamptz default now(), unique(stream, revision)); \
    each append is ONE autocommit INSERT (its own transaction, committed with a WAL flush) of \
    revision = expected + 1, prepared once per connection, inserting only if revision expected \
    exists (so a gap is refused too); a unique violation or no row inserted is a version conflict";

const CREATE_TABLE: &str = "CREATE TABLE events (
    position  bigserial PRIMARY KEY,
    stream    text        NOT NULL,
    revision  bigint      NOT NULL,
    event_id  uuid        NOT NULL UNIQUE,
    type      text        NOT NULL,
    data      jsonb       NOT NULL,
    metadata  bytea,
    created   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, revision)
)";

/// One statement, so one transaction and one round trip per append. The unique constraint
/// refuses a revision that is taken (someone appended first); the `EXISTS` refuses a revision
/// past the end (the expected revision does not exist), which the constraint alone would let
/// through, leaving a gap. `ExpectedVersion::NoStream` is revision 0, which only the constraint
/// guards. The data arrives as text and is parsed into jsonb by the server, as an application
/// passing its JSON through would do.
const APPEND: &str = "INSERT INTO events (stream, revision, event_id, type, data, metadata)
    SELECT $1::text, $2::bigint, $3::uuid, $4::text, $5::text::jsonb, $6::bytea
    WHERE $2::bigint = 0
       OR EXISTS (SELECT 1 FROM events WHERE stream = $1::text AND revision = $2::bigint - 1)";

const LAST_REVISION: &str = "SELECT max(revision) FROM events WHERE stream = $1";

/// A running cluster; dropping it stops the server (the directory goes with its `TempDir`).
pub struct Postgres {
    script: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// Read once at start: PostgreSQL rewrites postmaster.pid while it runs.
    postmaster_pid: Option<u32>,
}

impl Postgres {
    /// Installs PostgreSQL 15 if needed, then initdb's and starts a cluster in a new directory
    /// under `base`, accepting `max_connections`. The error says why it could not.
    pub fn start(script: &Path, base: &Path, max_connections: usize) -> Result<Postgres> {
        if !script.is_file() {
            return Err(bench_error(format!("no script {} (pass --postgres-script)", script.display())));
        }
        let dir = tempfile::Builder::new().prefix("graveyard-bench-postgres-").tempdir_in(base)?;
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = super::nodes::free_ports(1)?[0];
            let output = Command::new("bash")
                .arg(script)
                .arg("start")
                .arg(dir.path())
                .arg(port.to_string())
                .arg(max_connections.to_string())
                .output()?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            eprint!("{stderr}");
            if output.status.success() {
                let postmaster_pid = read_postmaster_pid(dir.path());
                return Ok(Postgres { script: script.to_path_buf(), dir, port, postmaster_pid });
            }
            let last_line = stderr.trim().lines().last().unwrap_or("the script failed");
            last_error = last_line.trim_start_matches("postgres.sh: ").to_owned();
            // A port taken between the probe and the bind leaves a cluster that did not start:
            // stop whatever runs and try a fresh data directory on another port.
            if !last_error.contains("did not start") {
                break;
            }
            stop(script, dir.path());
            let _ = std::fs::remove_dir_all(dir.path().join("data"));
        }
        Err(bench_error(last_error))
    }

    fn connect_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    /// A connection, its driver running on the current tokio runtime.
    async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(&self.connect_string(), NoTls).await?;
        tokio::spawn(async move {
            // Ends when the client is dropped; an error then shows up in the client's calls.
            let _ = connection.await;
        });
        Ok(client)
    }

    pub async fn create_table(&self) -> Result<()> {
        self.connect().await?.batch_execute(CREATE_TABLE).await?;
        Ok(())
    }

    /// Rows in the table: every acknowledged append, and nothing else.
    pub async fn event_count(&self) -> Result<u64> {
        let row = self.connect().await?.query_one("SELECT count(*) FROM events", &[]).await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// One client's connection, with its statements prepared.
    pub async fn appender(&self) -> Result<PostgresAppender> {
        let client = self.connect().await?;
        let append = client.prepare(APPEND).await?;
        let last_revision = client.prepare(LAST_REVISION).await?;
        Ok(PostgresAppender { client, append, last_revision })
    }

    /// The postmaster's pid, to account for the CPU time of the cluster.
    pub fn postmaster_pid(&self) -> Option<u32> {
        self.postmaster_pid
    }
}

/// The first line of postmaster.pid.
fn read_postmaster_pid(dir: &Path) -> Option<u32> {
    let pid_file = std::fs::read_to_string(dir.join("data/postmaster.pid")).ok()?;
    pid_file.lines().next()?.trim().parse().ok()
}

impl Drop for Postgres {
    // Also on error or panic: a server left running would outlive the bench.
    fn drop(&mut self) {
        stop(&self.script, self.dir.path());
    }
}

fn stop(script: &Path, dir: &Path) {
    match Command::new("bash").arg(script).arg("stop").arg(dir).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => eprintln!(
            "graveyard-bench: stopping PostgreSQL in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => eprintln!("graveyard-bench: cannot run {}: {e}", script.display()),
    }
}

pub struct PostgresAppender {
    client: tokio_postgres::Client,
    append: Statement,
    last_revision: Statement,
}

impl Appender for PostgresAppender {
    async fn append(
        &mut self,
        stream: &str,
        expected: Option<u64>,
        payload: Vec<u8>,
    ) -> std::result::Result<u64, String> {
        let revision = expected.map_or(0, |r| r + 1) as i64;
        let data = std::str::from_utf8(&payload).map_err(|e| e.to_string())?;
        let event_id = uuid::Uuid::now_v7();
        let metadata: &[u8] = &[];
        match self
            .client
            .execute(&self.append, &[&stream, &revision, &event_id, &EVENT_TYPE, &data, &metadata])
            .await
        {
            Ok(1) => Ok(revision as u64),
            Ok(_) => {
                Err(format!("wrong expected version on {stream}: revision {} does not exist", revision - 1))
            }
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(format!("wrong expected version on {stream}: revision {revision} is taken"))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn last_revision(&mut self, stream: &str) -> std::result::Result<Option<u64>, BoxError> {
        let row = self.client.query_one(&self.last_revision, &[&stream]).await?;
        Ok(row.get::<_, Option<i64>>(0).map(|r| r as u64))
    }
}
