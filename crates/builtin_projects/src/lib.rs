//! builtin_projects: analysis projects compiled into data_analyser, chosen by name
//! (`data_analyser --project sample`), like the modules of a reconstruction server.
//!
//! - `sample`: RT-Cloud's sample project: the mean of each volume, fed back scaled.
//! - `roi-feedback`: percent signal change in a region of interest against a rest
//!   baseline, detrended, clipped to [-1, 1]; motion-corrected by default, motion
//!   regression on request (crate `realtime`).
//! - `motion`: a live head-motion monitor (six parameters, FD, counts over thresholds).
//! - `glm`: a live t-map of a block design (incremental GLM over every brain voxel).
//!
//! Each runs as a child process of the analyser (`data_analyser builtin NAME --config
//! ... --runs ... --scans ...`) and talks to it through the same project API as any
//! script, so a built-in is started, logged and stopped exactly like a Python project.
//!
//! Must never: read files other than through the client's data calls (the analyser
//! decides where data comes from), except a local ROI mask named in the settings.

mod glm;
mod motion;
pub mod preprocess;
pub mod roi;
mod roi_feedback;
mod sample;
pub mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rtcloud_client::{ClientError, ClientInterface};

pub use settings::{fill_field, Settings};

/// The built-in projects, by name.
pub const NAMES: [&str; 4] = ["sample", "roi-feedback", "motion", "glm"];

/// The settings file a built-in project starts from.
pub fn default_config(name: &str) -> Option<&'static str> {
    match name {
        "sample" => Some(include_str!("../conf/sample.toml")),
        "roi-feedback" => Some(include_str!("../conf/roi-feedback.toml")),
        "motion" => Some(include_str!("../conf/motion.toml")),
        "glm" => Some(include_str!("../conf/glm.toml")),
        _ => None,
    }
}

/// What can stop a built-in project.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("no built-in project {0:?} (there are: {list})", list = NAMES.join(", "))]
    Unknown(String),
    #[error("settings {path}: {problem}")]
    Settings { path: PathBuf, problem: String },
    #[error("runs {runs:?} and scans {scans:?} must pair up: give one scan number per run")]
    RunsAndScans { runs: Vec<i64>, scans: Vec<i64> },
    #[error("ROI: {0}")]
    Roi(String),
    #[error("run {run}, TR {tr}: {source}")]
    Tr {
        run: i64,
        tr: u32,
        #[source]
        source: ClientError,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One launch's arguments, as every project gets them.
#[derive(Debug, Clone)]
pub struct LaunchArgs {
    pub config: PathBuf,
    pub runs: Vec<i64>,
    pub scans: Vec<i64>,
}

/// Runs built-in project `name` to the end.
pub async fn run(
    name: &str,
    client: &ClientInterface,
    args: &LaunchArgs,
) -> Result<(), BuiltinError> {
    let settings = Settings::load(&args.config)?;
    // An empty --runs / --scans means "as in the settings".
    let runs = if args.runs.is_empty() {
        settings.int_list("runNum")?
    } else {
        args.runs.clone()
    };
    let scans = if args.scans.is_empty() {
        settings.int_list("scanNum")?
    } else {
        args.scans.clone()
    };
    if runs.len() != scans.len() {
        return Err(BuiltinError::RunsAndScans { runs, scans });
    }
    let base = args.config.parent().unwrap_or(Path::new("."));
    match name {
        "sample" => sample::run(client, &settings, &runs, &scans).await,
        "roi-feedback" => roi_feedback::run(client, &settings, base, &runs, &scans).await,
        "motion" => motion::run(client, &settings, &runs, &scans).await,
        "glm" => glm::run(client, &settings, base, &runs, &scans).await,
        other => Err(BuiltinError::Unknown(other.to_owned())),
    }
}

/// The motion warning thresholds from the settings (fdThresholdMm, maxTranslationMm,
/// maxRotationDeg), with `realtime`'s defaults.
fn settings_thresholds(settings: &Settings) -> Result<realtime::MotionThresholds, BuiltinError> {
    let d = realtime::MotionThresholds::default();
    Ok(realtime::MotionThresholds {
        fd_mm: settings.float_or("fdThresholdMm", d.fd_mm)?,
        translation_mm: settings.float_or("maxTranslationMm", d.translation_mm)?,
        rotation_deg: settings.float_or("maxRotationDeg", d.rotation_deg)?,
    })
}

/// The task of the settings: alternating blocks of `blockTRs` TRs (default 10, "off"
/// first) over `num_trs` TRs, in seconds from the run's first volume, with the TR
/// `repetitionTimeS` (0: the first volume's header, else 2 s).
fn settings_block_task(
    settings: &Settings,
    num_trs: u32,
    first: &imaging::Volume,
) -> Result<(f64, realtime::glm::Condition), BuiltinError> {
    let block = settings.count_or("blockTRs", 10)?.max(1) as usize;
    let tr_setting = settings.float_or("repetitionTimeS", 0.0)?;
    let tr_s = if tr_setting > 0.0 {
        tr_setting
    } else {
        first.tr_s.unwrap_or(2.0)
    };
    let blocks: Vec<u8> = (0..num_trs as usize)
        .map(|t| ((t / block) % 2) as u8)
        .collect();
    let (onsets_s, durations_s) = realtime::hrf::blocks_from_design(&blocks, tr_s);
    Ok((
        tr_s,
        realtime::glm::Condition {
            name: "task".into(),
            onsets_s,
            durations_s,
        },
    ))
}

/// The ROI of the settings (roiMask NIfTI, in any grid, or roiBox) in the grid of the
/// run's volumes.
fn settings_roi(
    settings: &Settings,
    project_dir: &Path,
    grid: &realtime::Grid,
) -> Result<Option<realtime::mask::Mask>, BuiltinError> {
    let mask = settings.string_or("roiMask", "")?;
    if !mask.is_empty() {
        let (values, mask_grid) = roi::read_mask(&project_dir.join(&mask))?;
        return realtime::mask::Mask::resampled(&values, &mask_grid, grid)
            .map(Some)
            .map_err(|e| BuiltinError::Roi(format!("mask {mask}: {e}")));
    }
    match settings.index_box("roiBox")? {
        Some([min, max]) => realtime::mask::Mask::from_box(min, max, grid)
            .map(Some)
            .map_err(|e| BuiltinError::Roi(e.to_string())),
        None => Ok(None),
    }
}

/// The scanner stream of one scan, as both projects read it.
struct ScanStream<'a> {
    client: &'a ClientInterface,
    id: String,
    timeout: Duration,
    /// A BIDS replay (issue 11): the Bids stream and the TR of its first volume.
    bids: Option<(rtcloud_client::BidsStream, u32)>,
}

