//! Whole-series conversion against the dcm2niix references in ../shared/testdata/ref.

use std::path::{Path, PathBuf};

use crate::testdata::{assert_volume_matches, load_reference, read_dir_files, shared_testdata};

/// Every series folder with a `ref/<rel>/series.nii` counterpart, as `rel` paths.
fn reference_series(td: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![td.join("ref")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read ref dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "series.nii") {
                let rel = dir.strip_prefix(td.join("ref")).expect("under ref");
                out.push(rel.to_string_lossy().to_string());
            }
        }
    }
    out.sort();
    out
}

fn check_series(td: &Path, rel: &str) -> Result<(), String> {
    let dir = td.join(rel);
    // transfer-syntaxes/N is the single file transfer-syntaxes/N.dcm.
    let inputs = if dir.is_dir() {
        read_dir_files(&dir)
    } else {
        let file = dir.with_extension("dcm");
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        vec![(file, bytes)]
    };
    let files: Vec<imaging::DicomFile> = inputs
        .into_iter()
        .map(|(p, b)| imaging::parse(&b).map_err(|e| format!("{}: {e}", p.display())))
        .collect::<Result<_, _>>()?;
    let series = imaging::convert_series(files).map_err(|e| e.to_string())?;
    let [one] = &series[..] else {
        return Err(format!("{} series, expected 1", series.len()));
    };
    let reference = load_reference(td, rel, "series");
    if one.volumes.len() != reference.dims[3] {
        return Err(format!(
            "{} volumes, reference {}",
            one.volumes.len(),
            reference.dims[3]
        ));
    }
    std::panic::catch_unwind(|| {
        for (t, v) in one.volumes.iter().enumerate() {
            assert_volume_matches(v, &reference, t, &format!("{rel} volume {t}"));
        }
    })
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "assertion failed".into())
    })
}

#[test]
fn every_reference_series_matches_dcm2niix() {
    let Some(td) = shared_testdata() else { return };
    let all = reference_series(&td);
    assert!(all.len() >= 3, "found only {all:?}");
    let mut failures = Vec::new();
    for rel in &all {
        match check_series(&td, rel) {
            Ok(()) => eprintln!("PASS {rel}"),
            Err(e) => {
                eprintln!("FAIL {rel}: {}", e.lines().next().unwrap_or(""));
                failures.push(rel.clone());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "series not matching dcm2niix: {failures:?}"
    );
}

/// Streaming use: each file of the XA30 enhanced run converted alone, as it arrives,
/// gives the same volume as dcm2niix's whole-run conversion (mosaics are checked the
/// same way in mosaic.rs). Slice times are each volume's own, within a few ms of the
/// run-wide times dcm2niix takes from the second volume.
#[test]
fn each_enhanced_file_alone_matches_dcm2niix() {
    let Some(td) = shared_testdata() else { return };
    let rel = "siemens-xa30-enhanced/7_func-bold";
    let reference = load_reference(&td, rel, "series");
    let files = read_dir_files(&td.join(rel));
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
