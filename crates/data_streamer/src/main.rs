//! data_streamer: runs on the MRI console, watches the scanner's folders and serves
//! their files to data_analyser over one outbound TLS connection. It never listens.
//!
//! This file parses the command line, sets up logging and hands over to `data_link`
//! (streaming) or `filestore::replay` (the scanner simulator).

mod replay;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

/// Streams scanner files from the control room to the analyser (outbound TLS only).
///
/// Dials the analyser at --server, logs in, and answers its requests for files in the
/// allowed folders; scanner streams are pushed as each file is complete, de-identified
/// unless the analyser's project asked otherwise. Reconnects forever if the link drops.
///
/// Example: data_streamer --server analyser.example.org:8888 --ca ca.crt --user scanner
///   --password-file ~/.rtcloud-password --allowed-dirs /data/scans --allowed-types .dcm,.txt
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    long_about,
    after_help = "Also: `data_streamer replay --help`: play a recorded run into a folder at \
                  TR pace, like a scanner (for demos and tests)."
)]
struct StreamCli {
    #[command(flatten)]
    connect: dialer::ConnectArgs,
    /// A folder the analyser may read from and write to (subfolders included); give
    /// the flag once per folder. A value that is not an existing folder is read as a
    /// comma-separated list (RT-Cloud's form).
    #[arg(long, value_name = "DIR", required = true)]
    allowed_dirs: Vec<PathBuf>,
    /// File types the analyser may read, comma separated (e.g. .dcm,.txt; * for any).
    #[arg(long, value_delimiter = ',', value_name = "EXT,...", required = true)]
    allowed_types: Vec<String>,
    /// A scanner file still not complete this many TRs after it appeared (empty, cut
    /// short for good, malformed) fails its volume only: the project gets an error
    /// naming the file and the stream goes on. The TR is measured between volumes;
    /// until two have arrived the wait is 10 s.
    #[arg(long, value_name = "TRS", default_value_t = 3.0)]
    bad_file_after_trs: f64,
    /// This scanner's name, as the analyser's projects refer to it.
    #[arg(long, value_name = "NAME", default_value = "scanner")]
    station: String,
    /// Never compress what is sent (by default DICOM is zstd-compressed whenever that
    /// gets it to the analyser sooner, i.e. on a slow uplink).
    #[arg(long)]
    no_compression: bool,
    /// Send DICOM files asked for one by one (get_file, newest, watch) as stored, with
    /// the participant's details. By default they are de-identified like scanner
    /// streams; use only where the analyser is allowed to hold identified data.
    #[arg(long)]
    send_identified_files: bool,
}

/// Plays a recorded run into a folder at TR pace, like a scanner (for demos and tests).
#[derive(Debug, Parser)]
#[command(name = "data_streamer replay", version)]
struct ReplayCli {
    #[command(flatten)]
    args: replay::ReplayArgs,
}

fn main() -> std::process::ExitCode {
    // `replay` is a tool beside the streamer, not a mode of it: its own command line.
    let replaying = std::env::args_os().nth(1).is_some_and(|a| a == "replay");
    cli_common::init_logging(&["data_streamer", "data_link", "filestore", "dialer"]);
    let result = if replaying {
        let args = std::env::args_os().skip(2);
        let cli = ReplayCli::parse_from(std::iter::once("data_streamer replay".into()).chain(args));
        replay::run(cli.args)
    } else {
        stream(StreamCli::parse())
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli_common::error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves the allowed folders to the analyser until Ctrl-C or SIGTERM.
fn stream(args: StreamCli) -> Result<()> {
    let dirs = filestore::allowed_dir_args(&args.allowed_dirs);
    let rules = filestore::AccessRules::new(&dirs, &args.allowed_types)
        .context("checking --allowed-dirs and --allowed-types")?;
    tracing::info!(
        "serving {} (types {})",
        rules
            .allowed_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" | "),
        rules.allowed_types().join(", ")
    );
    // Asks for the password (if needed) before anything runs in the background.
    let dialer = dialer::Dialer::from_args(&args.connect)?;
    let mut config = data_link::streamer::StreamerConfig::new(args.station, rules);
    config.compression = !args.no_compression;
    config.deidentify_files = !args.send_identified_files;
    anyhow::ensure!(
        args.bad_file_after_trs.is_finite() && args.bad_file_after_trs > 0.0,
        "--bad-file-after-trs {} must be a number of TRs above 0",
        args.bad_file_after_trs
    );
    config.bad_file_bound.trs = args.bad_file_after_trs;
    if args.send_identified_files {
        tracing::warn!("--send-identified-files: DICOM files asked for one by one leave with the participant's details");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(data_link::streamer::run_with_dialer(
        config,
        dialer,
        cli_common::shutdown_signal(),
    ));
    Ok(())
}
