//! The synthetic scanner's rigid motion (at least 2 mm and 2 degrees, true parameters
//! in its ground truth) is recovered within 0.1 mm and 0.1 degree RMS (issue 10).

use imaging::synth::{SynthMotion, SynthSpec};
use realtime::{MotionConfig, MotionCorrector, RigidParams};

use crate::common::{rms_errors, synth_run};

#[test]
fn synthetic_run_with_two_mm_and_two_degree_motion_is_tracked_within_a_tenth() {
    let (volumes, grid, truth) = synth_run(SynthSpec {
        volumes: 24,
        motion: Some(SynthMotion {
            max_translation_mm: 3.0,
            max_rotation_deg: 3.0,
            task_locked: 0.3,
        }),
        ..SynthSpec::default()
    });
    let motion = truth.motion.as_ref().expect("ground truth has the motion");
    let largest = |from: usize| {
        motion
            .iter()
            .map(|p| (from..from + 3).map(|a| p[a].abs()).fold(0.0, f64::max))
            .fold(0.0, f64::max)
    };
    assert!(
        largest(0) >= 2.0 && largest(3) >= 2.0,
        "motion too small: {} mm, {} deg",
        largest(0),
        largest(3)
    );
    assert_eq!(motion[0], [0.0; 6], "the first volume is the head at rest");
    let mut corrector = MotionCorrector::new(&volumes[0], grid.clone(), MotionConfig::default())
        .expect("reference");
    let mut estimates = Vec::new();
    let truths: Vec<RigidParams> = motion.iter().map(|&p| RigidParams::from_array(p)).collect();
    for (n, volume) in volumes.iter().enumerate() {
        let e = corrector.estimate(volume, &grid).expect("estimate");
        println!(
            "TR {n}: truth {:?}\n      estimate {:?}",
            truths[n].as_array(),
            e.params.as_array()
        );
        estimates.push(e.params);
    }
    let (t_rms, r_rms) = rms_errors(&estimates, &truths);
    println!("RMS error {t_rms:.4} mm, {r_rms:.4} deg");
    assert!(t_rms <= 0.1, "translation RMS error {t_rms} mm > 0.1 mm");
    assert!(r_rms <= 0.1, "rotation RMS error {r_rms} deg > 0.1 deg");
}
