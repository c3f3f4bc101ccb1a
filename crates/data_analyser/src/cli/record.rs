//! `data_analyser record`: serves the analyser's port and copies one scanner stream from a
//! connected streamer into a folder as its volumes arrive (to keep a session's data for
//! replay, or to check the link end to end). Volumes already in the folder are not
//! asked for again, so a recording that was stopped resumes where it ended, and every
//! volume ends up there exactly once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Args;
use data_link::{DataInterface, LinkError};
use filestore::FilePattern;

use crate::files::write_atomic;
use crate::service::{Analyser, PortArgs};

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub serve: PortArgs,
    /// The streamer to record from (its --station).
    #[arg(long, default_value = "scanner", value_name = "NAME")]
    pub station: String,
    /// The scanner's folder on the streamer's machine.
    #[arg(long, value_name = "DIR")]
    pub dir: String,
    /// The file names, with the volume index as {TR} or {TR:06d}, e.g. 001_000013_{TR:06d}.dcm.
    #[arg(long, value_name = "PATTERN")]
    pub pattern: String,
    /// Index of the first volume.
    #[arg(long, default_value_t = 1)]
    pub start: u32,
    /// Number of volumes to record.
    #[arg(long)]
    pub count: u32,
    /// Folder to write the volumes into (created if missing), under their own names.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A file counts as complete only from this many bytes on.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub min_size: u64,
    /// Ask for the files as the scanner wrote them, with the participant's details. The
    /// streamer refuses unless it was started with --send-identified (by default it
    /// de-identifies them before they leave the control room).
    #[arg(long)]
    pub no_anonymize: bool,
    /// Seconds to wait for the streamer, and for each volume.
    #[arg(long, default_value_t = 300.0, value_name = "SEC")]
    pub timeout: f64,
}

pub fn run(args: RecordArgs) -> Result<()> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .with_context(|| format!("--timeout {} is not a number of seconds", args.timeout))?;
    let pattern = FilePattern::new(&args.pattern).context("--pattern")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let end = args
        .start
        .checked_add(args.count)
        .context("--start + --count is too large")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let analyser = Analyser::bind(&args.serve, |routes, _| routes).await?;
        let streamers = analyser.streamers.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(analyser.serve(async {
            stopped.await.ok();
        }));
        let recorded = tokio::select! {
            r = record(&args, &pattern, end, timeout, streamers) => r,
            () = cli_common::shutdown_signal() => Ok(()),
        };
        stop.send(()).ok();
        server.await.ok();
        recorded
    })
}

/// Fetches every volume in `args.start..end` not yet in `args.out`, in order.
async fn record(
    args: &RecordArgs,
    pattern: &FilePattern,
    end: u32,
    timeout: Duration,
    streamers: data_link::analyser::Streamers,
) -> Result<()> {
    let missing = |i: &u32| !args.out.join(pattern.name_for(*i)).exists();
    let Some(first) = (args.start..end).find(missing) else {
        println!(
            "all {} volumes already in {}",
            args.count,
            args.out.display()
        );
        return Ok(());
    };
    let data = DataInterface::remote(streamers.clone(), args.station.clone());
    let mut stream = None;
    let mut index = first;
    while index < end {
        let id = match &stream {
            Some(id) => String::clone(id),
            None => {
                streamers.wait_for(&args.station, timeout).await?;
                let id = data
                    .init_scanner_stream_at(
                        &args.dir,
                        &args.pattern,
                        args.min_size,
                        !args.no_anonymize,
                        index,
                    )
                    .await?;
                tracing::info!(stream = %id, from = index, "recording {}", args.pattern);
                stream.insert(id).clone()
            }
        };
        let volume = match data.get_image_data(&id, index, timeout).await {
            Ok(volume) => volume,
            // The stream died with its streamer: open it again once the streamer is back.
            Err(LinkError::StreamFailed { message, .. }) => {
                tracing::warn!("scanner stream failed ({message}); opening it again");
                stream = None;
                continue;
            }
            Err(e) => bail!(e),
        };
        let name = pattern.name_for(index);
        write_atomic(&args.out.join(&name), &volume.bytes)?;
        let after_complete = SystemTime::now()
            .duration_since(volume.completed_at)
            .unwrap_or_default();
        println!(
            "volume {index} {name} {} bytes, {:.3} ms after the file was complete",
            volume.bytes.len(),
            after_complete.as_secs_f64() * 1e3
        );
        index += 1;
    }
    data.close_scanner_stream(&stream.unwrap_or_default())
        .await
        .ok();
    Ok(())
}
