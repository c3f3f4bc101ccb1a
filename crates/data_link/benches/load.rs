//! Sustained load: several streamers (scanners) at once, each writing a multiband-sized
//! mosaic (96x96x72, about 1.5 MB) every 0.5 s, through the real stack (inotify,
//! de-identification, TLS + HTTP/2 on loopback) into one analyser that takes every
//! volume as it comes. Prints, per streamer, p50/p99/max of close -> held in analyser
//! and whether it fell behind (its last volumes slower than a TR). Asserts nothing.
//!
//! `cargo bench -p data_link --bench load` (BENCH_STREAMERS overrides 4, BENCH_VOLUMES
//! 60 per streamer, BENCH_TR_MS 500).

#[path = "../tests/it/harness.rs"]
mod harness;

use std::time::Duration;

use data_link::DataInterface;
use filestore::{FilePattern, ReplayOptions};
use imaging::synth::{Synth, SynthSpec};
use test_support::{env_or, percentile};

const PATTERN: &str = "mb_{TR:06d}.dcm";

/// One scanner: its run written at TR pace while the analyser takes each volume.
/// Returns the close -> held latencies in ms, in volume order.
async fn scanner(
    analyser: &harness::Analyser,
    certs: &std::path::Path,
    station: String,
    source: &std::path::Path,
    volumes: u32,
    tr: Duration,
) -> Result<Vec<f64>, String> {
    let scans = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rules = filestore::AccessRules::new([scans.path()], [".dcm"]).map_err(|e| e.to_string())?;
    let config = data_link::streamer::StreamerConfig::new(station.clone(), rules);
    let _streamer = harness::start_streamer(certs, analyser.addr, config);
    let streamers = analyser.streamers.clone();
    streamers
        .wait_for(&station, harness::GUARD)
        .await
        .map_err(|e| e.to_string())?;
    let data = DataInterface::remote(streamers, station);
    let dir = scans.path().display().to_string();
    let stream = data
        .init_scanner_stream_at(&dir, PATTERN, 1000, true, 0)
        .await
        .map_err(|e| e.to_string())?;
    let opts = ReplayOptions {
        tr,
        chunks: 4,
        chunk_pause: Duration::from_millis(2),
        extensions: vec!["dcm".into()],
        ..ReplayOptions::default()
    };
    let (from, into) = (source.to_owned(), scans.path().to_owned());
    let replay = tokio::spawn(async move { filestore::replay(&from, &into, &opts).await });
    let mut received = Vec::new();
    for i in 0..volumes {
        let v = data
            .get_image_data(&stream, i, harness::GUARD)
            .await
            .map_err(|e| e.to_string())?;
        received.push(v.received_at);
    }
    let replayed = replay
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(replayed
        .iter()
        .zip(&received)
        .map(|(r, at)| {
            at.duration_since(r.closed_at)
                .map(|d| d.as_secs_f64() * 1e3)
                .unwrap_or(0.0)
        })
        .collect())
}

async fn run(streamers: usize, volumes: u32, tr: Duration) -> Result<(), String> {
    // One synthetic multiband-sized run, played by every scanner.
    let spec = SynthSpec {
        volumes: volumes as usize,
        matrix: 96,
        slices: 72,
        pixel_mm: 2.0,
        slice_thickness_mm: 2.0,
        slice_spacing_mm: 2.0,
        ..SynthSpec::default()
    };
    let synth = Synth::new(spec).map_err(|e| e.to_string())?;
    let source = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pattern = FilePattern::new(PATTERN).map_err(|e| e.to_string())?;
    let mut size = 0;
    for i in 0..volumes {
        let file = synth.file(i as usize).map_err(|e| e.to_string())?;
        size = file.bytes.len();
        std::fs::write(source.path().join(pattern.name_for(i)), &file.bytes)
            .map_err(|e| e.to_string())?;
    }
    let certs = harness::certs();
    let analyser = harness::analyser(certs.path()).await;
    let runs = (0..streamers).map(|k| {
        scanner(
            &analyser,
            certs.path(),
            format!("scanner{k}"),
            source.path(),
            volumes,
            tr,
        )
    });
    let results = futures::future::join_all(runs).await;
    println!(
        "{streamers} streamers x {volumes} volumes of {:.2} MB every {} ms, TLS on loopback:",
        size as f64 / 1e6,
        tr.as_millis()
    );
    for (k, result) in results.into_iter().enumerate() {
        let ms = result?;
        let tail = &ms[ms.len().saturating_sub(10)..];
        let behind = tail.iter().any(|&t| t > tr.as_secs_f64() * 1e3);
        let mut sorted = ms.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  scanner{k}: close -> held p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {}",
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            sorted.last().copied().unwrap_or(0.0),
            if behind { "FELL BEHIND" } else { "kept up" }
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let streamers = env_or::<u64>("BENCH_STREAMERS", 4) as usize;
    let volumes = env_or::<u64>("BENCH_VOLUMES", 60) as u32;
    let tr = Duration::from_millis(env_or::<u64>("BENCH_TR_MS", 500));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(streamers, volumes, tr))?;
    Ok(())
}
