//! data_streamer: runs on the MRI console, watches the scanner's folders and serves
//! their files to data_analyser over one outbound TLS connection. It never listens.

use clap::Parser;

/// Streams scanner files from the control room to the analyser (outbound TLS only).
///
/// Not yet connected to the network: the data link is being built (see docs/ARCHITECTURE.md).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Analyser address to dial, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Folders the analyser may read from, comma separated.
    #[arg(long, value_delimiter = ',', value_name = "DIR,...")]
    allowed_dirs: Vec<std::path::PathBuf>,
    /// File extensions the analyser may read, comma separated (e.g. .dcm,.txt).
    #[arg(long, value_delimiter = ',', value_name = "EXT,...")]
    allowed_types: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("data_streamer cannot connect yet: the data link is not built in this version")
}
