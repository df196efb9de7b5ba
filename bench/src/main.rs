//! `graveyard-bench`: side-by-side benchmarks of GraveyardDB against peer stores.
//!
//! Subcommands (parsed by hand: two of them do not justify a CLI crate):
//! - `embedded`: the embedded store against varvedb, SQLite and bare LMDB; see README.md.
//! - `server`: real `graveyard` nodes (1 and 3, on their own disk and on Apache Cassandra) over
//!   gRPC against PostgreSQL 15; see README.md.

mod driver;
mod embedded;
mod machine;
mod plot;
mod report;
mod server;
mod stores;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use embedded::EmbeddedArgs;
use server::ServerArgs;
use workload::Workload;

const USAGE: &str = "\
usage: graveyard-bench embedded [--quick] [--only WORKLOAD[,WORKLOAD...]] [--markdown FILE] [--svg FILE] [--dir DIR]
       graveyard-bench server [--quick] [--clients N[,N...]] [--seconds S] [--markdown FILE] [--dir DIR]
                              [--graveyard-bin PATH] [--postgres-script PATH] [--skip-postgres]
                              [--skip-cassandra] [--node-flag FLAG]...

embedded: runs each workload against GraveyardDB, varvedb 0.4.2, SQLite and bare LMDB (heed),
all durable (fsync on every commit), and prints one table per workload.
  --quick          small data and 0.3 s per write workload (CI smoke test, < 30 s)
  --only W         run only these workloads (comma-separated or repeated):
                   append-1, append-8, append-64, append-64-tasks, batch-100, race-64,
                   read-stream, scan-all, catch-up, live, schema-batch-100, schema-append-64
  --markdown FILE  also write the tables as Markdown to FILE
  --svg FILE       also plot GraveyardDB's throughput ÷ each store's, per workload, as SVG to FILE
  --dir DIR        put the stores' temporary directories in DIR (default: the system temp dir);
                   it must be on the disk you want to measure, not tmpfs

server: starts the release `graveyard` binary as 1 node, then as a 3-node cluster, then both with
their commit logs on Apache Cassandra (1 node at replication factor 1, then 3 nodes at 3; started
by scripts/cassandra.sh), and PostgreSQL 15 (installed and started by scripts/postgres.sh), all
durable, one at a time on loopback; C clients append single events for a fixed time; prints
events/s, p50/p99/p999 latency and errors per row.
  --quick                1 s per row, 1 and 64 clients (CI smoke test)
  --clients N,N          concurrent clients, one row each (default 64)
  --seconds S            seconds per row (default 10)
  --markdown FILE        also write the table as Markdown to FILE
  --dir DIR              where the nodes' and PostgreSQL's temporary directories go
  --graveyard-bin PATH   the node binary (default: `graveyard` next to this binary)
  --postgres-script PATH (default: scripts/postgres.sh of the source tree)
  --skip-postgres        leave PostgreSQL out (its rows say NOT RUN)
  --skip-cassandra       leave the rows on Cassandra out (they say NOT RUN)
  --node-flag FLAG       give every node this flag too (repeatable; `--node-flag=--otlp-endpoint=URL`):
                         what a setting costs, against a run without it";

enum Command {
    Embedded(EmbeddedArgs),
    Server(ServerArgs),
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else { return Err("missing subcommand".into()) };
    match command.as_str() {
        "embedded" => parse_embedded(rest).map(Command::Embedded),
        "server" => parse_server(rest).map(Command::Server),
        "-h" | "--help" | "help" => Ok(Command::Help),
        other => Err(format!("unknown subcommand '{other}'")),
    }
}

/// Calls `on_flag(flag, value)` for each flag, where `value()` takes the flag's value, given
/// either as `--flag value` or as `--flag=value`.
fn parse_flags(
    args: &[String],
    mut on_flag: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| args.next().cloned()).ok_or(format!("{flag} needs a value"));
        on_flag(flag, &mut value)?;
    }
    Ok(())
}

