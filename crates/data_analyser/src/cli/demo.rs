//! `data_analyser demo`: the whole local pipeline on synthetic data. A synthetic scanner
//! writes one volume per TR into `OUT/scanner`; each file is read and converted on its
//! own as it arrives, the ROI percent signal change is computed and printed, and at the
//! end the run is written as NIfTI + BIDS JSON with a table of the results.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use imaging::run::Run;
use imaging::synth::{GroundTruth, Synth};
use imaging::Volume;

use crate::cli::synth::{spec_from, write_ground_truth};
use crate::files::write_atomic;
use crate::pipeline::volume_from_file;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the scanner files, the 4D NIfTI, its sidecar and results.tsv.
    #[arg(long, short, default_value = "demo-out")]
    pub out: PathBuf,
    /// Number of volumes (TRs).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub volumes: u32,
    /// Repetition time in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub tr: f64,
    /// Seed of the synthetic noise.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Wait one TR between volumes, like a real scanner (default: as fast as possible).
    #[arg(long)]
    pub realtime: bool,
}

/// What the experimenter's analysis produced for one TR.
#[derive(Debug, Clone, PartialEq)]
struct TrResult {
    roi_mean: f64,
    percent_change: f64,
    convert_us: u128,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let synth =
        Synth::new(spec_from(args.volumes, args.tr, args.seed)).context("invalid demo settings")?;
    let scanner_dir = args.out.join("scanner");
    let truth = synth.ground_truth();
    write_ground_truth(&scanner_dir, &truth)?;
    println!(
        "demo: {} volumes, TR {} s, scanner folder {}",
        args.volumes,
        args.tr,
        scanner_dir.display()
    );
    println!("   TR  design   ROI mean   change %   convert µs");

    let mut run: Option<Run> = None;
    let mut results = Vec::with_capacity(args.volumes as usize);
    let start = Instant::now();
    for index in 0..args.volumes as usize {
        if args.realtime {
            let due = Duration::from_secs_f64(args.tr * index as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        // The scanner writes the file; then it "arrives" and is read back like any other.
        let file = synth.file(index)?;
        let path = scanner_dir.join(&file.file_name);
        write_atomic(&path, &file.bytes)?;

        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let t0 = Instant::now();
        let volume = volume_from_file(&bytes)
            .with_context(|| format!("cannot convert {}", path.display()))?;
        let convert_us = t0.elapsed().as_micros();

        let roi_mean = roi_mean(&volume, &truth)?;
        let baseline = baseline(&results, &truth, roi_mean);
        let percent_change = (roi_mean / baseline - 1.0) * 100.0;
        println!(
            "{:>5}  {:>6}  {:>9.2}  {:>+9.3}  {:>11}",
            index + 1,
            if truth.design[index] == 1 {
                "on"
            } else {
                "off"
            },
            roi_mean,
            percent_change,
            convert_us
        );
        results.push(TrResult {
            roi_mean,
            percent_change,
            convert_us,
        });
        match run.as_mut() {
            None => run = Some(Run::new(volume)),
            Some(r) => r.push(volume).context("volume does not fit the run")?,
        }
    }
    let Some(run) = run else {
        bail!("the demo produced no volumes");
    };
    write_outputs(&args.out, &run, &truth, &results)?;
    let signal: Vec<f64> = results.iter().map(|r| r.roi_mean).collect();
    let design: Vec<f64> = truth.design.iter().map(|&d| f64::from(d)).collect();
    println!(
        "correlation of the ROI signal with the design: {:.3}",
        correlation(&signal, &design)
    );
    println!(
        "wrote {0}/run.nii.gz, {0}/run.json and {0}/results.tsv in {1:.2} s",
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Mean of the ground-truth ROI box in the converted volume.
fn roi_mean(volume: &Volume, truth: &GroundTruth) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for k in truth.roi_voxel_min[2]..truth.roi_voxel_max[2] {
        for j in truth.roi_voxel_min[1]..truth.roi_voxel_max[1] {
            for i in truth.roi_voxel_min[0]..truth.roi_voxel_max[0] {
                let v = volume.voxels.get_f64([i, j, k]).with_context(|| {
                    format!(
                        "ROI voxel ({i}, {j}, {k}) is outside the volume of shape {:?}",
                        volume.voxels.shape()
                    )
                })?;
                sum += v;
                n += 1;
            }
        }
    }
    if n == 0 {
        bail!("the ground-truth ROI is empty");
    }
    Ok(sum / n as f64)
}

/// Baseline for the percent change: the mean ROI signal of the "off" TRs so far (the
/// current one if none has been seen yet), which is what a feedback experiment can know.
fn baseline(results: &[TrResult], truth: &GroundTruth, current: f64) -> f64 {
    let off: Vec<f64> = results
        .iter()
        .zip(&truth.design)
        .filter(|(_, &d)| d == 0)
        .map(|(r, _)| r.roi_mean)
        .collect();
    if off.is_empty() {
        current
    } else {
        off.iter().sum::<f64>() / off.len() as f64
    }
}

fn write_outputs(
    out: &std::path::Path,
    run: &Run,
    truth: &GroundTruth,
    results: &[TrResult],
) -> Result<()> {
    write_atomic(&out.join("run.nii.gz"), &run.to_nifti(true)?)?;
    let mut json = serde_json::to_vec_pretty(&run.sidecar())?;
    json.push(b'\n');
    write_atomic(&out.join("run.json"), &json)?;
    let mut tsv = String::from("tr\tonset_s\tdesign\troi_mean\tpercent_change\tconvert_us\n");
    for (index, r) in results.iter().enumerate() {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{:.4}\t{:.4}\t{}",
            index + 1,
            index as f64 * truth.tr_s,
            truth.design[index],
            r.roi_mean,
            r.percent_change,
            r.convert_us
        );
    }
    write_atomic(&out.join("results.tsv"), tsv.as_bytes())
}

/// Pearson correlation; 0 when either series is constant.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let mean = |x: &[f64]| x[..n].iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}
