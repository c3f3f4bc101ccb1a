//! Benchmark: real-time preprocessing of a 64x64x27 Skyra EPI volume (issue 10).
//!
//! `cargo bench -p realtime --bench preproc` (or scripts/bench_preproc.sh, which also
//! makes the Python venv with SimpleITK) prints p50/p99 of
//! - motion correction (registration + trilinear resampling into the reference grid),
//! - resampling alone, without and with the valid-data mask, and cubic (ratios),
//! - motion correction + GLM update (every brain voxel and the ROI) + ROI feedback,
//! - the voxelwise t-map (computed when a page wants it, not every TR necessarily).
//!
//! Motion correction is timed with the default settings and, in the same run, with the
//! previous default tolerance (0.002 mm) and with half the registration points, each
//! with its Gauss-Newton iterations per volume and its p50 ratio to the default.
//!
//! Then SimpleITK's time for the same registrations in the same run, and the ratio.
//! The moving volumes are the series' other real volumes and copies of the reference
//! moved by known transforms up to 2 mm / 2 degrees.

#[path = "../tests/it/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../tests/it/sitk_runner.rs"]
mod sitk_runner;

use std::time::Duration;

use nalgebra::{DVector, Isometry3};
use realtime::glm::{Condition, Design, DesignSpec, Drift, IncrementalGlm, RoiGlm};
use realtime::interp::{resample_masked, Interpolation};
use realtime::mask::Mask;
use realtime::{Grid, MotionConfig, MotionCorrector};

const ITERATIONS: usize = 300;
const SIMPLEITK_RUNS: usize = 6;

fn main() {
    let Some((reference, grid)) = common::skyra_volume() else {
        println!("no ../shared/testdata: nothing to measure");
        return;
    };
    let iterations = test_support::env_or("BENCH_ITERATIONS", ITERATIONS);
    let iterations_wanted = iterations;
    let volumes = moving_volumes(&reference, &grid);
    println!(
        "volume shape {:?}, {} moving volumes",
        grid.shape,
        volumes.len()
    );

    // The default, then variants measured in the same run (ratio: variant p50 / default p50).
    let mut mc: Vec<Duration> = Vec::new();
    for (label, config) in [
        ("motion correction", MotionConfig::default()),
        (
            "  previous default: tolerance 0.002 mm",
            MotionConfig {
                tolerance_mm: 0.002,
                ..MotionConfig::default()
            },
        ),
        (
            "  same, 6000 points",
            MotionConfig {
                max_points: 6000,
                ..MotionConfig::default()
            },
        ),
    ] {
        let mut corrector =
            MotionCorrector::new(&reference, grid.clone(), config).expect("reference");
        let (mut n, mut iterations) = (0, 0);
        let times = test_support::time_runs(iterations_wanted, || {
            let v = &volumes[n % volumes.len()];
            n += 1;
            let estimate = corrector.correct(v, &grid).expect("correct").0;
            iterations += estimate.iterations;
            std::hint::black_box(estimate);
        });
        report(label, &times);
        println!(
            "  ({} registration points, {:.1} Gauss-Newton iterations per volume)",
            corrector.points(),
            iterations as f64 / n.max(1) as f64
        );
        if mc.is_empty() {
            mc = times;
        } else {
            let ratio =
                percentile(&times, 50.0).as_secs_f64() / percentile(&mc, 50.0).as_secs_f64();
            println!("  p50 ratio to the default: {ratio:.2}");
        }
    }

    resampling(&reference, &grid, &volumes, iterations_wanted);

    let brain = Mask::brain(&reference, &grid, 0.15).expect("brain");
    let roi = Mask::from_box([40, 35, 12], [46, 41, 15], &grid).expect("roi");
    let spec = DesignSpec {
        tr_s: 2.0,
        volumes: iterations * 2 + iterations / 10 + 10,
        conditions: vec![Condition {
            name: "task".into(),
            onsets_s: (0..100).map(|b| b as f64 * 40.0 + 20.0).collect(),
            durations_s: vec![20.0; 100],
        }],
        drift: Drift::Cosine { cutoff_s: 128.0 },
        motion: true,
        motion_derivatives: true,
        tissue_signals: 0,
    };
    let mut design = Design::new(spec.clone()).expect("design");
    let mut roi_glm = RoiGlm::new(spec).expect("roi glm");
    let mut glm = IncrementalGlm::new(design.columns(), brain.len()).expect("glm");
    let mut row = DVector::zeros(design.columns());
    let mut y = vec![0.0; brain.len()];
    let mut corrector =
        MotionCorrector::new(&reference, grid.clone(), MotionConfig::default()).expect("reference");
    let mut tr = 0;
    let chain = test_support::time_runs(iterations, || {
        let v = &volumes[tr % volumes.len()];
        let estimate = corrector.correct(v, &grid).expect("correct").0;
        let corrected = corrector.corrected();
        let (roi_mean, _) = roi
            .mean_where(corrected, corrector.valid_so_far())
            .expect("ROI in the field of view");
        design
            .row(tr, &estimate.params, &[], &mut row)
            .expect("row");
        for (o, &i) in y.iter_mut().zip(&brain.indices) {
            *o = f64::from(corrected[i]);
        }
        glm.update(&row, &y).expect("update");
        let result = roi_glm.push(roi_mean, &estimate.params, &[]).expect("roi");
        std::hint::black_box(result);
        tr += 1;
    });
    report("MC + GLM update + ROI", &chain);
    let mut contrast = DVector::zeros(design.columns());
    contrast[design.condition_column(0)] = 1.0;
    let tmap = test_support::time_runs(iterations / 3, || {
        std::hint::black_box(glm.t_values(&contrast).expect("t").len());
    });
    report(
        &format!(
            "t-map ({} voxels, {} columns)",
            brain.len(),
            design.columns()
        ),
        &tmap,
    );

    match test_support::test_python_with("SimpleITK") {
        Some(python) => {
            let sample: Vec<Vec<f32>> = volumes.iter().take(SIMPLEITK_RUNS).cloned().collect();
            let mut seconds: Vec<Duration> =
                sitk_runner::simpleitk_register(&python, &reference, &grid, &sample)
                    .into_iter()
                    .map(|(_, s)| Duration::from_secs_f64(s))
                    .collect();
            seconds.sort();
            report("SimpleITK registration", &seconds);
            let ratio =
                percentile(&seconds, 50.0).as_secs_f64() / percentile(&mc, 50.0).as_secs_f64();
            println!("ratio SimpleITK p50 / motion correction p50: {ratio:.0}x");
        }
        None => println!(
            "SimpleITK: not in target/pyenv, skipped (scripts/bench_preproc.sh installs it)"
        ),
    }
}

