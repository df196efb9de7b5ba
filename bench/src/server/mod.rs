//! `graveyard-bench server`: C concurrent clients appending single events for a fixed time to real
//! `graveyard` nodes (one node, then a 3-node cluster; each on its own disk, then with its commit
//! log on Apache Cassandra) and, in the same run, to PostgreSQL 15 used as an event store. One
//! store runs at a time, on this machine, next to the load generator.

mod load;
mod nodes;
mod postgres;

use std::path::{Path, PathBuf};
use std::time::Duration;

use graveyard_cql::testing::Cassandra;
use load::{LoadResult, STREAMS_PER_CLIENT};
use nodes::Cluster;
use postgres::Postgres;

use crate::machine::Machine;
use crate::report::{build_fact, facts_to_markdown, facts_to_text, thousands, Grid};
use crate::stores::{bench_error, Result};
use crate::workload::{grouped, payload};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerArgs {
    pub quick: bool,
    /// Numbers of concurrent clients, one row each; empty: the default of the mode.
    pub clients: Vec<usize>,
    /// Seconds per row; None: the default of the mode.
    pub seconds: Option<f64>,
    pub markdown: Option<PathBuf>,
    /// Where the nodes' and PostgreSQL's directories go; default: the system temp dir.
    pub dir: Option<PathBuf>,
    pub graveyard_bin: Option<PathBuf>,
    pub postgres_script: Option<PathBuf>,
    /// Leave PostgreSQL out; its rows then say so.
    pub skip_postgres: bool,
    /// Leave the rows on Cassandra out; they then say so.
    pub skip_cassandra: bool,
    /// Flags every node gets besides its address, data and cluster flags (`--node-flag`), to
    /// measure what a setting costs.
    pub node_flags: Vec<String>,
}

impl ServerArgs {
    pub fn client_counts(&self) -> Vec<usize> {
        match (self.clients.is_empty(), self.quick) {
            (false, _) => self.clients.clone(),
            (true, true) => vec![1, 64],
            (true, false) => vec![64],
        }
    }

    pub fn duration(&self) -> Duration {
        match (self.seconds, self.quick) {
            (Some(seconds), _) => Duration::from_secs_f64(seconds),
            (None, true) => Duration::from_secs(1),
            (None, false) => Duration::from_secs(10),
        }
    }
}

/// Who serves the appends of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `sessions`: the client appends over `AppendSession` calls (its default), else unary
    /// `Append` calls. `cassandra`: 0, each node's commit log on its own disk; else the number
    /// of Cassandra nodes holding the logs, which is also the replication factor.
    Graveyard {
        nodes: usize,
        sessions: bool,
        cassandra: u8,
    },
    Postgres,
}

impl Target {
    /// In the order of the rows that share a number of clients.
    const ALL: [Target; 6] = [
        Target::Graveyard { nodes: 1, sessions: true, cassandra: 0 },
        Target::Graveyard { nodes: 1, sessions: false, cassandra: 0 },
        Target::Graveyard { nodes: 3, sessions: true, cassandra: 0 },
        Target::Graveyard { nodes: 1, sessions: true, cassandra: 1 },
        Target::Graveyard { nodes: 3, sessions: true, cassandra: 3 },
        Target::Postgres,
    ];
    const ONE_NODE: Target = Target::Graveyard { nodes: 1, sessions: true, cassandra: 0 };

