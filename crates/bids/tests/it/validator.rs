//! Must show (issue 11): a dataset written from real scanner runs (../shared/testdata,
//! streamed file by file through the imaging crate) and from a synthetic run passes the
//! official validator (npm bids-validator, pinned in tests/bids, installed by
//! scripts/setup_bids.sh) without errors; its images are voxel-identical to dcm2niix's
//! and its sidecars agree with dcm2niix's on RepetitionTime, SliceTiming, EchoTime,
//! FlipAngle and PhaseEncodingDirection, exactly.

use std::path::{Path, PathBuf};

use bids::archive::raw_description;
use bids::nifti_read::read_nifti;
use bids::{BidsArchive, BidsIncremental, BidsRun, EntitySource};
use serde_json::Value;
use test_support::{bids_validator, bids_validator_errors};

use crate::common::{arguments, synthetic_run};

/// The series of this shared folder are the real runs of the test (one subject, one
/// run each); every one has a dcm2niix reference in `ref/`.
const REAL_SERIES: &str = "siemens-mosaic-d13";

/// The sidecar fields compared with dcm2niix's.
const COMPARED: [&str; 5] = [
    "RepetitionTime",
    "SliceTiming",
    "EchoTime",
    "FlipAngle",
    "PhaseEncodingDirection",
];

/// compare_nifti.py's affine agreement, mm (the reference tool's definition).
const AFFINE_TOLERANCE_MM: f64 = 1e-3;

/// The DICOM files of one series folder, in name order (the scanner's order).
fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("series folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    files.sort();
    files
}

/// A real series streamed as the analyser receives it: file by file, each converted
/// alone and appended.
fn real_run(dir: &Path, args: &EntitySource) -> BidsRun {
    let mut run = BidsRun::new();
    for file in dicom_files(dir) {
        let bytes = std::fs::read(&file).expect("read DICOM");
        let volume =
            imaging::volume_from_file(&bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let inc = BidsIncremental::from_volume(volume, args, &EntitySource::default())
            .expect("complete entities");
        run.append(inc).expect("fits the run");
    }
    run
}

/// Our run in the dataset against dcm2niix's NIfTI and JSON; Err names what differs.
fn compare_with_dcm2niix(
    archive: &BidsArchive,
    run: &bids::Entities,
    reference: &Path,
) -> Result<(), String> {
    let ours_path = archive.image_path(run).ok_or("image missing")?;
    let ours = read_nifti(
        &std::fs::read(&ours_path).map_err(|e| e.to_string())?,
        1 << 30,
    )
    .map_err(|e| e.to_string())?;
    let theirs = read_nifti(
        &std::fs::read(reference.join("series.nii")).map_err(|e| e.to_string())?,
        1 << 30,
    )
    .map_err(|e| e.to_string())?;
    if ours.volumes.len() != theirs.volumes.len() {
        return Err(format!(
            "{} volumes, dcm2niix {}",
            ours.volumes.len(),
            theirs.volumes.len()
        ));
    }
    for (t, (a, b)) in ours.volumes.iter().zip(&theirs.volumes).enumerate() {
        if a.voxels.dtype_name() != b.voxels.dtype_name() {
            return Err(format!(
                "volume {t}: {} voxels, dcm2niix {}",
                a.voxels.dtype_name(),
                b.voxels.dtype_name()
            ));
        }
        let [nx, ny, nz] = b.voxels.shape();
        if a.voxels.shape() != [nx, ny, nz] {
            return Err(format!(
                "volume {t}: shape {:?}, dcm2niix {:?}",
                a.voxels.shape(),
                [nx, ny, nz]
            ));
        }
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let (x, y) = (a.value_f64([i, j, k]), b.value_f64([i, j, k]));
                    if x != y {
                        return Err(format!(
                            "volume {t} voxel ({i}, {j}, {k}): {x:?}, dcm2niix {y:?}"
                        ));
                    }
                }
            }
        }
        for r in 0..3 {
            for c in 0..4 {
                let (x, y) = (a.affine[r][c], b.affine[r][c]);
                if (x - y).abs() > AFFINE_TOLERANCE_MM {
                    return Err(format!("affine[{r}][{c}] {x}, dcm2niix {y}"));
                }
            }
        }
    }
    let sidecar = ours_path.to_string_lossy().replace(".nii.gz", ".json");
    let ours: Value = serde_json::from_slice(&std::fs::read(sidecar).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let theirs: Value = serde_json::from_slice(
        &std::fs::read(reference.join("series.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    for field in COMPARED {
        let Some(want) = theirs.get(field) else {
            continue;
        };
        let got = ours
            .get(field)
            .ok_or(format!("{field} missing (dcm2niix {want})"))?;
        if !same_value(got, want) {
            return Err(format!("{field}: ours {got}, dcm2niix {want}"));
        }
    }
    Ok(())
}

/// Equal strings, or numbers (also in lists) equal as f64: 90 and 90.0 are the same.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[test]
fn real_and_synthetic_runs_make_a_valid_dataset_identical_to_dcm2niix() {
    let Some(shared) = test_support::shared_testdata() else {
        return;
    };
    let Some(validator) = bids_validator() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("dataset");
    let archive = BidsArchive::open_or_new(&root, raw_description("rtcloud-rs test")).expect("new");

    let series_root = shared.join(REAL_SERIES);
    let mut series: Vec<String> = std::fs::read_dir(shared.join("ref").join(REAL_SERIES))
        .expect("references")
        .flatten()
        .filter(|e| e.path().join("series.nii").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    series.sort();
    assert!(series.len() >= 2, "real series: {series:?}");
    let mut real = Vec::new();
    for (n, name) in series.iter().enumerate() {
        let args = arguments("01", "rest", &format!("{:02}", n + 1));
        let run = real_run(&series_root.join(name), &args);
        archive.append_run(&run, None).expect("appends");
        real.push((name.clone(), run.entities().expect("entities").clone()));
    }
    archive
        .append_run(&synthetic_run(&arguments("synth", "faces", "01"), 4), None)
        .expect("appends");

    let archive = BidsArchive::open(&root).expect("opens");
    assert_eq!(archive.subjects().expect("lists"), ["01", "synth"]);
    let errors = bids_validator_errors(&validator, &root, dir.path());
    assert!(errors.is_empty(), "bids-validator errors: {errors:#?}");
    // The validator does look: a run without its sidecar's RepetitionTime is an error.
    let broken = dir.path().join("broken");
    let archive_copy = BidsArchive::open_or_new(&broken, raw_description("broken")).expect("new");
    let image = archive_copy
        .append_run(&synthetic_run(&arguments("synth", "faces", "01"), 2), None)
        .expect("appends");
    let sidecar = image.to_string_lossy().replace(".nii.gz", ".json");
    let mut json: Value =
        serde_json::from_slice(&std::fs::read(&sidecar).expect("sidecar")).expect("JSON");
    json.as_object_mut()
        .expect("object")
        .remove("RepetitionTime");
    std::fs::write(&sidecar, json.to_string()).expect("rewrite sidecar");
    let errors = bids_validator_errors(&validator, &broken, dir.path());
    assert!(
        !errors.is_empty(),
        "the validator found nothing wrong with {}",
        broken.display()
    );

    let mut problems = Vec::new();
    for (name, entities) in &real {
        let reference = shared.join("ref").join(REAL_SERIES).join(name);
        if let Err(why) = compare_with_dcm2niix(&archive, entities, &reference) {
            problems.push(format!("{name}: {why}"));
        }
    }
    assert!(
        problems.is_empty(),
        "differences from dcm2niix:\n{}",
        problems.join("\n")
    );
}
