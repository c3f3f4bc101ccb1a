//! data_analyser: the analysis machine's service (web UI, project runtime, to come) and
//! the offline tools: DICOM to NIfTI conversion, the synthetic scanner and the demo.
//!
//! This file only parses the command line and sets up logging; the work is in `cli`.

mod cli;
mod files;
mod pipeline;
mod server;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // Info for our own crates, warnings for dependencies, unless RUST_LOG says otherwise.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,data_analyser=info,imaging=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
