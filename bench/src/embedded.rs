//! `graveyard-bench embedded`: every workload against every embedded store, one after the
//! other, each store in a fresh directory of its own.

use std::path::{Path, PathBuf};

use crate::driver;
use crate::machine::Machine;
use crate::report::{Outcome, Row, Table};
use crate::stores::{bench_error, Peer, Preload, Racers, Result, Store};
use crate::workload::{payload, payload10, Kind, Scale, Workload};

#[derive(Debug, Clone, Default)]
pub struct EmbeddedArgs {
    pub quick: bool,
    /// Workloads to run; empty: all of them.
    pub only: Vec<Workload>,
    pub markdown: Option<PathBuf>,
    /// Where to plot the ratios (plot.rs).
    pub svg: Option<PathBuf>,
    /// Where the stores' directories go; default: the system temp dir.
    pub dir: Option<PathBuf>,
}

/// Runs the benchmark and prints its tables. Returns false if any store failed a workload
/// (the tables still show everything that ran).
pub fn run(args: &EmbeddedArgs) -> Result<bool> {
    let scale = if args.quick { Scale::quick() } else { Scale::full() };
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let machine = Machine::probe(&base, !args.quick)?;
    let header = Header { machine: &machine, scale: &scale, quick: args.quick, base: &base };
    println!("{}", header.to_text());
    machine.warn_if_in_memory(&base);

    let workloads: Vec<Workload> =
        Workload::ALL.into_iter().filter(|w| args.only.is_empty() || args.only.contains(w)).collect();
    let mut tables = Vec::new();
    let mut all_ok = true;
    for workload in workloads {
        let mut rows = Vec::new();
        for &peer in workload.peers() {
            eprintln!("running {} on {} ...", workload.name(), peer.name());
            let outcome =
                run_one(peer, workload, &scale, &base).unwrap_or_else(|e| Outcome::Failed(e.to_string()));
            if let Outcome::Failed(error) = &outcome {
                eprintln!("  {} failed {}: {error}", peer.name(), workload.name());
                all_ok = false;
            }
            rows.push(Row { store: peer.name(), outcome, note: peer.note(workload).map(str::to_owned) });
        }
        let table = Table { workload, description: workload.describe(&scale), rows };
        println!("{}", table.to_text());
        tables.push(table);
    }

    if let Some(path) = &args.markdown {
        let mut markdown = header.to_markdown();
        for table in &tables {
            markdown.push('\n');
            markdown.push_str(&table.to_markdown());
        }
        std::fs::write(path, markdown)
            .map_err(|e| bench_error(format!("writing Markdown to {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "GraveyardDB embedded vs its peers, all durable ({} cores, {})",
            machine.cores,
            if args.quick { "quick run" } else { "full run" }
        );
        match crate::plot::ratios_svg(&tables, &title) {
            Some(svg) => {
                std::fs::write(path, svg)
                    .map_err(|e| bench_error(format!("writing the plot to {}: {e}", path.display())))?;
                eprintln!("wrote {}", path.display());
            }
            None => eprintln!("no workload had a peer to compare with: {} not written", path.display()),
        }
    }
    Ok(all_ok)
}

/// One workload on one store, in a directory that is removed afterwards.
fn run_one(peer: Peer, workload: Workload, scale: &Scale, base: &Path) -> Result<Outcome> {
    let dir =
        tempfile::Builder::new().prefix(&format!("graveyard-bench-{}-", workload.name())).tempdir_in(base)?;
    let mut store = peer.open(dir.path())?;
    let outcome = measure(store.as_mut(), workload, scale)?;
    store.close()?;
    dir.close()?;
    Ok(outcome)
}

fn measure(store: &mut dyn Store, workload: Workload, scale: &Scale) -> Result<Outcome> {
    let measurement = match workload.kind() {
        Kind::Append { threads, events_per_append } => {
            let writers = store.writers(threads)?;
            let m = driver::run_writers(writers, events_per_append, scale.write_time, payload)?;
            check_stored(store, m.events)?;
            m
        }
        Kind::Validated { threads, events_per_append } => {
            let before = store.event_count()?;
            let writers = store.writers(threads)?;
            let m = driver::run_writers(writers, events_per_append, scale.write_time, payload10)?;
            check_stored(store, before + m.events)?;
            m
        }
        Kind::Sealed { threads, size } => {
            let writers = store.writers(threads)?;
            let m = driver::run_writers(writers, 1, scale.write_time, size.payload())?;
            check_stored(store, m.events)?;
            m
        }
        Kind::SealedScan { size } => {
            let total = size.log_events(scale);
            preload_log(store, scale, total, size.payload())?;
            driver::run_scans(scale.read_min_reps, scale.read_time, total, |on_page| {
                store.read_all_owned(scale.page, on_page)
            })?
        }
        Kind::AppendTasks { tasks } => {
            let Some(db) = store.async_db() else {
                return Ok(Outcome::NotApplicable(
                    "no async API (its threaded figures are in append-64)".to_owned(),
                ));
            };
            let m = driver::run_async_writers(db, tasks, scale.write_time)?;
            check_stored(store, m.events)?;
            m
        }
        Kind::Race { threads } => {
            let racers = match store.racers(threads)? {
                Racers::Handles(racers) => racers,
                Racers::NotApplicable(reason) => return Ok(Outcome::NotApplicable(reason.to_owned())),
            };
            let m = driver::run_racers(racers, scale.write_time)?;
            check_stored(store, m.events)?;
            m
        }
        Kind::ReadStream => {
            let total = scale.stream_events;
            store.preload(Preload { streams: 1, total, batch: scale.preload_batch, payload })?;
            driver::run_reads(scale.read_min_reps, scale.read_time, total, || store.read_stream(0))?
        }
        Kind::ScanAll => {
            let total = scale.log_events;
            preload_log(store, scale, total, payload)?;
            driver::run_scans(scale.read_min_reps, scale.read_time, total, |on_page| {
                store.scan_all(scale.page, on_page)
            })?
        }
        Kind::CatchUp | Kind::Live => {
            let Some(db) = store.async_db() else {
                return Ok(Outcome::NotApplicable("no subscription API measured for this store".to_owned()));
            };
            if workload.kind() == Kind::CatchUp {
                let total = scale.stream_events;
                preload_log(store, scale, total, payload)?;
                let db = store.async_db().unwrap_or(db);
                driver::run_catch_up(&db, total, scale.page)?
            } else {
                driver::run_live(&db, scale.write_time)?
            }
        }
    };
    Ok(Outcome::Measured(measurement))
}

/// The log the read workloads scan: `total` events spread over the scale's streams.
fn preload_log(store: &mut dyn Store, scale: &Scale, total: u64, payload: fn(u64) -> Vec<u8>) -> Result<()> {
    store.preload(Preload { streams: scale.log_streams, total, batch: scale.preload_batch, payload })
}

/// The store must hold exactly the events the driver saw acknowledged: a lost or doubled
/// write would make its throughput a lie.
fn check_stored(store: &mut dyn Store, acknowledged: u64) -> Result<()> {
    let stored = store.event_count()?;
    if stored == acknowledged {
        Ok(())
    } else {
        Err(bench_error(format!(
            "the store holds {stored} events, but {acknowledged} were acknowledged as written"
        )))
    }
}

/// The facts printed above the tables.
struct Header<'a> {
    machine: &'a Machine,
    scale: &'a Scale,
    quick: bool,
    base: &'a Path,
}

impl Header<'_> {
    fn facts(&self) -> Vec<(String, String)> {
        let mut facts = vec![
            crate::report::build_fact(),
            (
                "run".to_owned(),
                if self.quick {
                    format!(
                        "--quick (smoke test: {:.1} s per write workload, {} / {} events for reads)",
                        self.scale.write_time.as_secs_f64(),
                        crate::workload::grouped(self.scale.stream_events),
                        crate::workload::grouped(self.scale.log_events)
                    )
                } else {
                    format!(
                        "full ({:.0} s per write workload and store)",
                        self.scale.write_time.as_secs_f64()
                    )
                },
            ),
        ];
        facts.extend(self.machine.facts(self.base));
        facts.push((
            "fsync".to_owned(),
            "every store is durable: each acknowledged append was synced to disk".to_owned(),
        ));
        for peer in Peer::ALL.into_iter().chain([Peer::GraveyardValidated, Peer::GraveyardEncrypted]) {
            facts.push((peer.name().to_owned(), peer.setup().to_owned()));
        }
        facts.push((
            "events".to_owned(),
            format!(
                "{}-byte JSON object per event, type \"Bench\"; read workloads are preloaded in appends \
                 of {} events",
                crate::workload::payload(0).len(),
                crate::workload::grouped(self.scale.preload_batch)
            ),
        ));
        facts.push((
            "columns".to_owned(),
            "latency per operation in µs (hdrhistogram); GraveyardDB ÷ store = GraveyardDB events/s \
             divided by the store's (>1: GraveyardDB is faster)"
                .to_owned(),
        ));
        facts
    }

    fn to_text(&self) -> String {
        crate::report::facts_to_text("GraveyardDB embedded benchmark", &self.facts())
    }

    fn to_markdown(&self) -> String {
        crate::report::facts_to_markdown("Embedded benchmark", &self.facts())
    }
}