impl<'a> ScanStream<'a> {
    /// Opens the stream of `scan` with imgDir, dicomNamePattern (its {SCAN} field
    /// filled), minExpectedDicomSize and anonymize from the settings.
    async fn open(
        client: &'a ClientInterface,
        settings: &Settings,
        scan: i64,
        first_tr: u32,
    ) -> Result<ScanStream<'a>, BuiltinError> {
        let dir = settings.string("imgDir")?;
        let pattern = fill_field(&settings.string("dicomNamePattern")?, "SCAN", scan);
        let min_size = settings.count_or("minExpectedDicomSize", 0)?;
        let anonymize = settings.bool_or("anonymize", true)?;
        let timeout = settings.float_or("imageTimeoutSec", 60.0)?;
        let id = client
            .data
            .init_scanner_stream_at(&dir, &pattern, min_size.into(), anonymize, first_tr)
            .await?;
        Ok(ScanStream {
            client,
            id,
            timeout: Duration::try_from_secs_f64(timeout).unwrap_or(Duration::from_secs(60)),
            bids: None,
        })
    }

    /// Run `run`'s volumes: from the BIDS dataset of setting `bidsDataset` when it is set
    /// (the run of that number and of the settings' subjectName / taskName /
    /// sessionName, its first volume being TR `first_tr`; issue 11), else from the
    /// scanner as [`ScanStream::open`].
    async fn open_run(
        client: &'a ClientInterface,
        settings: &Settings,
        run: i64,
        scan: i64,
        first_tr: u32,
    ) -> Result<ScanStream<'a>, BuiltinError> {
        let dataset = settings.string_or("bidsDataset", "")?;
        if dataset.is_empty() {
            return Self::open(client, settings, scan, first_tr).await;
        }
        let mut wanted = bids::EntitySource::from_settings(|key| settings.string(key).ok());
        wanted.set("run", &run.to_string());
        let stream = client.bids.init_bids_stream(&dataset, &wanted).await?;
        Ok(ScanStream {
            client,
            id: stream.id.clone(),
            timeout: Duration::from_secs(60),
            bids: Some((stream, first_tr)),
        })
    }

    async fn volume(&self, run: i64, tr: u32) -> Result<imaging::Volume, BuiltinError> {
        if let Some((stream, first_tr)) = &self.bids {
            let index = tr.checked_sub(*first_tr);
            let (_, incremental) = self
                .client
                .bids
                .get_incremental(stream, index, self.timeout)
                .await
                .map_err(|source| BuiltinError::Tr { run, tr, source })?;
            return Ok(incremental.into_parts().1);
        }
        self.client
            .data
            .get_image_volume(&self.id, tr, self.timeout)
            .await
            .map_err(|source| BuiltinError::Tr { run, tr, source })
    }

    async fn close(self) -> Result<(), BuiltinError> {
        if let Some((stream, _)) = &self.bids {
            return Ok(self.client.bids.close_stream(stream).await?);
        }
        Ok(self.client.data.close_scanner_stream(&self.id).await?)
    }
}
