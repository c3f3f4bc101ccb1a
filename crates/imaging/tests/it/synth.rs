//! The synthetic scanner: its files read back like real Siemens mosaics and its ground
//! truth matches the stored values.

use dicom_dictionary_std::tags;
use imaging::synth::{Synth, SynthSpec};

fn small_spec() -> SynthSpec {
    SynthSpec {
        volumes: 20,
        tr_s: 2.0,
        block_s: 10.0,
        ..SynthSpec::default()
    }
}

#[test]
fn synthetic_files_carry_the_siemens_mosaic_header() {
    let synth = Synth::new(small_spec()).expect("valid spec");
    let file = synth.file(2).expect("volume 3");
    assert_eq!(file.file_name, "001_000001_000003.dcm");
    let dicom = imaging::parse(&file.bytes).expect("parses as DICOM");
    assert_eq!(dicom.transfer_syntax(), "1.2.840.10008.1.2.1");
    assert_eq!(dicom.i64(tags::ROWS), Some(384));
    assert_eq!(dicom.i64(tags::COLUMNS), Some(384));
    assert_eq!(dicom.i64(tags::INSTANCE_NUMBER), Some(3));
    assert_eq!(dicom.i64(tags::ACQUISITION_NUMBER), Some(3));
    assert_eq!(dicom.f64(tags::REPETITION_TIME), Some(2000.0));
    assert!(dicom
        .str(tags::IMAGE_TYPE)
        .is_some_and(|t| t.contains("MOSAIC")));
    let acq = dicom.str(tags::ACQUISITION_TIME).expect("AcquisitionTime");
    assert_eq!(acq.trim(), "100004.000000");
    let csa = dicom
        .bytes(dicom_core::Tag(0x0029, 0x1010))
        .expect("CSA image header");
    assert_eq!(&csa[..4], b"SV10");
    let csa_text = String::from_utf8_lossy(&csa);
    for name in [
        "NumberOfImagesInMosaic",
        "SliceNormalVector",
        "MosaicRefAcqTimes",
    ] {
        assert!(csa_text.contains(name), "CSA header lacks {name}");
    }
}

#[test]
fn synthetic_run_is_deterministic_and_seeded() {
    let a = Synth::new(small_spec()).expect("spec");
    let b = Synth::new(small_spec()).expect("spec");
    let c = Synth::new(SynthSpec {
        seed: 7,
        ..small_spec()
    })
    .expect("spec");
    assert_eq!(a.file(4).expect("a").bytes, b.file(4).expect("b").bytes);
    assert_ne!(a.volume_values(4).0, c.volume_values(4).0);
}

#[test]
fn ground_truth_roi_signal_follows_the_design() {
    let synth = Synth::new(small_spec()).expect("spec");
    let truth = synth.ground_truth();
    assert_eq!(truth.design.len(), 20);
    assert_eq!(&truth.design[..10], &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    let design: Vec<f64> = truth.design.iter().map(|&d| f64::from(d)).collect();
    let r = test_support::correlation(&truth.roi_mean, &design);
    assert!(r > 0.9, "ROI mean vs design correlation {r}");
    // About 2 % signal change between on and off blocks.
    let mean_of = |want: u8| {
        let v: Vec<f64> = truth
            .roi_mean
            .iter()
            .zip(&truth.design)
            .filter(|(_, &d)| d == want)
            .map(|(m, _)| *m)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let change = (mean_of(1) / mean_of(0) - 1.0) * 100.0;
    assert!((1.5..2.5).contains(&change), "signal change {change} %");
    // Interleaved ascending with 27 slices: even slices first.
    assert_eq!(truth.slice_timing_s[0], 0.0);
    assert!(truth.slice_timing_s[1] > truth.slice_timing_s[26]);
}

#[test]
fn synthetic_mosaic_converts_to_the_specified_volume() {
    let synth = Synth::new(small_spec()).expect("spec");
    let truth = synth.ground_truth();
    let expected = synth.ras_affine();
    for index in [0, 7] {
        let file = synth.file(index).expect("file");
        let volume = imaging::volume_from_file(&file.bytes).expect("the mosaic converts");
        assert_eq!(volume.voxels.shape(), [64, 64, 27]);
        for (r, (ours, want)) in volume.affine.iter().zip(&expected).enumerate().take(3) {
            for (c, (a, b)) in ours.iter().zip(want).enumerate() {
                assert!((a - b).abs() < 1e-3, "affine[{r}][{c}] {a} vs {b}");
            }
        }
        // The ROI centre in voxels maps to the ground truth's RAS centre.
        let centre: Vec<f64> = (0..3)
            .map(|a| (truth.roi_voxel_min[a] + truth.roi_voxel_max[a]) as f64 / 2.0 - 0.5)
            .collect();
        for (r, (row, want)) in volume
            .affine
            .iter()
            .zip(truth.roi_center_ras_mm)
            .enumerate()
        {
            let mm = row[3] + row.iter().zip(&centre).map(|(a, x)| a * x).sum::<f64>();
            assert!(
                (mm - want).abs() < 1e-3,
                "ROI centre axis {r}: {mm} vs {want}"
            );
        }
        assert_eq!(volume.voxel_size, [3.0, 3.0, 3.5]);
        assert_eq!(volume.tr_s, Some(2.0));
        for (a, b) in volume.slice_timing_s.iter().zip(&truth.slice_timing_s) {
            assert!(
                (a - b).abs() < 1e-4,
                "slice timing {:?}",
                volume.slice_timing_s
            );
        }
        let (mut sum, mut n) = (0.0, 0.0);
        for k in truth.roi_voxel_min[2]..truth.roi_voxel_max[2] {
            for j in truth.roi_voxel_min[1]..truth.roi_voxel_max[1] {
                for i in truth.roi_voxel_min[0]..truth.roi_voxel_max[0] {
                    sum += volume.voxels.get_f64([i, j, k]).expect("in bounds");
                    n += 1.0;
                }
            }
        }
        let mean = sum / n;
        assert!(
            (mean - truth.roi_mean[index]).abs() < 1e-9,
            "ROI mean {mean} vs {}",
            truth.roi_mean[index]
        );
    }
}
