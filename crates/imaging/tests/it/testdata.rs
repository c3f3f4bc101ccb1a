//! The shared real data (../shared/testdata and ../shared/imaging-cases), their dcm2niix
//! references, and the exact comparison with them: the checks of
//! ../shared/tools/compare_nifti.py (same data type, every voxel equal after casting
//! both to f64 with the header scaling applied, sform within 1e-3 mm, TR within 1e-4 s).
//!
//! Under CI=true a missing ../shared folder is a failure, not a skip.
//! [`reference_cases`] is the one walk over both folders; every test that checks
//! conversions against dcm2niix (NIfTI here, sidecars elsewhere) starts from it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use imaging::{Scaling, Volume, Voxels};
use ndarray::{Array4, ArrayD, ShapeBuilder};

pub use test_support::{shared_imaging_cases, shared_testdata};

/// AFFINE: sform agreement (mm); TR: pixdim[4] agreement (s). The values compare_nifti.py uses.
pub const AFFINE_TOLERANCE_MM: f64 = 1e-3;
pub const TR_TOLERANCE_S: f64 = 1e-4;

/// Every file of `dir` that dcm2niix would look at (extension `.dcm` or none; the
/// folders also hold READMEs and other tools' NIfTI), sorted by name, with its bytes.
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.is_file() && is_dicom_name(p))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| (p.clone(), read(&p))).collect()
}

fn is_dicom_name(p: &Path) -> bool {
    let hidden = p
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    !hidden && p.extension().is_none_or(|ext| ext == "dcm")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The shared folders that hold series with dcm2niix references (both, when present).
pub fn shared_roots() -> Vec<PathBuf> {
    [shared_testdata(), shared_imaging_cases()]
        .into_iter()
        .flatten()
        .collect()
}

/// One dcm2niix reference conversion, `<root>/ref/<rel>/<stem>.nii` (+ `.json`), and
/// the DICOM files it was made from.
#[derive(Debug, Clone)]
pub struct Case {
    pub root: PathBuf,
    pub rel: String,
    pub stem: String,
    pub inputs: Vec<PathBuf>,
}

impl Case {
    /// "imaging-cases/siemens-12bit/signed" (plus "/<stem>" unless the stem is "series").
    pub fn label(&self) -> String {
        let root = self
            .root
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().to_string());
        if self.stem == "series" {
            format!("{root}/{}", self.rel)
        } else {
            format!("{root}/{}/{}", self.rel, self.stem)
        }
    }

    pub fn reference(&self) -> Reference {
        load_reference(&self.root, &self.rel, &self.stem)
    }

    /// The input files with their bytes, in name order.
    pub fn read_inputs(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.inputs.iter().map(|p| (p.clone(), read(p))).collect()
    }

    /// The inputs parsed; the first that does not parse is the error.
    pub fn parse_inputs(&self) -> Result<Vec<imaging::DicomFile>, String> {
        self.read_inputs()
            .into_iter()
            .map(|(p, b)| imaging::parse(&b).map_err(|e| format!("{}: {e}", p.display())))
            .collect()
    }

    /// The whole-series conversion: the volumes of the one series the inputs hold.
    pub fn convert(&self) -> Result<Vec<Volume>, String> {
        let series = imaging::convert_series(self.parse_inputs()?).map_err(|e| e.to_string())?;
        match <[imaging::Series; 1]>::try_from(series) {
            Ok([one]) => Ok(one.volumes),
            Err(all) => Err(format!("{} series, expected 1", all.len())),
        }
    }
}

/// Every reference NIfTI under `ref/` of both shared folders, sorted. Inputs: for
/// `series.nii`, every DICOM file of the folder `<rel>` (or the one file `<rel>.dcm`);
/// for `vol_<x>.nii`, the one file of `<rel>` whose name ends with `<x>`.
pub fn reference_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for root in shared_roots() {
        let refs = root.join("ref");
        let mut stack = vec![refs.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read ref dir").flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "nii") {
                    let rel = dir.strip_prefix(&refs).expect("under ref");
                    let rel = rel.to_string_lossy().to_string();
                    let stem = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let inputs = case_inputs(&root, &rel, &stem);
                    cases.push(Case {
                        root: root.clone(),
                        rel,
                        stem,
                        inputs,
                    });
                }
            }
        }
    }
    cases.sort_by_key(|c| c.label());
    cases
}

fn case_inputs(root: &Path, rel: &str, stem: &str) -> Vec<PathBuf> {
    let dir = root.join(rel);
    if !dir.is_dir() {
        return vec![dir.with_extension("dcm")];
    }
    let all: Vec<PathBuf> = read_dir_files(&dir).into_iter().map(|(p, _)| p).collect();
    match stem.strip_prefix("vol_") {
        None => all,
        Some(tail) => {
            let one: Vec<PathBuf> = all
                .into_iter()
                .filter(|p| {
                    p.file_stem()
                        .is_some_and(|s| s.to_string_lossy().ends_with(tail))
                })
                .collect();
            assert_eq!(one.len(), 1, "{rel}/{stem}: inputs {one:?}");
            one
        }
    }
}

