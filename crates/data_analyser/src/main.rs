//! data_analyser: the analysis machine's service (login, the data link, the project
//! runtime; the web UI to come) and the tools: certificates, users, DICOM to NIfTI
//! conversion, the synthetic scanner, recording and the demo.
//!
//! This file only parses the command line and sets up logging; the work is in `cli`.

mod cli;
mod files;
mod pipeline;
mod qa;
mod server;
mod service;
mod session_dataset;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli_common::init_logging(&[
        "data_analyser",
        "imaging",
        "data_link",
        "filestore",
        "security",
        "session",
        "project_runtime",
        "projects",
        "builtin_projects",
        "rtcloud_client",
        "protocol_qa",
    ]);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli_common::error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
