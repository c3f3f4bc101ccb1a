//! Conversion end to end: synthetic and real scanner data to NIfTI.

use crate::support::{ground_truth, numbers, read_nifti, roi, run_ok, shared_testdata, text};

#[test]
fn synth_then_convert_gives_the_4d_run_with_the_true_roi_signal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scanner = dir.path().join("scanner");
    let nii = dir.path().join("out/run.nii.gz");
    let scanner_s = scanner.to_str().expect("utf-8");
    run_ok(&["synth", "--out", scanner_s, "--volumes", "12", "--tr", "2"]);
    // ground_truth.json sits among the DICOM files: convert must skip it, not fail.
    let out = run_ok(&[
        "convert",
        scanner_s,
        "-o",
        nii.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(
        text(&out.stderr).contains("ground_truth.json"),
        "no message about the skipped JSON file:\n{}",
        text(&out.stderr)
    );
    let (header, data) = read_nifti(&nii);
    assert_eq!(data.shape(), &[64, 64, 27, 12]);
    assert!(
        (header.pixdim[4] - 2.0).abs() < 1e-6,
        "TR {}",
        header.pixdim[4]
    );
    let truth = ground_truth(&scanner);
    let (min, max) = roi(&truth);
    for (t, expected) in numbers(&truth, "roi_mean").iter().enumerate() {
        let (mut sum, mut n) = (0.0, 0.0);
        for k in min[2]..max[2] {
            for j in min[1]..max[1] {
                for i in min[0]..max[0] {
                    sum += data[[i, j, k, t]];
                    n += 1.0;
                }
            }
        }
        assert!(
            (sum / n - expected).abs() < 1e-9,
            "volume {t}: ROI mean {} vs {expected}",
            sum / n
        );
    }
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/run.json")).expect("sidecar"))
            .expect("sidecar parses");
    assert_eq!(sidecar["RepetitionTime"].as_f64(), Some(2.0));
}

#[test]
fn convert_of_the_skyra_run_equals_dcm2niix() {
    let Some(td) = shared_testdata() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let nii = dir.path().join("skyra.nii");
    let input = td.join("siemens-mosaic-skyra-e11");
    run_ok(&[
        "convert",
        input.to_str().expect("utf-8"),
        "-o",
        nii.to_str().expect("utf-8"),
    ]);
    let (ours_h, ours) = read_nifti(&nii);
    let (ref_h, reference) = read_nifti(&td.join("ref/siemens-mosaic-skyra-e11/series.nii"));
    assert_eq!(ours.shape(), &[64, 64, 27, 10]);
    assert_eq!(ours.shape(), reference.shape());
    let differing = ours
        .iter()
        .zip(reference.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 0, "voxels differ from dcm2niix");
    for (a, b) in [
        (ours_h.srow_x, ref_h.srow_x),
        (ours_h.srow_y, ref_h.srow_y),
        (ours_h.srow_z, ref_h.srow_z),
    ] {
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-3, "sform {a:?} vs {b:?}");
        }
    }
    assert!((ours_h.pixdim[4] - ref_h.pixdim[4]).abs() < 1e-4);
}