/// A NIfTI-1 file read the way nibabel reads it for compare_nifti.py.
#[derive(Debug)]
pub struct Nifti {
    /// (nx, ny, nz, nt); nt = 1 for 3D files.
    pub dims: [usize; 4],
    pub datatype: i16,
    /// scl_slope / scl_inter as stored (nibabel ignores a zero or non-finite slope).
    pub scaling: Scaling,
    /// Voxels as f64, scaling applied, shape `dims`.
    pub data: ArrayD<f64>,
    pub sform: [[f64; 4]; 4],
    pub qform_code: i16,
    pub sform_code: i16,
    pub pixdim: [f32; 8],
}

/// The NIfTI datatype names `Voxels::from_le_bytes` reads.
fn dtype_name(datatype: i16) -> &'static str {
    match datatype {
        4 => "int16",
        512 => "uint16",
        16 => "float32",
        other => panic!("NIfTI datatype {other} not expected in the references"),
    }
}

/// Parses an uncompressed little-endian NIfTI-1 (`.nii`) from bytes.
pub fn read_nifti(b: &[u8], label: &str) -> Nifti {
    assert!(b.len() >= 352, "{label}: shorter than a NIfTI-1 header");
    let i16_at = |at: usize| i16::from_le_bytes([b[at], b[at + 1]]);
    let f32_at = |at: usize| f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    assert_eq!(
        i32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        348,
        "{label}: sizeof_hdr"
    );
    let ndim = i16_at(40).clamp(1, 7) as usize;
    let mut dims = [1usize; 4];
    for (n, d) in dims.iter_mut().enumerate().take(ndim.min(4)) {
        *d = i16_at(42 + 2 * n).max(1) as usize;
    }
    assert!(ndim <= 4, "{label}: {ndim}-dimensional NIfTI");
    let datatype = i16_at(70);
    let (slope, inter) = (f32_at(112), f32_at(116));
    // nibabel: a zero or non-finite slope means "no scaling".
    let scaling = if slope == 0.0 || !slope.is_finite() {
        Scaling::IDENTITY
    } else {
        Scaling {
            slope,
            inter: if inter.is_finite() { inter } else { 0.0 },
        }
    };
    let offset = f32_at(108) as usize;
    let [nx, ny, nz, nt] = dims;
    let per_volume = nx * ny * nz;
    let width = match datatype {
        16 => 4,
        _ => 2,
    };
    let mut values = Vec::with_capacity(per_volume * nt);
    for t in 0..nt {
        let at = offset + t * per_volume * width;
        let bytes = b
            .get(at..at + per_volume * width)
            .unwrap_or_else(|| panic!("{label}: voxel data cut short"));
        let voxels = Voxels::from_le_bytes([nx, ny, nz], dtype_name(datatype), bytes)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        // from_le_bytes returns Fortran order: memory order is the file order.
        match &voxels {
            Voxels::I16(a) => values.extend(a.t().iter().map(|&v| scaling.apply(f64::from(v)))),
            Voxels::U16(a) => values.extend(a.t().iter().map(|&v| scaling.apply(f64::from(v)))),
            Voxels::F32(a) => values.extend(a.t().iter().map(|&v| scaling.apply(f64::from(v)))),
        }
    }
    let data = Array4::from_shape_vec((nx, ny, nz, nt).f(), values)
        .expect("voxel count matches the dims")
        .into_dyn();
    let row = |at: usize| {
        [
            f64::from(f32_at(at)),
            f64::from(f32_at(at + 4)),
            f64::from(f32_at(at + 8)),
            f64::from(f32_at(at + 12)),
        ]
    };
    Nifti {
        dims,
        datatype,
        scaling,
        data,
        sform: [row(280), row(296), row(312), [0.0, 0.0, 0.0, 1.0]],
        qform_code: i16_at(252),
        sform_code: i16_at(254),
        pixdim: std::array::from_fn(|n| f32_at(76 + 4 * n)),
    }
}

