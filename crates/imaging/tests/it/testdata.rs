//! Access to ../shared/testdata (real scanner data) and its dcm2niix references.
//!
//! Under CI=true a missing ../shared is a failure, not a skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use imaging::Volume;
use ndarray::{ArrayD, Axis};
use nifti::{IntoNdArray, NiftiObject, ReaderOptions};

pub use test_support::shared_testdata;

/// Every regular file directly inside `dir`, sorted by name, with its bytes.
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "dcm"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// A dcm2niix reference conversion: `ref/<rel>/<stem>.nii` and `.json`.
#[derive(Debug)]
pub struct Reference {
    /// (nx, ny, nz, nt); nt = 1 for 3D files.
    pub dims: [usize; 4],
    /// Voxels as f64 with shape `dims` (scaling from scl_slope/inter applied).
    pub data: ArrayD<f64>,
    pub sform: [[f64; 4]; 4],
    pub qform_code: i16,
    pub sform_code: i16,
    pub pixdim: [f32; 8],
    pub datatype: i16,
    pub json: serde_json::Value,
}

impl Reference {
    pub fn tr(&self) -> Option<f64> {
        self.json.get("RepetitionTime").and_then(|v| v.as_f64())
    }

    pub fn slice_timing(&self) -> Option<Vec<f64>> {
        let values = self.json.get("SliceTiming")?.as_array()?;
        values.iter().map(|v| v.as_f64()).collect()
    }
}

/// Loads `ref/<rel>/<stem>.nii` (+ `.json`) from the shared test data.
pub fn load_reference(testdata: &Path, rel: &str, stem: &str) -> Reference {
    let dir = testdata.join("ref").join(rel);
    let nii = dir.join(format!("{stem}.nii"));
    let obj = ReaderOptions::new()
        .read_file(&nii)
        .unwrap_or_else(|e| panic!("read {}: {e}", nii.display()));
    let h = obj.header().clone();
    let data = obj
        .into_volume()
        .into_ndarray::<f64>()
        .unwrap_or_else(|e| panic!("voxels of {}: {e}", nii.display()));
    let mut dims = [1usize; 4];
    for (d, n) in dims.iter_mut().zip(data.shape()) {
        *d = *n;
    }
    let data = match data.ndim() {
        3 => data.insert_axis(Axis(3)),
        4 => data,
        n => panic!("{}: {n}-dimensional reference", nii.display()),
    };
    let sform = [
        h.srow_x.map(f64::from),
        h.srow_y.map(f64::from),
        h.srow_z.map(f64::from),
        [0.0, 0.0, 0.0, 1.0],
    ];
    let json_path = dir.join(format!("{stem}.json"));
    let json = std::fs::read(&json_path)
        .map(|b| serde_json::from_slice(&b).expect("reference JSON parses"))
        .unwrap_or(serde_json::Value::Null);
    Reference {
        dims,
        data,
        sform,
        qform_code: h.qform_code,
        sform_code: h.sform_code,
        pixdim: h.pixdim,
        datatype: h.datatype,
        json,
    }
}

/// Asserts that `vol` equals volume `t` of `reference`: shape, every voxel, affine
/// within 1e-3 mm, TR and slice timing within 1e-4 s.
pub fn assert_volume_matches(vol: &Volume, reference: &Reference, t: usize, label: &str) {
    let [nx, ny, nz, nt] = reference.dims;
    assert!(t < nt, "{label}: reference has {nt} volumes, asked for {t}");
    assert_eq!(vol.voxels.shape(), [nx, ny, nz], "{label}: shape");
    let mut mismatches = 0usize;
    let mut first = None;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let ours = vol.voxels.get_f64([i, j, k]).expect("in bounds");
                let theirs = reference.data[[i, j, k, t]];
                if (ours - theirs).abs() > 1e-6 * theirs.abs().max(1.0) {
                    mismatches += 1;
                    first.get_or_insert((i, j, k, ours, theirs));
                }
            }
        }
    }
    assert_eq!(
        mismatches, 0,
        "{label}: {mismatches} voxels differ, first (i,j,k,ours,ref) = {first:?}"
    );
    for r in 0..3 {
        for c in 0..4 {
            let (a, b) = (vol.affine[r][c], reference.sform[r][c]);
            assert!(
                (a - b).abs() <= 1e-3,
                "{label}: affine[{r}][{c}] = {a}, reference {b}\nours {:?}\nref  {:?}",
                vol.affine,
                reference.sform
            );
        }
    }
    if let Some(tr) = reference.tr() {
        let ours = vol.tr_s.unwrap_or(f64::NAN);
        assert!(
            (ours - tr).abs() <= 1e-4,
            "{label}: TR {ours}, reference {tr}"
        );
    }
    if let Some(st) = reference.slice_timing() {
        assert_eq!(
            vol.slice_timing_s.len(),
            st.len(),
            "{label}: slice timing length {:?} vs {st:?}",
            vol.slice_timing_s
        );
        for (a, b) in vol.slice_timing_s.iter().zip(&st) {
            assert!(
                (a - b).abs() <= 1e-4,
                "{label}: slice timing {:?}, reference {st:?}",
                vol.slice_timing_s
            );
        }
    }
}

#[test]
fn references_load() {
    let Some(td) = shared_testdata() else { return };
    let r = load_reference(&td, "siemens-mosaic-skyra-e11", "series");
    assert_eq!(r.dims, [64, 64, 27, 10]);
    assert!(r.tr().is_some_and(|tr| (tr - 1.5).abs() < 1e-9));
}
