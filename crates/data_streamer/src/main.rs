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
/// allowed folders; DICOM leaves de-identified (scanner streams pushed as each file is
/// complete, and files asked for one by one) unless this streamer is started with
/// --send-identified: the console decides, never the analyser. Reconnects forever if
/// the link drops.
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
    /// A folder the analyser may read from (subfolders included); give the flag once
    /// per folder. A value that is not an existing folder is read as a comma-separated
    /// list (RT-Cloud's form). Paths reach the analyser under the folder's own name
    /// (/data/scans/x.dcm is scans/x.dcm).
    #[arg(long, value_name = "DIR", required = true)]
    allowed_dirs: Vec<PathBuf>,
    /// A folder put_file may write into (subfolders included); give the flag once per
    /// folder, read like --allowed-dirs; none by default. Keep it apart from the
    /// scanner's folder: an existing file is replaced only when the call asks to
    /// overwrite.
    #[arg(long, value_name = "DIR")]
    writable_dirs: Vec<PathBuf>,
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
    /// Send DICOM as stored, with the participant's details: files asked for one by one
    /// (get_file, newest, watch, the web Files pane), and scanner streams whose project
    /// asks for anonymize=false (refused without this flag). By default every DICOM
    /// leaves de-identified; use only where the analyser may hold identified data.
    #[arg(long, alias = "send-identified-files")]
    send_identified: bool,
    /// Remove StudyDescription, SeriesDescription and ProtocolName from de-identified
    /// DICOM (the basic profile). By default they are kept, cleaned of the participant's
    /// names, IDs and birth date and of anything that looks like an ID or a date (DICOM
    /// PS3.15 Clean Descriptors Option): protocol QA and BIDS names need them.
    #[arg(long)]
    no_clean_descriptors: bool,
    /// Do not notice new series in the allowed folders for protocol QA. By default the
    /// first file of each new series is read (de-identified first) and only its
    /// acquisition parameters are sent, so the analyser can check them live.
    #[arg(long)]
    no_protocol_qa: bool,
    /// Serve files that have more than one hard link (refused by default: another name
    /// of the same file may be outside the allowed folders).
    #[arg(long)]
    allow_hard_links: bool,
    /// Do not use inotify on the scanner's folders: find new and growing files by
    /// listing them every --poll-interval alone. Polling always runs beside inotify,
    /// and on an SMB or NFS share it is all there is (writes made by another machine
    /// raise no inotify event here); this flag makes any folder behave so, to try a
    /// share's timing on a local disk, or where inotify watches are refused or run
    /// out (fs.inotify.max_user_watches). Costs up to one poll interval of latency.
    #[arg(long)]
    no_inotify: bool,
    /// How often the scanner's folders are listed, in milliseconds: the safety net
    /// beside inotify, the only way with --no-inotify. A file counts as complete once
    /// its size has held still for one interval (when no close was seen).
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(10..=10_000))]
    poll_interval: u64,
    /// The largest file served or streamed, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = filestore::rules::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
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
    let writable = filestore::allowed_dir_args(&args.writable_dirs);
    let rules = filestore::AccessRules::new(&dirs, &args.allowed_types)
        .context("checking --allowed-dirs and --allowed-types")?
        .with_writable_dirs(&writable)
        .context("checking --writable-dirs")?
        .with_hard_links_allowed(args.allow_hard_links)
        .with_max_file_size(args.max_file_size);
    tracing::info!(
        "serving {} (types {}); writable: {}",
        rules
            .allowed_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" | "),
        rules.allowed_types().join(", "),
        if writable.is_empty() {
            "none".to_string()
        } else {
            rules
                .writable_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        }
    );
    // Asks for the password (if needed) before anything runs in the background.
    let dialer = dialer::Dialer::from_args(&args.connect)?;
    let mut config = data_link::streamer::StreamerConfig::new(args.station, rules);
    config.compression = !args.no_compression;
    config.send_identified = args.send_identified;
    config.clean_descriptors = !args.no_clean_descriptors;
    config.protocol_qa = !args.no_protocol_qa;
    anyhow::ensure!(
        args.bad_file_after_trs.is_finite() && args.bad_file_after_trs > 0.0,
        "--bad-file-after-trs {} must be a number of TRs above 0",
        args.bad_file_after_trs
    );
    config.bad_file_bound.trs = args.bad_file_after_trs;
    config.watch.use_inotify = !args.no_inotify;
    config.watch.poll_interval = std::time::Duration::from_millis(args.poll_interval);
    if args.no_inotify {
        tracing::info!(
            "--no-inotify: scanner folders are polled every {} ms",
            args.poll_interval
        );
    }
    if args.send_identified {
        tracing::warn!("--send-identified: DICOM may leave with the participant's details");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(data_link::streamer::run_with_dialer(
        config,
        dialer,
        cli_common::shutdown_signal(),
    ));
    Ok(())
}
