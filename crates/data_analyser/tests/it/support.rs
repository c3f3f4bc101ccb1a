//! Running the binary, reading NIfTI files back, and the shared test data.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use ndarray::{ArrayD, Axis};
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};

/// Runs data_analyser with `args` and returns its output (never panics on failure).
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_data_analyser"))
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("data_analyser starts")
}

/// Runs data_analyser and asserts success, printing its output when it fails.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "data_analyser {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A NIfTI file read back: header and voxels as f64 with shape (nx, ny, nz, nt).
pub fn read_nifti(path: &Path) -> (NiftiHeader, ArrayD<f64>) {
    let obj = ReaderOptions::new()
        .read_file(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let header = obj.header().clone();
    let data = obj
        .into_volume()
        .into_ndarray::<f64>()
        .unwrap_or_else(|e| panic!("voxels of {}: {e}", path.display()));
    let data = if data.ndim() == 3 {
        data.insert_axis(Axis(3))
    } else {
        data
    };
    (header, data)
}

pub use test_support::{correlation, shared_testdata};

/// `ground_truth.json` of a synthetic run.
pub fn ground_truth(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("ground_truth.json")).expect("ground_truth.json");
    serde_json::from_slice(&bytes).expect("ground truth parses")
}

pub fn numbers(v: &serde_json::Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn roi(v: &serde_json::Value) -> ([usize; 3], [usize; 3]) {
    let get = |key: &str| {
        let a = numbers(v, key);
        [a[0] as usize, a[1] as usize, a[2] as usize]
    };
    (get("roi_voxel_min"), get("roi_voxel_max"))
}
