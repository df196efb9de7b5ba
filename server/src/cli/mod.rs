//! `graveyard`'s command line. `serve` runs a node (config.rs checks its settings); every other
//! subcommand is a client: of a node or cluster (`--endpoints`, token, TLS) through the core's
//! cluster client, or of an embedded data directory that no process holds open (`--data-dir`),
//! through the same `graveyard::Store` façade, so each command is written once for both.
//!
//! Output is a table for people and, with `--json`, one JSON object per line for scripts.
//! Failures print one line on stderr and exit with a code by error class (see [`EXIT_CODES`]).

mod admin;
pub mod events;
mod transfer;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use graveyard::client::TransportOptions;
use graveyard::{ClientOptions, ErrorCode, Options, Store};

pub use crate::config::ServeArgs;

/// The exit codes, in `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 internal error; 2 bad usage or invalid argument; 3 not found; \
4 conflict (wrong expected version, stream deleted); 5 schema violation or invalid schema; \
6 authentication, permission or encryption key refused; 7 node unavailable or store closed; \
8 storage (corruption, incompatible format, i/o); 9 unsupported here.";

#[derive(Parser, Debug)]
#[command(
    name = "graveyard",
    version,
    about = "GraveyardDB: an event store node, and a command-line client of one",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a node on an embedded store, serving gRPC clients
    Serve(ServeArgs),
    /// List streams, by name, optionally under a prefix
    Streams(admin::StreamsArgs),
    /// Read a stream's events, or the global log's ($all)
    Read(events::ReadArgs),
    /// Follow $all or a stream as events arrive
    Tail(events::TailArgs),
    /// Append one event to a stream
    Append(events::AppendArgs),
    /// Show a stream's state and metadata
    Info(admin::InfoArgs),
    /// List, show and upsert schemas
    Schemas(admin::SchemasArgs),
    /// List and show consumer groups; replay parked events
    Groups(admin::GroupsArgs),
    /// Destroy a stream's data key for good (crypto-shredding; encrypted stores)
    Shred(admin::ShredArgs),
    /// Summarise a node or store: head, streams, schemas, groups, members
    Stats(admin::StatsArgs),
    /// Write a store to JSON lines: schemas, events, stream metadata (a backup)
    Export(transfer::ExportArgs),
    /// Load JSON lines written by export; an interrupted import resumes where it stopped
    Import(transfer::ImportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where a client command works: a node (the default: the local one) or an embedded directory.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Nodes to connect to, comma-separated: any members of a cluster [default:
    /// $GRAVEYARD_ENDPOINTS, else 127.0.0.1:50051]
    // The variable is read by `open`, not by clap: clap would count it as given, and refuse
    // --data-dir next to it for anyone who exported it.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,...")]
    endpoints: Vec<String>,
    /// Work on the embedded store in DIR instead of a node (no process may hold it open)
    #[arg(long, value_name = "DIR", conflicts_with = "endpoints")]
    data_dir: Option<PathBuf>,
    /// File holding the bearer token the node expects
    #[arg(long, env = "GRAVEYARD_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<String>,
    /// PEM certificates to trust: the nodes are dialled over TLS
    #[arg(long, env = "GRAVEYARD_CA_FILE", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// File holding the master key of an encrypted embedded store (with --data-dir)
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<String>,
}

/// A failure of a client command: the message and the exit code of its class.
#[derive(Debug)]
pub struct Failure {
    pub exit: u8,
    pub message: String,
}

impl Failure {
    /// A mistake in what the user gave (a file, a flag's value): exit code 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { exit: 2, message: message.into() }
    }
}

impl From<graveyard::Error> for Failure {
    fn from(e: graveyard::Error) -> Failure {
        Failure { exit: exit_code(e.code()), message: e.to_string() }
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Failure {
        Failure::usage(e.0)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        // Writing to a closed pipe (`graveyard read s | head`) is how a reader says "enough".
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure { exit: 0, message: String::new() };
        }
        Failure { exit: 8, message: format!("i/o error: {e}") }
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

/// The exit code of an error class.
pub fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::InvalidArgument => 2,
        ErrorCode::NotFound => 3,
        ErrorCode::WrongExpectedVersion | ErrorCode::StreamDeleted => 4,
        ErrorCode::SchemaViolation | ErrorCode::InvalidSchema => 5,
        ErrorCode::Unauthenticated | ErrorCode::PermissionDenied | ErrorCode::Encryption => 6,
        ErrorCode::Unavailable | ErrorCode::Closed => 7,
        ErrorCode::Corruption | ErrorCode::IncompatibleFormat | ErrorCode::Io => 8,
        ErrorCode::Unsupported => 9,
        _ => 1,
    }
}