/// Resampling alone (one moved volume into the reference grid): without the valid-data
/// mask, with it (what [`MotionCorrector::correct`] does), and cubic with it, each with
/// its p50 ratio to the first.
fn resampling(reference: &[f32], grid: &Grid, volumes: &[Vec<f32>], iterations: usize) {
    let mut corrector =
        MotionCorrector::new(reference, grid.clone(), MotionConfig::default()).expect("reference");
    let transforms: Vec<Isometry3<f64>> = volumes
        .iter()
        .map(|v| {
            let params = corrector.estimate(v, grid).expect("estimate").params;
            params.to_isometry(&corrector.centre())
        })
        .collect();
    let mut out = vec![0.0; grid.len()];
    let mut valid = vec![true; grid.len()];
    let mut first: Option<Duration> = None;
    for (label, interpolation, masked) in [
        (
            "resampling, trilinear, no mask",
            Interpolation::Trilinear,
            false,
        ),
        (
            "  trilinear with the valid-data mask",
            Interpolation::Trilinear,
            true,
        ),
        (
            "  cubic with the valid-data mask",
            Interpolation::Cubic,
            true,
        ),
    ] {
        let mut n = 0;
        let times = test_support::time_runs(iterations, || {
            let v = n % volumes.len();
            n += 1;
            resample_masked(
                &volumes[v],
                grid,
                &transforms[v],
                grid,
                interpolation,
                &mut out,
                masked.then_some(&mut valid[..]),
            );
            std::hint::black_box(&out);
        });
        report(label, &times);
        let p50 = percentile(&times, 50.0);
        match first {
            None => first = Some(p50),
            Some(base) => println!(
                "  p50 ratio to no mask: {:.2}",
                p50.as_secs_f64() / base.as_secs_f64()
            ),
        }
    }
}

/// The series' other real volumes, then the reference moved by known transforms.
fn moving_volumes(reference: &[f32], grid: &Grid) -> Vec<Vec<f32>> {
    let dir = test_support::shared_testdata()
        .expect("testdata")
        .join("siemens-mosaic-skyra-e11");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("series folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut volumes: Vec<Vec<f32>> = files
        .iter()
        .skip(1)
        .filter_map(|p| imaging::volume_from_file(&std::fs::read(p).ok()?).ok())
        .filter(|v| v.voxels.shape() == grid.shape)
        .map(|v| realtime::grid::volume_f32(&v))
        .collect();
    for (n, pose) in common::known_poses(10, 2.0, 2.0, 3).iter().enumerate() {
        volumes.push(common::moved(reference, grid, pose, 10.0, n as u64));
    }
    volumes
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p / 100.0).round() as usize]
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name:<44} p50 {:>9.3} ms   p99 {:>9.3} ms   (n = {})",
        percentile(times, 50.0).as_secs_f64() * 1e3,
        percentile(times, 99.0).as_secs_f64() * 1e3,
        times.len()
    );
}