/// A dcm2niix reference: its NIfTI and its sidecar.
#[derive(Debug)]
pub struct Reference {
    pub dims: [usize; 4],
    /// Voxels as f64 with shape `dims` (scaling from scl_slope/inter applied).
    pub data: ArrayD<f64>,
    pub sform: [[f64; 4]; 4],
    pub qform_code: i16,
    pub sform_code: i16,
    pub pixdim: [f32; 8],
    pub datatype: i16,
    pub nifti: Nifti,
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

/// Loads `ref/<rel>/<stem>.nii` (+ `.json`) from the shared folder `root`.
pub fn load_reference(root: &Path, rel: &str, stem: &str) -> Reference {
    let dir = root.join("ref").join(rel);
    let path = dir.join(format!("{stem}.nii"));
    let nifti = read_nifti(&read(&path), &path.display().to_string());
    let json_path = dir.join(format!("{stem}.json"));
    let json = std::fs::read(&json_path)
        .map(|b| serde_json::from_slice(&b).expect("reference JSON parses"))
        .unwrap_or(serde_json::Value::Null);
    Reference {
        dims: nifti.dims,
        data: nifti.data.clone(),
        sform: nifti.sform,
        qform_code: nifti.qform_code,
        sform_code: nifti.sform_code,
        pixdim: nifti.pixdim,
        datatype: nifti.datatype,
        nifti,
        json,
    }
}

/// compare_nifti.py in Rust: `ours` (a NIfTI we wrote) against the reference, volume
/// by volume. Err names the first check that failed.
pub fn compare_nifti(ours: &Nifti, reference: &Nifti) -> Result<(), String> {
    if ours.dims != reference.dims {
        return Err(format!(
            "shape {:?}, reference {:?}",
            ours.dims, reference.dims
        ));
    }
    if ours.datatype != reference.datatype {
        return Err(format!(
            "NIfTI datatype {}, reference {}",
            ours.datatype, reference.datatype
        ));
    }
    let differing = ours
        .data
        .iter()
        .zip(reference.data.iter())
        .filter(|(a, b)| a != b)
        .count();
    if differing > 0 {
        let first = ours
            .data
            .indexed_iter()
            .zip(reference.data.iter())
            .find(|((_, a), b)| a != b)
            .map(|((ix, a), b)| format!("{ix:?}: {a} vs {b}"));
        return Err(format!(
            "{differing} voxels differ after scaling, first {}",
            first.unwrap_or_default()
        ));
    }
    check_affine(&ours.sform, &reference.sform)?;
    let (a, b) = (f64::from(ours.pixdim[4]), f64::from(reference.pixdim[4]));
    if (a - b).abs() > TR_TOLERANCE_S {
        return Err(format!("TR (pixdim[4]) {a}, reference {b}"));
    }
    Ok(())
}

fn check_affine(ours: &[[f64; 4]; 4], reference: &[[f64; 4]; 4]) -> Result<(), String> {
    for r in 0..3 {
        for c in 0..4 {
            let (a, b) = (ours[r][c], reference[r][c]);
            let close = (a - b).abs() <= AFFINE_TOLERANCE_MM; // false for a NaN too
            if !close {
                return Err(format!(
                    "affine[{r}][{c}] = {a}, reference {b}\nours {ours:?}\nref  {reference:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The volumes written as one NIfTI the way the data analyser writes a run, read back.
pub fn written(volumes: &[Volume]) -> Result<Nifti, String> {
    let (first, rest) = volumes.split_first().ok_or("no volumes")?;
    let mut run = imaging::run::Run::new(first.clone());
    for v in rest {
        run.push(v.clone()).map_err(|e| e.to_string())?;
    }
    let bytes = run.to_nifti(false).map_err(|e| e.to_string())?;
    Ok(read_nifti(&bytes, "ours"))
}

/// Asserts that `vol` equals volume `t` of `reference`: the data type, every voxel after
/// scaling (exactly), affine within 1e-3 mm, TR and slice timing within 1e-4 s.
pub fn assert_volume_matches(vol: &Volume, reference: &Reference, t: usize, label: &str) {
    let [nx, ny, nz, nt] = reference.dims;
    assert!(t < nt, "{label}: reference has {nt} volumes, asked for {t}");
    assert_eq!(vol.voxels.shape(), [nx, ny, nz], "{label}: shape");
    assert_eq!(
        imaging::nifti_write::datatype_of(&vol.voxels),
        reference.datatype,
        "{label}: NIfTI datatype ({})",
        vol.voxels.dtype_name()
    );
    let mut mismatches = 0usize;
    let mut first = None;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let ours = vol.value_f64([i, j, k]).expect("in bounds");
                let theirs = reference.data[[i, j, k, t]];
                if ours != theirs {
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
    if let Err(e) = check_affine(&vol.affine, &reference.sform) {
        panic!("{label}: {e}");
    }
    if let Some(tr) = reference.tr() {
        let ours = vol.tr_s.unwrap_or(f64::NAN);
        assert!(
            (ours - tr).abs() <= TR_TOLERANCE_S,
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
                (a - b).abs() <= TR_TOLERANCE_S,
                "{label}: slice timing {:?}, reference {st:?}",
                vol.slice_timing_s
            );
        }
    }
}

#[test]
fn references_load_from_both_folders() {
    let Some(td) = shared_testdata() else { return };
    let r = load_reference(&td, "siemens-mosaic-skyra-e11", "series");
    assert_eq!(r.dims, [64, 64, 27, 10]);
    assert!(r.tr().is_some_and(|tr| (tr - 1.5).abs() < 1e-9));
    let cases = reference_cases();
    if shared_imaging_cases().is_some() {
        // 23 references in testdata (22 series + one single file), 9 in imaging-cases.
        assert_eq!(
            cases.len(),
            32,
            "{:?}",
            cases.iter().map(Case::label).collect::<Vec<_>>()
        );
    }
    for case in &cases {
        assert!(!case.inputs.is_empty(), "{}: no inputs", case.label());
    }
}
