//! Every series of ../shared/testdata and ../shared/imaging-cases against dcm2niix:
//! the whole-series conversion written as one NIfTI compares exactly (compare_nifti.py's
//! checks), and streaming (each file, or each volume's slices, converted alone) gives
//! exactly the matching volume of the whole-series conversion.

use imaging::{DicomFile, Volume};

use crate::testdata::{assert_volume_matches, compare_nifti, reference_cases, written, Case};

fn check_case(case: &Case) -> Result<(), String> {
    let volumes = case.convert()?;
    let reference = case.reference();
    let ours = written(&volumes)?;
    compare_nifti(&ours, &reference.nifti)
}

#[test]
fn every_reference_series_matches_dcm2niix_exactly() {
    let cases = reference_cases();
    if cases.is_empty() {
        return; // no ../shared (a failure under CI=true, see test_support)
    }
    let mut failures = Vec::new();
    for case in &cases {
        let label = case.label();
        match check_case(case) {
            Ok(()) => eprintln!("PASS {label}"),
            Err(e) => {
                eprintln!("FAIL {label}: {e}");
                failures.push(label);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "series not matching dcm2niix: {failures:?}"
    );
}

/// One volume as the streaming path converts it: the file alone (mosaic, enhanced).
fn volumes_of_file(file: &DicomFile) -> imaging::Result<Vec<Volume>> {
    match imaging::convert::layout(file) {
        imaging::convert::Layout::Enhanced => imaging::enhanced::volumes_from_enhanced(file),
        _ => imaging::mosaic::volume_from_mosaic(file).map(|v| vec![v]),
    }
}

/// The volumes of a series converted one unit at a time, as they arrive.
fn streamed(case: &Case) -> Result<Vec<Volume>, String> {
    let files = case.parse_inputs()?;
    let per_slice = files
        .first()
        .is_some_and(|f| imaging::convert::layout(f) == imaging::convert::Layout::Slice);
    if per_slice {
        imaging::slices::group_into_volumes(imaging::convert::in_series_order(files))
            .map_err(|e| e.to_string())?
            .iter()
            .map(|slices| imaging::slices::volume_from_slices(slices).map_err(|e| e.to_string()))
            .collect()
    } else {
        // Like convert_series, files are taken in instance order and repeats dropped.
        let mut out = Vec::new();
        for file in imaging::convert::in_series_order(files) {
            out.extend(volumes_of_file(&file).map_err(|e| e.to_string())?);
        }
        Ok(out)
    }
}

fn same_volume(alone: &Volume, whole: &Volume) -> Result<(), String> {
    if alone.voxels != whole.voxels {
        return Err("voxels (stored type or values) differ".into());
    }
    if alone.scaling != whole.scaling {
        return Err(format!(
            "scaling {:?} vs {:?}",
            alone.scaling, whole.scaling
        ));
    }
    if alone.affine != whole.affine || alone.voxel_size != whole.voxel_size {
        return Err(format!("geometry {:?} vs {:?}", alone.affine, whole.affine));
    }
    if alone.tr_s != whole.tr_s {
        return Err(format!("TR {:?} vs {:?}", alone.tr_s, whole.tr_s));
    }
    Ok(())
}

fn check_streaming(case: &Case) -> Result<(), String> {
    let whole = case.convert()?;
    let alone = streamed(case)?;
    if alone.len() != whole.len() {
        return Err(format!(
            "{} volumes streamed, {} in the series",
            alone.len(),
            whole.len()
        ));
    }
    for (t, (a, w)) in alone.iter().zip(&whole).enumerate() {
        same_volume(a, w).map_err(|e| format!("volume {t}: {e}"))?;
    }
    Ok(())
}

/// Streaming use: for every multi-volume series of both folders, each file (mosaic,
/// enhanced) or each volume's slices (one file per slice) converted on its own gives
/// exactly the matching volume of the whole-series conversion: stored voxels, scaling,
/// geometry and TR (run-wide slice times are the sidecar's, checked with it).
#[test]
fn each_volume_alone_equals_the_whole_series_conversion() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in reference_cases() {
        let label = case.label();
        if case.stem != "series" || case.reference().dims[3] < 2 {
            continue;
        }
        checked += 1;
        match check_streaming(&case) {
            Ok(()) => eprintln!("PASS {label}"),
            Err(e) => {
                eprintln!("FAIL {label}: {e}");
                failures.push(label);
            }
        }
    }
    eprintln!("{checked} multi-volume series streamed");
    assert!(failures.is_empty(), "streaming differs: {failures:?}");
}

/// Streaming use against dcm2niix itself: each file of the XA30 enhanced run converted
/// alone gives dcm2niix's volume. Slice times are each volume's own, within a few ms
/// of the run-wide times dcm2niix takes from the second volume.
#[test]
fn each_enhanced_file_alone_matches_dcm2niix() {
    let Some(td) = crate::testdata::shared_testdata() else {
        return;
    };
    let rel = "siemens-xa30-enhanced/7_func-bold";
    let reference = crate::testdata::load_reference(&td, rel, "series");
    let files = crate::testdata::read_dir_files(&td.join(rel));
    assert_eq!(files.len(), reference.dims[3], "one file per volume");
    for (t, (path, bytes)) in files.iter().enumerate() {
        let mut volume =
            imaging::volume_from_file(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let run_wide = reference.slice_timing().expect("reference slice timing");
        assert_eq!(volume.slice_timing_s.len(), run_wide.len());
        for (ours, theirs) in volume.slice_timing_s.iter().zip(&run_wide) {
            let label = path.display();
            assert!(
                (ours - theirs).abs() < 0.005,
                "{label}: slice time {ours} vs {theirs}"
            );
        }
        volume.slice_timing_s = run_wide;
        assert_volume_matches(&volume, &reference, t, &path.display().to_string());
    }
}