impl Target {
    /// Opens the embedded store or connects to the nodes. `create`: an embedded store may be
    /// created (import); otherwise a directory without a store is NOT_FOUND, never a new store.
    pub fn open(&self, create: bool) -> CliResult<Store> {
        match &self.data_dir {
            Some(dir) => {
                if !create && !dir.join("data.mdb").is_file() {
                    return Err(Failure::from(graveyard::Error::NotFound(format!(
                        "--data-dir '{}' holds no GraveyardDB store",
                        dir.display()
                    ))));
                }
                let mut options = Options::new(dir);
                if let Some(file) = &self.master_key_file {
                    options =
                        options.master_key(crate::config::master_key_file(file, "--master-key-file")?.key());
                }
                Ok(Store::open(options)?)
            }
            None => {
                if self.master_key_file.is_some() {
                    return Err(Failure::usage(
                        "--master-key-file opens an embedded store (--data-dir); a node holds its own key",
                    ));
                }
                let endpoints = if !self.endpoints.is_empty() {
                    self.endpoints.clone()
                } else {
                    match std::env::var("GRAVEYARD_ENDPOINTS") {
                        Ok(list) if !list.trim().is_empty() => list
                            .split(',')
                            .map(str::trim)
                            .filter(|e| !e.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        _ => vec!["127.0.0.1:50051".to_owned()],
                    }
                };
                let token = match &self.token_file {
                    Some(file) => {
                        let token = crate::config::token_file(file, "--token-file")?;
                        Some(String::from_utf8_lossy(token.as_bytes()).into_owned())
                    }
                    None => None,
                };
                let ca_certificate_pem = match &self.ca_file {
                    Some(file) => Some(std::fs::read(file).map_err(|e| {
                        Failure::usage(format!("--ca-file '{}' cannot be read: {e}", file.display()))
                    })?),
                    None => None,
                };
                let options = ClientOptions {
                    transport: TransportOptions { token, ca_certificate_pem, ..TransportOptions::default() },
                    ..ClientOptions::default()
                };
                Ok(Store::connect_blocking(&endpoints, options)?)
            }
        }
    }
}

/// The stores to visit for a node-scoped listing: the store itself, or every member of the
/// cluster (each holds its own streams and `$all`), with the member's id.
pub fn members(store: &Store) -> CliResult<Vec<(Option<String>, Store)>> {
    match store.client() {
        None => Ok(vec![(None, store.clone())]),
        Some(client) => {
            let mut out = Vec::new();
            for member in client.members() {
                out.push((Some(member.id.clone()), store.on_node(&member.id)?));
            }
            Ok(out)
        }
    }
}

/// Parses the process's arguments; clap prints help, versions and usage errors itself.
pub fn parse() -> Cli {
    Cli::parse()
}

/// Runs a client command to its end.
pub fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Serve(_) => unreachable!("main runs the node"),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "graveyard", &mut std::io::stdout());
            Ok(())
        }
        Command::Streams(args) => admin::streams(args),
        Command::Read(args) => events::read(args),
        Command::Tail(args) => events::tail(args),
        Command::Append(args) => events::append(args),
        Command::Info(args) => admin::info(args),
        Command::Schemas(args) => admin::schemas(args),
        Command::Groups(args) => admin::groups(args),
        Command::Shred(args) => admin::shred(args),
        Command::Stats(args) => admin::stats(args),
        Command::Export(args) => transfer::export(args),
        Command::Import(args) => transfer::import(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { exit: 0, .. }) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("graveyard: {}", failure.message);
            ExitCode::from(failure.exit)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the definition itself (duplicate flags, bad defaults) only when asked.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
