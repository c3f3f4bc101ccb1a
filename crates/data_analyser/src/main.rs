//! data_analyser: the analysis machine's service (web UI, project runtime) and the
//! offline tools (DICOM conversion, synthetic scanner data).

use clap::Parser;

/// Runs the experimenter's real-time fMRI analysis and serves the web UI.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
