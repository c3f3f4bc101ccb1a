//! `data_analyser synth`: writes a synthetic run as the scanner console would.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use imaging::synth::{GroundTruth, Synth, SynthSpec};

use crate::files::write_atomic;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Folder to write the DICOM files (001_SSSSSS_VVVVVV.dcm) and ground_truth.json into.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Number of volumes (TRs).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub volumes: u32,
    /// Repetition time in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub tr: f64,
    /// Seed of the noise; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The activation follows the design like a BOLD response (a 2 s delay, then a rise
    /// and fall with a 3 s time constant) instead of switching with it.
    #[arg(long)]
    pub bold_lag: bool,
}

pub fn spec_from(volumes: u32, tr: f64, seed: u64) -> SynthSpec {
    SynthSpec {
        volumes: volumes as usize,
        tr_s: tr,
        seed,
        ..SynthSpec::default()
    }
}

pub fn run(args: SynthArgs) -> Result<()> {
    let spec = SynthSpec {
        bold_lag: args.bold_lag,
        ..spec_from(args.volumes, args.tr, args.seed)
    };
    let synth = Synth::new(spec).context("invalid synthetic run settings")?;
    for index in 0..args.volumes as usize {
        let file = synth.file(index)?;
        write_atomic(&args.out.join(&file.file_name), &file.bytes)?;
    }
    let truth = synth.ground_truth();
    write_ground_truth(&args.out, &truth)?;
    tracing::info!(
        volumes = args.volumes,
        tr_s = args.tr,
        "wrote synthetic run and ground_truth.json to {}",
        args.out.display()
    );
    Ok(())
}

pub fn write_ground_truth(dir: &Path, truth: &GroundTruth) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(truth).context("serialising the ground truth")?;
    json.push(b'\n');
    write_atomic(&dir.join("ground_truth.json"), &json)
}
