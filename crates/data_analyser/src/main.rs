//! data_analyser: the analysis machine's service (login and the data link today; the
//! web UI and project runtime to come) and the offline tools: DICOM to NIfTI
//! conversion, the synthetic scanner and the demo.
//!
//! This file only parses the command line and sets up logging; the work is in `cli`.

mod cli;
mod files;
mod pipeline;
mod server;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli_common::init_logging(&[
        "data_analyser",
        "imaging",
        "data_link",
        "filestore",
        "security",
    ]);
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli_common::error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
