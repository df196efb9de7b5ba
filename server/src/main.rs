//! `graveyard`: a GraveyardDB node. See server/README.md.

mod auth;
mod cluster;
mod config;
mod metrics;
mod node;
mod service;
mod wire_errors;

use std::process::ExitCode;

use config::Command;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let settings = match config::parse(&args[1..], env) {
        Ok(Command::Serve(settings)) => settings,
        Ok(Command::Help) => {
            print!("{}", config::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("graveyard {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("graveyard: {e}");
            return ExitCode::from(2);
        }
    };

    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log_filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("graveyard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(node::run(*settings)) {
        Ok(()) => ExitCode::SUCCESS,
        // Once, as a log line on stderr (where the subscriber writes): a start-up failure
        // reads like every other error of the node.
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
