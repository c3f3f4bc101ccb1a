//! Every BIDS sidecar against dcm2niix's, over both shared folders: the checks of
//! ../shared/tools/compare_sidecars.py (RepetitionTime, EchoTime and SliceTiming within
//! 1e-4 s, FlipAngle within 1e-3 degrees, PhaseEncodingDirection and
//! MultibandAccelerationFactor exactly), for every field the reference has.
//!
//! The sidecar is the one the data analyser writes: the run's (`Run::sidecar`), built by
//! pushing the series' volumes one by one as a stream would.

use imaging::run::Run;
use imaging::synth::{Synth, SynthSpec};
use serde_json::Value;

use crate::testdata::{reference_cases, Case};

/// compare_sidecars.py's fields and tolerances (`None`: must be equal).
const FIELDS: [(&str, Option<f64>); 6] = [
    ("RepetitionTime", Some(1e-4)),
    ("EchoTime", Some(1e-4)),
    ("FlipAngle", Some(1e-3)),
    ("SliceTiming", Some(1e-4)),
    ("PhaseEncodingDirection", None),
    ("MultibandAccelerationFactor", None),
];

/// How `ours` differs from `reference` on `field`, or `None` when they agree.
fn differs(ours: &Value, reference: &Value, tolerance: Option<f64>) -> Option<String> {
    let Some(tol) = tolerance else {
        return (ours != reference).then(|| format!("ours {ours} ref {reference}"));
    };
    let close = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() <= tol,
        _ => false,
    };
    match (ours, reference) {
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{} values, ref {}", a.len(), b.len()));
            }
            let bad: Vec<usize> = (0..a.len()).filter(|&i| !close(&a[i], &b[i])).collect();
            let &i = bad.first()?;
            Some(format!(
                "{} of {} differ (first: [{i}] ours {} ref {})",
                bad.len(),
                b.len(),
                a[i],
                b[i]
            ))
        }
        (Value::Array(_), _) | (_, Value::Array(_)) => Some(format!("ours {ours} ref {reference}")),
        _ => (!close(ours, reference)).then(|| format!("ours {ours} ref {reference}")),
    }
}

/// Every field of `reference` that `ours` lacks or gets wrong, one line each; beyond
/// compare_sidecars.py, Manufacturer too (dcm2niix's short names, "Siemens").
fn compare(ours: &Value, reference: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let checked = FIELDS.into_iter().chain([("Manufacturer", None)]);
    for (field, tolerance) in checked {
        let Some(theirs) = reference.get(field) else {
            continue;
        };
        match ours.get(field) {
            None => problems.push(format!("{field}: missing (ref {theirs})")),
            Some(mine) => {
                if let Some(why) = differs(mine, theirs, tolerance) {
                    problems.push(format!("{field}: MISMATCH {why}"));
                }
            }
        }
    }
    problems
}

/// The run sidecar of `case`'s whole-series conversion, volumes pushed in order.
fn run_sidecar(case: &Case) -> Result<Value, String> {
    let mut volumes = case.convert()?.into_iter();
    let first = volumes.next().ok_or("no volumes")?;
    let mut run = Run::new(first);
    for volume in volumes {
        run.push(volume).map_err(|e| e.to_string())?;
    }
    Ok(run.sidecar())
}

fn reference_sidecar(case: &Case) -> Value {
    let path = case
        .root
        .join("ref")
        .join(&case.rel)
        .join(format!("{}.json", case.stem));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_sidecar_matches_dcm2niix() {
    let cases = reference_cases();
    if cases.is_empty() {
        return; // ../shared is absent (a failure under CI=true, in reference_cases)
    }
    let series = cases.iter().filter(|c| c.stem == "series").count();
    assert!(series >= 31, "found only {series} series");
    let mut failures = Vec::new();
    for case in &cases {
        let label = case.label();
        let problems = match run_sidecar(case) {
            Ok(ours) => compare(&ours, &reference_sidecar(case)),
            Err(e) => vec![format!("conversion failed: {e}")],
        };
        if problems.is_empty() {
            eprintln!("PASS {label}");
        } else {
            eprintln!("FAIL {label}: {}", problems.join("; "));
            failures.push(label);
        }
    }
    assert!(
        failures.is_empty(),
        "sidecars not matching dcm2niix: {failures:?}"
    );
}

#[test]
fn the_comparison_catches_each_kind_of_difference() {
    let reference = serde_json::json!({
        "RepetitionTime": 2.0, "EchoTime": 0.03, "FlipAngle": 90,
        "SliceTiming": [0.0, 0.5], "PhaseEncodingDirection": "j-",
        "MultibandAccelerationFactor": 3
    });
    assert!(compare(&reference, &reference).is_empty());
    let mut ours = reference.clone();
    ours["RepetitionTime"] = serde_json::json!(2.0002);
    ours["SliceTiming"] = serde_json::json!([0.0, 0.5, 1.0]);
    ours["PhaseEncodingDirection"] = serde_json::json!("j");
    ours.as_object_mut()
        .map(|o| o.remove("MultibandAccelerationFactor"));
    let problems = compare(&ours, &reference);
    assert_eq!(problems.len(), 4, "{problems:?}");
    // Fields only we write are not errors (compare_sidecars.py calls them "extra").
    let mut extra = reference.clone();
    extra["DelayTime"] = serde_json::json!(0.1);
    assert!(compare(&extra, &reference).is_empty());
}

/// Streaming, dcm2niix's rule for Siemens slice times (its issues 126 and 870): when
/// the first volume's times do not fit in the TR, the run's sidecar shows none of them
/// until volume 2 arrives, and then the second volume's times and multiband factor.
#[test]
fn a_streamed_run_takes_the_second_volumes_slice_times_when_the_firsts_do_not_fit() {
    let spec = SynthSpec {
        volumes: 3,
        matrix: 16,
        slices: 6,
        ..SynthSpec::default()
    };
    let synth = Synth::new(spec).expect("valid spec");
    let volume = |i: usize| {
        let file = synth.file(i).expect("synthetic file");
        imaging::volume_from_file(&file.bytes).expect("synthetic mosaic converts")
    };
    let mut first = volume(0);
    let good = first.slice_timing_s.clone();
    let written = synth.slice_timing_s();
    assert_eq!(good.len(), written.len());
    assert!(
        good.iter().zip(&written).all(|(a, b)| (a - b).abs() < 1e-6),
        "synthetic times come back: {good:?} vs {written:?}"
    );
    // A first volume whose times run past the TR (2 s), as some Siemens first volumes do.
    first.slice_timing_s = good.iter().map(|t| t * 3.0).collect();
    let mut run = Run::new(first);
    let bogus = run.sidecar()["SliceTiming"].clone();
    run.push(volume(1)).expect("second volume fits the run");
    let sidecar = run.sidecar();
    let times: Vec<f64> = sidecar["SliceTiming"]
        .as_array()
        .expect("SliceTiming written")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_ne!(sidecar["SliceTiming"], bogus);
    assert_eq!(times.len(), good.len());
    for (ours, want) in times.iter().zip(&good) {
        assert!((ours - want).abs() < 1e-6, "{times:?} vs {good:?}");
    }
    // Times that fit are kept: volume 3 changes nothing.
    run.push(volume(2)).expect("third volume fits the run");
    assert_eq!(run.sidecar()["SliceTiming"], sidecar["SliceTiming"]);
}