fn parse_embedded(args: &[String]) -> Result<EmbeddedArgs, String> {
    let mut parsed = EmbeddedArgs::default();
    parse_flags(args, |flag, value| {
        match flag {
            "--quick" => parsed.quick = true,
            "--only" => {
                for name in value()?.split(',').filter(|n| !n.is_empty()) {
                    let workload = Workload::parse(name).ok_or(format!("unknown workload '{name}'"))?;
                    if !parsed.only.contains(&workload) {
                        parsed.only.push(workload);
                    }
                }
            }
            "--markdown" => parsed.markdown = Some(PathBuf::from(value()?)),
            "--svg" => parsed.svg = Some(PathBuf::from(value()?)),
            "--dir" => parsed.dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
        Ok(())
    })?;
    Ok(parsed)
}

fn parse_server(args: &[String]) -> Result<ServerArgs, String> {
    let mut parsed = ServerArgs::default();
    parse_flags(args, |flag, value| {
        match flag {
            "--quick" => parsed.quick = true,
            "--clients" => {
                for count in value()?.split(',').filter(|c| !c.is_empty()) {
                    match count.parse::<usize>() {
                        Ok(n) if (1..=10_000).contains(&n) => parsed.clients.push(n),
                        _ => return Err(format!("--clients wants numbers from 1 to 10000, not '{count}'")),
                    }
                }
            }
            "--seconds" => {
                let given = value()?;
                match given.parse::<f64>() {
                    Ok(s) if s > 0.0 && s <= 3600.0 => parsed.seconds = Some(s),
                    _ => {
                        return Err(format!("--seconds wants a number of seconds up to 3600, not '{given}'"))
                    }
                }
            }
            "--markdown" => parsed.markdown = Some(PathBuf::from(value()?)),
            "--dir" => parsed.dir = Some(PathBuf::from(value()?)),
            "--graveyard-bin" => parsed.graveyard_bin = Some(PathBuf::from(value()?)),
            "--postgres-script" => parsed.postgres_script = Some(PathBuf::from(value()?)),
            "--skip-postgres" => parsed.skip_postgres = true,
            "--skip-cassandra" => parsed.skip_cassandra = true,
            "--node-flag" => parsed.node_flags.push(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
        Ok(())
    })?;
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Embedded(args)) => match embedded::run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                eprintln!("some workloads FAILED (see the tables)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("graveyard-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Server(args)) => match server::run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                eprintln!("some rows FAILED or had failed appends (see the table)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("graveyard-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            if !message.is_empty() {
                eprintln!("graveyard-bench: {message}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_embedded_options() {
        let Ok(Command::Embedded(parsed)) =
            parse(&args(&["embedded", "--quick", "--only", "append-8,scan-all", "--markdown=out.md"]))
        else {
            panic!("expected the embedded command");
        };
        assert!(parsed.quick);
        assert_eq!(parsed.only, vec![Workload::Append8, Workload::ScanAll]);
        assert_eq!(parsed.markdown, Some(PathBuf::from("out.md")));
        assert_eq!(parsed.dir, None);
    }

    #[test]
    fn parses_server_options() {
        let Ok(Command::Server(parsed)) = parse(&args(&[
            "server",
            "--clients",
            "1,16,64",
            "--seconds=2.5",
            "--markdown",
            "server.md",
            "--graveyard-bin=/opt/graveyard",
            "--skip-postgres",
            "--node-flag=--otlp-sample-ratio=0.5",
            "--node-flag",
            "--reflection=off",
        ])) else {
            panic!("expected the server command");
        };
        assert_eq!(parsed.client_counts(), vec![1, 16, 64]);
        assert_eq!(parsed.duration(), std::time::Duration::from_millis(2500));
        assert_eq!(parsed.markdown, Some(PathBuf::from("server.md")));
        assert_eq!(parsed.graveyard_bin, Some(PathBuf::from("/opt/graveyard")));
        assert!(parsed.skip_postgres);
        assert_eq!(parsed.node_flags, ["--otlp-sample-ratio=0.5", "--reflection=off"]);
        assert!(!parsed.quick);
        assert_eq!(parsed.postgres_script, None);
    }

    #[test]
    fn server_defaults_depend_on_quick() {
        let Ok(Command::Server(full)) = parse(&args(&["server"])) else { panic!("expected server") };
        assert_eq!(full, ServerArgs::default());
        assert_eq!(full.client_counts(), vec![64]);
        assert_eq!(full.duration(), std::time::Duration::from_secs(10));
        let Ok(Command::Server(quick)) = parse(&args(&["server", "--quick"])) else {
            panic!("expected server")
        };
        assert_eq!(quick.client_counts(), vec![1, 64]);
        assert_eq!(quick.duration(), std::time::Duration::from_secs(1));
        // Explicit values win over --quick, whatever the order.
        let Ok(Command::Server(both)) = parse(&args(&["server", "--clients=8", "--quick", "--seconds", "3"]))
        else {
            panic!("expected server")
        };
        assert_eq!(both.client_counts(), vec![8]);
        assert_eq!(both.duration(), std::time::Duration::from_secs(3));
    }

    #[test]
    fn rejects_bad_server_input() {
        for bad in [
            &["server", "--clients", "0"][..],
            &["server", "--clients", "many"],
            &["server", "--clients"],
            &["server", "--seconds", "-1"],
            &["server", "--seconds", "NaN"],
            &["server", "--seconds=soon"],
            &["server", "--nodes", "3"],
            &["server", "extra"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&args(&[])).is_err());
        assert!(parse(&args(&["embedded", "--only", "nope"])).is_err());
        assert!(parse(&args(&["embedded", "--only"])).is_err());
        assert!(parse(&args(&["embedded", "--fast"])).is_err());
        assert!(parse(&args(&["frobnicate"])).is_err());
    }
}
