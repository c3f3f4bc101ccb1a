//! test_support: what every crate's tests and benchmarks share. Only ever a
//! dev-dependency; nothing here ships in a binary.

use std::path::{Path, PathBuf};

pub mod bids_validator;
pub mod process;
pub mod proxy;
pub use bids_validator::{bids_validator, bids_validator_errors};
pub use process::ChildGuard;
pub use proxy::{Impairment, LinkState, Proxy, ProxyConfig};

/// `../shared/testdata` next to the repository (real scanner data, never copied into
/// the repo), or `None` so the test skips. Under CI=true a missing folder is a
/// failure, not a skip: CI must have it.
pub fn shared_testdata() -> Option<PathBuf> {
    shared_folder("testdata")
}

/// `../shared/imaging-cases` (real series showing one conversion fault kind each, with
/// dcm2niix references), like [`shared_testdata`].
pub fn shared_imaging_cases() -> Option<PathBuf> {
    shared_folder("imaging-cases")
}

/// `../shared/<name>`, or `None` (a failure under CI=true) when it is missing.
fn shared_folder(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(name);
    if dir.is_dir() {
        return Some(dir.canonicalize().expect("canonical shared path"));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "../shared/{name} is missing at {}: CI must have it",
            dir.display()
        );
    }
    eprintln!("skipping: ../shared/{name} not found at {}", dir.display());
    None
}

/// A benchmark setting from the environment (e.g. BENCH_VOLUMES), or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p`-quantile (0..=1, nearest rank) of sorted values; NaN when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The Python of the tests' venv (target/pyenv, made by scripts/setup_python.sh) when
/// `module` imports there, or `None` so the test skips. Under CI=true a missing venv or
/// module is a failure: CI runs scripts/setup_python.sh first.
pub fn test_python_with(module: &str) -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    let ok = python.exists()
        && std::process::Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} cannot import {module}: CI runs scripts/setup_python.sh first",
            python.display()
        );
    }
    eprintln!(
        "skipping: {} cannot import {module} (run scripts/setup_python.sh)",
        python.display()
    );
    None
}

/// Pearson correlation of two series of the same length.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Benchmarks: runs `f` a tenth of `iterations` times to warm caches and the allocator,
/// then `iterations` times timed; the durations, sorted.
pub fn time_runs(iterations: usize, mut f: impl FnMut()) -> Vec<std::time::Duration> {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut times: Vec<std::time::Duration> = (0..iterations)
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}
