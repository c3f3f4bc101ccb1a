//! What the tests share: a real Skyra EPI volume, known rigid moves, error summaries.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use realtime::interp::{resample, Interpolation};
use realtime::{Grid, RigidParams};

/// The first volume of the Skyra E11 mosaic series in ../shared/testdata (64x64 in
/// plane), as f32 in NIfTI order with its grid; `None` (skip) without ../shared.
pub fn skyra_volume() -> Option<(Vec<f32>, Grid)> {
    let dir = test_support::shared_testdata()?.join("siemens-mosaic-skyra-e11");
    let bytes = std::fs::read(dir.join("001_000013_000000.dcm")).expect("Skyra volume readable");
    let volume = imaging::volume_from_file(&bytes).expect("Skyra mosaic converts");
    let grid = Grid::of(&volume).expect("Skyra affine invertible");
    Some((realtime::grid::volume_f32(&volume), grid))
}

/// `reference` moved by `params` (the head moved, so the moved volume at world y shows
/// the reference at T⁻¹(y)), resampled with cubic interpolation, plus Gaussian noise of
/// `noise_sd`; 0 where the moved head left the field of view.
pub fn moved(
    reference: &[f32],
    grid: &Grid,
    params: &RigidParams,
    noise_sd: f32,
    seed: u64,
) -> Vec<f32> {
    let transform = params.to_isometry(&grid.centre());
    let mut out = vec![0.0; grid.len()];
    resample(
        reference,
        grid,
        &transform.inverse(),
        grid,
        Interpolation::Cubic,
        &mut out,
    );
    let mut rng = StdRng::seed_from_u64(seed);
    for v in out.iter_mut() {
        // Box-Muller, so no extra crate is needed.
        let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
        let u2: f32 = rng.gen();
        *v += noise_sd * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
    }
    out
}

/// A run of `n` known poses: a random walk that reaches about `max_mm` and `max_deg`.
pub fn known_poses(n: usize, max_mm: f64, max_deg: f64, seed: u64) -> Vec<RigidParams> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|t| {
            let scale = (t as f64 + 1.0) / n as f64;
            let mut p = [0.0; 6];
            for (a, v) in p.iter_mut().enumerate() {
                let max = if a < 3 { max_mm } else { max_deg };
                *v = max * scale * rng.gen_range(-1.0..1.0);
            }
            // The last pose reaches the maximum on one axis of each kind.
            if t + 1 == n {
                p[0] = max_mm;
                p[5] = -max_deg;
            }
            RigidParams::from_array(p)
        })
        .collect()
}

/// Root mean square over volumes and axes of the translation (mm) and rotation (deg)
/// errors.
pub fn rms_errors(estimates: &[RigidParams], truths: &[RigidParams]) -> (f64, f64) {
    let (mut t, mut r) = (0.0, 0.0);
    for (e, g) in estimates.iter().zip(truths) {
        for a in 0..3 {
            t += (e.translation_mm[a] - g.translation_mm[a]).powi(2);
            r += (e.rotation_deg[a] - g.rotation_deg[a]).powi(2);
        }
    }
    let n = (3 * estimates.len()).max(1) as f64;
    ((t / n).sqrt(), (r / n).sqrt())
}

/// The synthetic scanner's run as f32 volumes (NIfTI order) on their grid, with the
/// ground truth.
pub fn synth_run(
    spec: imaging::synth::SynthSpec,
) -> (Vec<Vec<f32>>, Grid, imaging::synth::GroundTruth) {
    let synth = imaging::synth::Synth::new(spec).expect("valid synthetic spec");
    let truth = synth.ground_truth();
    let grid = Grid::new(truth.shape, synth.ras_affine()).expect("synthetic affine");
    let volumes = (0..truth.volumes)
        .map(|i| {
            synth
                .volume_values(i)
                .0
                .into_iter()
                .map(f32::from)
                .collect()
        })
        .collect();
    (volumes, grid, truth)
}
