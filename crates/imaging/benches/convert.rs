//! Benchmark: one Skyra E11 mosaic volume from bytes in memory, against dcm2niix.
//!
//! `cargo bench -p imaging --bench convert [-- FILE]` prints p50/p99 of parse alone, of
//! the whole conversion and of de-identification over many iterations, then (when
//! `dcm2niix` is on PATH) the wall time of dcm2niix converting the same single file,
//! and the ratio.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DEFAULT_FILE: &str =
    "../../../shared/testdata/siemens-mosaic-skyra-e11/001_000013_000003.dcm";
const ITERATIONS: usize = 2000;
const DCM2NIIX_RUNS: usize = 20;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_FILE));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    println!("file: {} ({} bytes)", path.display(), bytes.len());

    // BENCH_ITERATIONS lowers the count for profiling under valgrind.
    let iterations = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITERATIONS);
    let parse = test_support::time_runs(iterations, || {
        std::hint::black_box(imaging::parse(&bytes).expect("parse"));
    });
    report("imaging parse", &parse);
    let convert = test_support::time_runs(iterations, || {
        std::hint::black_box(imaging::volume_from_file(&bytes).expect("convert"));
    });
    report("imaging convert", &convert);
    // What the streamer adds before a volume leaves the control room.
    let mut session = imaging::deid::Deidentifier::new();
    let deidentify = test_support::time_runs(iterations, || {
        std::hint::black_box(session.deidentify(&bytes).expect("de-identify"));
    });
    report("imaging deidentify", &deidentify);
    let decode = test_support::time_runs(iterations, || {
        let file = imaging::parse(&bytes).expect("parse");
        std::hint::black_box(imaging::pixels::decode_frames(&file).expect("decode"));
    });
    report("  parse + decode", &decode);

    match time_dcm2niix(&path) {
        Some(runs) => {
            report("dcm2niix", &runs);
            let ratio =
                percentile(&runs, 50.0).as_secs_f64() / percentile(&convert, 50.0).as_secs_f64();
            println!("ratio dcm2niix p50 / imaging convert p50: {ratio:.0}x");
        }
        None => println!("dcm2niix: not on PATH, skipped (scripts/bench.sh installs it)"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[index]
}

fn report(what: &str, sorted: &[Duration]) {
    println!(
        "{what:<18} n={:<5} p50 {:>10.3} ms   p99 {:>10.3} ms",
        sorted.len(),
        percentile(sorted, 50.0).as_secs_f64() * 1e3,
        percentile(sorted, 99.0).as_secs_f64() * 1e3
    );
}

/// dcm2niix on a temp folder holding only this file, as a real-time pipeline would.
fn time_dcm2niix(path: &Path) -> Option<Vec<Duration>> {
    Command::new("dcm2niix").arg("-v").output().ok()?;
    let work = std::env::temp_dir().join(format!("imaging-bench-{}", std::process::id()));
    let input = work.join("in");
    let output = work.join("out");
    std::fs::create_dir_all(&input).ok()?;
    std::fs::create_dir_all(&output).ok()?;
    std::fs::copy(path, input.join("vol.dcm")).ok()?;
    let mut times = Vec::with_capacity(DCM2NIIX_RUNS);
    for _ in 0..DCM2NIIX_RUNS {
        let start = Instant::now();
        let status = Command::new("dcm2niix")
            .args(["-b", "y", "-z", "n", "-w", "1", "-f", "series", "-o"])
            .arg(&output)
            .arg(&input)
            .output()
            .ok()?;
        times.push(start.elapsed());
        assert!(status.status.success(), "dcm2niix failed");
    }
    let _ = std::fs::remove_dir_all(&work);
    times.sort();
    Some(times)
}
