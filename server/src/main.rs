//! `graveyard`: a GraveyardDB node (`graveyard serve`) and the command-line client of one
//! (`graveyard streams`, `read`, `tail`, ...). See server/README.md.

mod auth;
mod cli;
mod cluster;
mod config;
mod failover;
mod http;
mod metrics;
mod node;
mod service;
mod telemetry;
mod wire_errors;

use std::process::ExitCode;

fn main() -> ExitCode {
    graveyard::client::install_crypto_provider();
    let args = match cli::parse().command {
        cli::Command::Serve(args) => args,
        command => return cli::run(command),
    };
    let settings = match args.settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("graveyard: {e}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("graveyard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = match runtime.block_on(async { telemetry::install(&settings) }) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("graveyard: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        let outcome = node::run(settings).await;
        telemetry.shutdown().await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // Once, as a log line on stderr (where the subscriber writes): a start-up failure
        // reads like every other error of the node.
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
