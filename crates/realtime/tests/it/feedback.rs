//! Feedback quality on a synthetic run whose head motion is locked to the task: the
//! incremental GLM's t-map finds the true ROI (Dice at least 0.8), and the correlation
//! of the raw and the preprocessed ROI time course with the true activation is printed
//! (issue 10).

use imaging::synth::{SynthMotion, SynthSpec};
use nalgebra::DVector;
use realtime::glm::{Condition, Design, DesignSpec, Drift, IncrementalGlm, RoiGlm};
use realtime::hrf::blocks_from_design;
use realtime::interp::Interpolation;
use realtime::mask::Mask;
use realtime::{MotionConfig, MotionCorrector};

use test_support::correlation;

use crate::common::synth_run;

/// Bonferroni over about 40 000 brain voxels at p < 0.05 one-sided: z ≈ 4.9.
const T_THRESHOLD: f32 = 4.9;

fn task_locked_run() -> SynthSpec {
    SynthSpec {
        volumes: 80,
        motion: Some(SynthMotion {
            max_translation_mm: 2.0,
            max_rotation_deg: 2.0,
            task_locked: 0.8,
        }),
        // A BOLD-like lag: the head jerks at each block's start, before the response.
        bold_lag: true,
        ..SynthSpec::default()
    }
}

fn design_spec(truth: &imaging::synth::GroundTruth) -> DesignSpec {
    let (onsets_s, durations_s) = blocks_from_design(&truth.design, truth.tr_s);
    DesignSpec {
        tr_s: truth.tr_s,
        volumes: truth.volumes,
        conditions: vec![Condition {
            name: "task".into(),
            onsets_s,
            durations_s,
        }],
        drift: Drift::Cosine { cutoff_s: 128.0 },
        motion: true,
        motion_derivatives: false,
        tissue_signals: 0,
    }
}

// Where the Dice is lost (measured on this run, threshold 4.9, 108 ROI voxels; every
// t-map below is restricted to the voxels valid in every volume, SPM's reslice mask):
// - t-map of the uncorrected volumes, no motion columns: Dice 0.90 (89 found, 1 outside);
// - motion-corrected, no motion columns: trilinear 0.41 (170 false positives in slices
//   1-7 and 20-25, the phantom's ellipsoid caps cut by the field of view), cubic 0.73
//   (17 false positives; ROI median t 8.2). The valid-data mask removes 929 (trilinear)
//   or 2271 (cubic) of the 39 130 brain voxels and none of those false positives: they
//   lie inside the acquired slab, where resampling the steep brain edge (thick slices)
//   leaves an error that follows the task-locked motion;
// - with the six motion columns (this test): the task column's R² on the other columns
//   is 0.674 (variance inflation 3.07; 0.038 on intercept and cosines alone), so the
//   task's t shrinks by about √3.07 = 1.75: ROI median t 8.2 -> 4.8 (cubic), 9.9 -> 5.6
//   (trilinear), and half the ROI falls under 4.9: Dice 0.63 both (cubic: 52 found,
//   5 outside; trilinear: 64 found, 30 outside). That is the price of motion correlated
//   with the task, not a fault of the fit. With the derivatives or the 24-parameter set
//   (Friston 1996) the ROI is lost (median t 2-4, Dice < 0.2);
// - less task locking (0.5, 0.3) gives more false positives, not fewer: the slow sways
//   (periods 47-79 s) are near the 40 s block cycle.
// A finer partial volume in the phantom (4x4x4 samples per voxel instead of 2x2x2) made
// it worse (0.63 -> 0.28 here). Not a threshold question either: with motion correction
// the 108 largest t-values hold 61-72% of the ROI (82% without it).
#[test]
#[ignore = "not met yet (issue 10): Dice 0.63 < 0.8 (cubic, valid-data mask: 52 of the 108 ROI voxels over t 4.9, 5 false positives; the motion columns take the task's variance, VIF 3.07, see the comment above); preprocessed ROI r 0.752 vs raw 0.721 (motion correction alone 0.688); run with --ignored"]
fn glm_t_map_finds_the_roi_on_a_run_with_task_locked_motion() {
    let (volumes, grid, truth) = synth_run(task_locked_run());
    let roi = Mask::from_box(truth.roi_voxel_min, truth.roi_voxel_max, &grid).expect("ROI box");
    let brain = Mask::brain(&volumes[0], &grid, 0.15).expect("brain mask");
    // The higher-order resampling: on this run it leaves 5 false positives where
    // trilinear leaves 30 (see the comment above).
    let config = MotionConfig {
        interpolation: Interpolation::Cubic,
        ..MotionConfig::default()
    };
    let mut corrector = MotionCorrector::new(&volumes[0], grid.clone(), config).expect("reference");
    let mut roi_glm = RoiGlm::new(design_spec(&truth)).expect("ROI design");
    let mut design = Design::new(design_spec(&truth)).expect("design");
    let mut voxel_glm = IncrementalGlm::new(design.columns(), brain.len()).expect("voxel GLM");
    let mut row = DVector::zeros(design.columns());
    let mut y = vec![0.0; brain.len()];
    let (mut raw, mut corrected_only, mut cleaned) = (Vec::new(), Vec::new(), Vec::new());
    for (t, volume) in volumes.iter().enumerate() {
        raw.push(roi.mean(volume));
        let estimate = corrector.correct(volume, &grid).expect("correct").0;
        let corrected = corrector.corrected();
        let (roi_mean, _) = roi
            .mean_where(corrected, corrector.valid_so_far())
            .expect("the ROI stays in the field of view");
        corrected_only.push(roi_mean);
        let result = roi_glm
            .push(roi_mean, &estimate.params, &[])
            .expect("ROI GLM");
        cleaned.push(result.cleaned);
        design.row(t, &estimate.params, &[], &mut row).expect("row");
        for (v, &i) in y.iter_mut().zip(&brain.indices) {
            *v = f64::from(corrected[i]);
        }
        voxel_glm.update(&row, &y).expect("voxel GLM");
    }
    let activation = &truth.activation;
    let r_raw = correlation(&raw, activation);
    let r_pre = correlation(&cleaned, activation);
    let r_mc = correlation(&corrected_only, activation);
    println!(
        "correlation with the true activation: raw ROI mean r = {r_raw:.3}, preprocessed r = {r_pre:.3} \
         (motion correction alone {r_mc:.3})"
    );
    // Not asserted yet (the whole test waits for the Dice): with the sulcus beside the
    // ROI, task-locked motion takes the raw mean's r down to about 0.72, and
    // preprocessing gains little over it (see the ignore reason).

    let mut contrast = DVector::zeros(design.columns());
    contrast[design.condition_column(0)] = 1.0;
    let t = voxel_glm.t_values(&contrast).expect("t-map");
    let valid = corrector.valid_so_far();
    println!(
        "valid in every volume: {} of the {} brain voxels",
        brain.restricted(valid).len(),
        brain.len()
    );
    let found: Vec<usize> = brain
        .indices
        .iter()
        .zip(t)
        .filter(|(&i, &t)| valid[i] && t > T_THRESHOLD)
        .map(|(&i, _)| i)
        .collect();
    let overlap = found.iter().filter(|&&i| roi.contains(i)).count();
    let dice = 2.0 * overlap as f64 / (found.len() + roi.len()) as f64;
    println!(
        "t-map: {} voxels over t {T_THRESHOLD}, {} in the {}-voxel ROI: Dice {dice:.3}",
        found.len(),
        overlap,
        roi.len()
    );
    assert!(dice >= 0.8, "Dice {dice} < 0.8");
}
