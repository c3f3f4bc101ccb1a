//! analysis_listener: runs on the stimulus PC, receives each TR's result from the
//! analyser and hands it to presentation software (files and a local HTTP server).

use clap::Parser;

/// Receives per-TR feedback from the analyser for PsychoPy, MATLAB or a browser.
///
/// Not yet connected to the network: the listener is being built (see docs/ARCHITECTURE.md).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Analyser address to dial, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Folder where results are written for presentation software.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("analysis_listener cannot connect yet: the listener is not built in this version")
}