    fn peer(self) -> &'static str {
        match self {
            Target::Graveyard { .. } => "GraveyardDB",
            Target::Postgres => "PostgreSQL 15",
        }
    }

    fn topology(self) -> String {
        match self {
            Target::Graveyard { nodes, sessions, cassandra } => {
                let mut topology = if nodes == 1 { "1 node".to_owned() } else { format!("{nodes} nodes") };
                if !sessions {
                    topology.push_str(", unary");
                }
                if cassandra > 0 {
                    let ring = if cassandra == 1 {
                        "1 Cassandra node".to_owned()
                    } else {
                        format!("{cassandra} Cassandra nodes")
                    };
                    topology.push_str(&format!(" on {ring}, RF {cassandra}"));
                }
                topology
            }
            Target::Postgres => "1 server".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
enum Outcome {
    Measured(LoadResult),
    /// The store could not be run here (PostgreSQL not installable or not starting): the reason.
    NotRun(String),
    /// The run itself went wrong (a store that did not start, lost writes, a broken contract).
    Failed(String),
}

#[derive(Debug, Clone)]
struct Row {
    target: Target,
    clients: usize,
    outcome: Outcome,
}

/// Runs every row and prints the table. Returns false if a row failed or an append failed (the
/// table still shows everything); PostgreSQL not being available is reported, not a failure.
pub fn run(args: &ServerArgs) -> Result<bool> {
    let counts = args.client_counts();
    let duration = args.duration();
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let machine = Machine::probe(&base, !args.quick)?;
    let binary = nodes::locate_binary(args.graveyard_bin.as_deref())?;
    let header = Header { machine: &machine, base: &base, binary: &binary, args };
    println!("{}", facts_to_text("GraveyardDB server benchmark", &header.facts()));
    machine.warn_if_in_memory(&base);

    // The load generator gets as many threads as there are cores, like a server would.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(machine.cores).enable_all().build()?;
    let mut rows = Vec::new();
    for target in Target::ALL {
        let graveyard = |ring: Option<&Cassandra>| {
            runtime.block_on(run_graveyard(&binary, target, &args.node_flags, &base, &counts, duration, ring))
        };
        rows.extend(match target {
            Target::Graveyard { cassandra: 0, .. } => graveyard(None),
            Target::Graveyard { cassandra, .. } => match start_cassandra(args, &base, cassandra) {
                Ok(ring) => graveyard(Some(&ring)),
                Err(reason) => counts
                    .iter()
                    .map(|&clients| Row { target, clients, outcome: Outcome::NotRun(reason.clone()) })
                    .collect(),
            },
            Target::Postgres => run_postgres(&runtime, args, &base, &counts, duration),
        });
    }

    let grid = table(&rows, &counts);
    let description = format!(
        "1 event per append, {} streams per client, expected version checked; {:.1} s per row; latency \
         per successful append, seen by the client",
        grouped(STREAMS_PER_CLIENT as u64),
        duration.as_secs_f64()
    );
    println!("{}", grid.to_text("append-1 over the network", &description));
    let verdict = targets(&rows);
    for line in &verdict {
        println!("{line}");
    }

    if let Some(path) = &args.markdown {
        let mut markdown = facts_to_markdown("Server benchmark", &header.facts());
        markdown.push('\n');
        markdown.push_str(&grid.to_markdown("append-1 over the network", &description));
        markdown.push('\n');
        for line in &verdict {
            markdown.push_str(&format!("- {line}\n"));
        }
        std::fs::write(path, markdown)
            .map_err(|e| bench_error(format!("writing Markdown to {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }

    let mut all_ok = true;
    for row in &rows {
        match &row.outcome {
            Outcome::Failed(_) => all_ok = false,
            Outcome::Measured(result) if result.errors > 0 => all_ok = false,
            _ => {}
        }
    }
    Ok(all_ok)
}

/// A ring of `nodes` Cassandra nodes for the rows on Cassandra (fetching its jars first if
/// needed), or why there is none.
fn start_cassandra(args: &ServerArgs, base: &Path, nodes: u8) -> std::result::Result<Cassandra, String> {
    if args.skip_cassandra {
        eprintln!("Cassandra: skipped (--skip-cassandra)");
        return Err("--skip-cassandra given".to_owned());
    }
    // Three JVMs take a minute to start on a small machine; a smoke run proves the rows on
    // Cassandra with one (cql/tests/replicated.rs runs three in CI).
    if args.quick && nodes > 1 {
        eprintln!("Cassandra, {nodes} nodes: skipped (--quick)");
        return Err(format!("--quick starts 1 Cassandra node, not {nodes}"));
    }
    eprintln!("starting {nodes} Cassandra node(s) ...");
    let ring = Cassandra::try_start_ring_in(base, nodes).map_err(|e| {
        eprintln!("Cassandra NOT RUN: {e}");
        format!("Cassandra could not be installed or started: {e}")
    })?;
    eprintln!(
        "  Cassandra in {} (stopped at the end; after Ctrl-C: scripts/cassandra.sh stop DIR)",
        ring.dir().display()
    );
    Ok(ring)
}

/// Starts `nodes` nodes once (with their commit logs on `cassandra` when given) and runs every
/// number of clients against them, each row on new streams.
async fn run_graveyard(
    binary: &Path,
    target: Target,
    node_flags: &[String],
    base: &Path,
    counts: &[usize],
    duration: Duration,
    cassandra: Option<&Cassandra>,
) -> Vec<Row> {
    let Target::Graveyard { nodes, sessions, cassandra: replicas } = target else {
        unreachable!("a GraveyardDB row")
    };
    let mut flags = node_flags.to_vec();
    if let Some(ring) = cassandra {
        flags.extend(
            [
                "--storage",
                "cql",
                "--cql-contact-points",
                &ring.contacts().join(","),
                "--cql-keyspace",
                "graveyard_bench",
                "--cql-replication",
                &replicas.to_string(),
            ]
            .map(str::to_owned),
        );
    }
    eprintln!("starting {} GraveyardDB node(s) ...", nodes);
    let cluster = match Cluster::start(binary, nodes, &flags, base, cassandra.is_some()).await {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("  GraveyardDB {}: {e}", target.topology());
            let reason = format!("the nodes did not start: {e}");
            return counts
                .iter()
                .map(|&clients| Row { target, clients, outcome: Outcome::Failed(reason.clone()) })
                .collect();
        }
    };
    let endpoints = cluster.endpoints();
    let mut stored_before = 0;
    let mut rows = Vec::new();
    for (index, &clients) in counts.iter().enumerate() {
        eprintln!("running GraveyardDB, {}, {clients} clients ...", target.topology());
        let outcome = async {
            let appenders = load::graveyard_clients(&endpoints, clients, sessions).await?;
            if let Some(client) = appenders.first() {
                let members = client.members().len();
                if members != nodes {
                    return Err(bench_error(format!("the client sees {members} members, not {nodes}")));
                }
            }
            // The store's CPU: the nodes', and Cassandra's when it holds their logs.
            let pids = || {
                let mut pids = cluster.pids();
                pids.extend(cassandra.map(Cassandra::pids).unwrap_or_default());
                pids
            };
            let result = load::drive(appenders, &format!("row{index}"), duration, pids).await?;
            let stored = load::graveyard_event_count(&endpoints).await?;
            check_stored(stored.saturating_sub(stored_before), &result)?;
            stored_before = stored;
            Ok(result)
        }
        .await;
        rows.push(Row { target, clients, outcome: measured(target, outcome) });
    }
    rows
}

/// Starts PostgreSQL once (installing it if needed) and runs every number of clients against it.
fn run_postgres(
    runtime: &tokio::runtime::Runtime,
    args: &ServerArgs,
    base: &Path,
    counts: &[usize],
    duration: Duration,
) -> Vec<Row> {
    let target = Target::Postgres;
    let not_run = |reason: String| {
        counts
            .iter()
            .map(|&clients| Row { target, clients, outcome: Outcome::NotRun(reason.clone()) })
            .collect::<Vec<_>>()
    };
    if args.skip_postgres {
        eprintln!("PostgreSQL: skipped (--skip-postgres)");
        return not_run("--skip-postgres given".to_owned());
    }
    eprintln!("starting PostgreSQL 15 ...");
    let script = args.postgres_script.clone().unwrap_or_else(|| PathBuf::from(postgres::DEFAULT_SCRIPT));
    // PostgreSQL's default of 100 connections, unless a row needs more (plus the checks' own).
    let max_connections = counts.iter().max().map_or(100, |&c| (c + 5).max(100));
    let pg = match Postgres::start(&script, base, max_connections) {
        Ok(pg) => pg,
        Err(e) => {
            eprintln!("PostgreSQL NOT RUN: {e}");
            return not_run(format!("PostgreSQL could not be installed or started: {e}"));
        }
    };
    runtime.block_on(async {
        if let Err(e) = pg.create_table().await {
            let reason = format!("creating the table: {e}");
            return counts
                .iter()
                .map(|&clients| Row { target, clients, outcome: Outcome::Failed(reason.clone()) })
                .collect();
        }
        let mut stored_before = 0;
        let mut rows = Vec::new();
        for (index, &clients) in counts.iter().enumerate() {
            eprintln!("running PostgreSQL, {clients} clients ...");
            let outcome = async {
                let mut appenders = Vec::with_capacity(clients);
                for _ in 0..clients {
                    appenders.push(pg.appender().await?);
                }
                let pids = || load::postgres_pids(pg.postmaster_pid());
                let result = load::drive(appenders, &format!("row{index}"), duration, pids).await?;
                let stored = pg.event_count().await?;
                check_stored(stored.saturating_sub(stored_before), &result)?;
                stored_before = stored;
                Ok(result)
            }
            .await;
            rows.push(Row { target, clients, outcome: measured(target, outcome) });
        }
        rows
    })
}

fn measured(target: Target, outcome: Result<LoadResult>) -> Outcome {
    match outcome {
        Ok(result) => {
            if let Some(error) = &result.first_error {
                eprintln!("  {} appends failed on {}, the first: {error}", result.errors, target.peer());
            }
            Outcome::Measured(result)
        }
        Err(e) => {
            eprintln!("  {} {} FAILED: {e}", target.peer(), target.topology());
            Outcome::Failed(e.to_string())
        }
    }
}

/// The store must hold every acknowledged event, and nothing else but the failed appends that
/// may have been written before their answer was lost.
fn check_stored(stored: u64, result: &LoadResult) -> Result<()> {
    let acknowledged = result.measurement.events;
    if (acknowledged..=acknowledged + result.errors).contains(&stored) {
        Ok(())
    } else {
        Err(bench_error(format!(
            "the store holds {stored} new events, but {acknowledged} were acknowledged ({} failed)",
            result.errors
        )))
    }
}

const RATIO_HEADER: &str = "GraveyardDB ÷ PostgreSQL";

/// Rows grouped by number of clients, in target order.
fn table(rows: &[Row], counts: &[usize]) -> Grid {
    let headers = [
        "peer",
        "topology",
        "clients",
        "events/s",
        "p50 µs",
        "p99 µs",
        "p999 µs",
        "errors",
        "CPU bench + store + other",
        RATIO_HEADER,
    ];
    let mut grid =
        Grid { headers: headers.iter().map(|h| h.to_string()).collect(), text_columns: 2, ..Grid::default() };
    let mut ordered: Vec<&Row> = Vec::new();
    let mut seen = Vec::new();
    for &clients in counts {
        if seen.contains(&clients) {
            continue;
        }
        seen.push(clients);
        for target in Target::ALL {
            ordered.extend(rows.iter().filter(|r| r.clients == clients && r.target == target));
        }
    }
    for row in ordered {
        let mut cells = vec![row.target.peer().to_owned(), row.target.topology(), row.clients.to_string()];
        match &row.outcome {
            Outcome::Measured(result) => {
                let m = &result.measurement;
                cells.push(thousands(m.events_per_sec()));
                cells.push(grouped(m.p50_us()));
                cells.push(grouped(m.p99_us()));
                cells.push(grouped(m.p999_us()));
                let mut errors = grouped(result.errors);
                if let Some(first) = &result.first_error {
                    grid.notes.push(format!("first failed append: {first}"));
                    errors.push_str(&format!(" ({})", grid.notes.len()));
                }
                cells.push(errors);
                cells.push(format!(
                    "{} + {} + {}",
                    cores(result.bench_cpu),
                    cores(result.store_cpu),
                    cores(result.other_cpu)
                ));
                cells.push(match row.target {
                    Target::Postgres => "base".to_owned(),
                    Target::Graveyard { .. } => match postgres_rate(rows, row.clients) {
                        Some(pg) if pg > 0.0 => format!("{:.2}", m.events_per_sec() / pg),
                        _ => "n/a".to_owned(),
                    },
                });
            }
            Outcome::NotRun(reason) => cells.push(format!("NOT RUN: {reason}")),
            Outcome::Failed(error) => cells.push(format!("FAILED: {error}")),
        }
        grid.rows.push(cells);
    }
    grid
}

fn postgres_rate(rows: &[Row], clients: usize) -> Option<f64> {
    rows.iter().find_map(|r| match (&r.outcome, r.target) {
        (Outcome::Measured(result), Target::Postgres) if r.clients == clients => {
            Some(result.measurement.events_per_sec())
        }
        _ => None,
    })
}

fn cores(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "?".to_owned()
    }
}

/// The targets, checked against the rows that measure them (64 clients): what was
/// reached, in numbers. Informational only: timing never fails a run.
fn targets(rows: &[Row]) -> Vec<String> {
    const CLIENTS: usize = 64;
    const RATE: f64 = 50_000.0;
    const P99_US: u64 = 5_000;
    const TIMES_POSTGRES: f64 = 3.0;
    let one_node = rows.iter().find_map(|r| match &r.outcome {
        Outcome::Measured(result) if r.target == Target::ONE_NODE && r.clients == CLIENTS => {
            Some(&result.measurement)
        }
        _ => None,
    });
    let Some(m) = one_node else { return Vec::new() };
    let reached = |ok: bool| if ok { "reached" } else { "NOT reached" };
    let (rate, p99) = (m.events_per_sec(), m.p99_us());
    let mut lines = vec![format!(
        "Target, 1 node with {CLIENTS} clients: ≥ {} appends/s with p99 < {} ms: {} ({} appends/s, p99 {} µs)",
        grouped(RATE as u64),
        P99_US / 1_000,
        reached(rate >= RATE && p99 < P99_US),
        thousands(rate),
        grouped(p99)
    )];
    lines.push(match postgres_rate(rows, CLIENTS) {
        Some(pg) if pg > 0.0 => format!(
            "Target, 1 node with {CLIENTS} clients: ≥ {TIMES_POSTGRES:.0}× PostgreSQL: {} ({:.2}×)",
            reached(rate / pg >= TIMES_POSTGRES),
            rate / pg
        ),
        _ => format!("Target, ≥ {TIMES_POSTGRES:.0}× PostgreSQL: not measured (no PostgreSQL row)"),
    });
    lines
}

/// The facts printed above the table.
struct Header<'a> {
    machine: &'a Machine,
    base: &'a Path,
    binary: &'a Path,
    args: &'a ServerArgs,
}

impl Header<'_> {
    fn facts(&self) -> Vec<(String, String)> {
        let args = self.args;
        let counts: Vec<String> = args.client_counts().iter().map(|c| c.to_string()).collect();
        let seconds = args.duration().as_secs_f64();
        let mut facts = vec![
            build_fact(),
            (
                "run".to_owned(),
                format!(
                    "{} ({seconds:.1} s per row; clients {})",
                    if args.quick { "--quick (smoke test)" } else { "full" },
                    counts.join(", ")
                ),
            ),
        ];
        facts.extend(self.machine.facts(self.base));
        let built = std::fs::metadata(self.binary)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map_or("unknown".to_owned(), |age| format!("{} min", age.as_secs() / 60));
        facts.push((
            "graveyard".to_owned(),
            format!("{} (built {built} before this run)", self.binary.display()),
        ));
        if !args.node_flags.is_empty() {
            facts.push(("node flags".to_owned(), args.node_flags.join(" ")));
        }
        facts.push((
            "durability".to_owned(),
            "every peer is durable: an acknowledged append was synced to disk (GraveyardDB: fsync on \
             every commit, the default; PostgreSQL: fsync=on, synchronous_commit=on, the defaults)"
                .to_owned(),
        ));
        facts.push((
            "GraveyardDB 1 node".to_owned(),
            "`graveyard serve --listen 127.0.0.1:PORT --data DIR`, default settings: embedded LMDB store, \
             fsync on every commit (group commit), plain HTTP/2, no token"
                .to_owned(),
        ));
        facts.push((
            "GraveyardDB 1 node, unary".to_owned(),
            "the same node, its clients appending with one unary Append call each \
             (ClientOptions::append_sessions = false) instead of over their AppendSession call"
                .to_owned(),
        ));
        facts.push((
            "GraveyardDB 3 nodes".to_owned(),
            "three such processes on this machine with --node-id n1..n3 --members: each stream lives on \
             one node (consistent hashing, no replication) and the client sends each append straight \
             to its owner"
                .to_owned(),
        ));
        facts.push((
            "GraveyardDB on Cassandra".to_owned(),
            "the same nodes with `--storage cql --cql-replication N` (docs/cql.md): every commit is one \
             lightweight transaction (Paxos, serial consistency, committed at QUORUM) on Apache Cassandra \
             5.0.6 before it is acknowledged, LMDB under --data being a replica; Cassandra started by \
             scripts/cassandra.sh on 127.0.0.1..N of this machine (commitlog_sync: batch, paxos v2, \
             512 MB heap), N = the replication factor; its CPU counts as the store's"
                .to_owned(),
        ));
        facts.push(("PostgreSQL 15".to_owned(), postgres::SETUP.to_owned()));
        facts.push((
            "load".to_owned(),
            format!(
                "C clients, each an async task with its own connection(s) (GraveyardDB: its own \
                 graveyard::Client, connected to every node before the clock starts, appending over one \
                 AppendSession call per node unless the row says unary; PostgreSQL: its own \
                 tokio-postgres connection), on a {}-thread tokio runtime in the bench process, on the \
                 same machine as the store; each client owns {} streams and appends one {}-byte JSON \
                 event at a time to one of them picked at random, expected version = that stream's last \
                 revision (NoStream first); every row writes new streams; one store runs at a time",
                self.machine.cores,
                grouped(STREAMS_PER_CLIENT as u64),
                payload(0).len()
            ),
        ));
        facts.push((
            "checks".to_owned(),
            "after each row the store holds exactly the acknowledged events (GraveyardDB: the heads of \
             every node's $all; PostgreSQL: count(*)), and every append got the revision it expected"
                .to_owned(),
        ));
        facts.push((
            "columns".to_owned(),
            "events/s = successful appends per second of wall time; latency (µs, hdrhistogram) of \
             successful appends, from sending the request to the durable answer; errors = failed appends, \
             never counted in events/s; CPU = CPU seconds per wall second of the bench process (load \
             generator) + the store's processes + everything else (other processes, and kernel work \
             charged to no process, such as part of the loopback network); a total near the number of \
             cores means the machine was the limit; GraveyardDB ÷ PostgreSQL = \
             events/s ratio at the same number of clients"
                .to_owned(),
        ));
        facts
    }
}
