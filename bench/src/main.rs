//! `graveyard-bench`: side-by-side benchmarks of GraveyardDB against peer stores.
//!
//! Subcommands (parsed by hand: two of them do not justify a CLI crate):
//! - `embedded`: the embedded store against varvedb, SQLite and bare LMDB; see README.md.
//! - `server`: reserved for the cluster benchmark.

mod driver;
mod embedded;
mod machine;
mod report;
mod stores;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use embedded::EmbeddedArgs;
use workload::Workload;

const USAGE: &str = "\
usage: graveyard-bench embedded [--quick] [--only WORKLOAD[,WORKLOAD...]] [--markdown FILE] [--dir DIR]
       graveyard-bench server            (not written yet)

embedded: runs each workload against GraveyardDB, varvedb 0.4.2, SQLite and bare LMDB (heed),
all durable (fsync on every commit), and prints one table per workload.
  --quick          small data and 0.3 s per write workload (CI smoke test, < 30 s)
  --only W         run only these workloads (comma-separated or repeated):
                   append-1, append-8, append-64, append-64-tasks, batch-100, race-64,
                   read-stream, scan-all, catch-up, live, schema-batch-100, schema-append-64
  --markdown FILE  also write the tables as Markdown to FILE
  --dir DIR        put the stores' temporary directories in DIR (default: the system temp dir);
                   it must be on the disk you want to measure, not tmpfs";

enum Command {
    Embedded(EmbeddedArgs),
    Server,
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else { return Err("missing subcommand".into()) };
    match command.as_str() {
        "embedded" => parse_embedded(rest).map(Command::Embedded),
        "server" => Ok(Command::Server),
        "-h" | "--help" | "help" => Ok(Command::Help),
        other => Err(format!("unknown subcommand '{other}'")),
    }
}

fn parse_embedded(args: &[String]) -> Result<EmbeddedArgs, String> {
    let mut parsed = EmbeddedArgs::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| args.next().cloned()).ok_or(format!("{flag} needs a value"));
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
            "--dir" => parsed.dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
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
        Ok(Command::Server) => {
            eprintln!("graveyard-bench: the server benchmark is not written yet");
            ExitCode::from(2)
        }
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
    fn rejects_bad_input() {
        assert!(parse(&args(&[])).is_err());
        assert!(parse(&args(&["embedded", "--only", "nope"])).is_err());
        assert!(parse(&args(&["embedded", "--only"])).is_err());
        assert!(parse(&args(&["embedded", "--fast"])).is_err());
        assert!(parse(&args(&["frobnicate"])).is_err());
    }
}
