//! The link's own latency: from the replay's close() of a scanner file to the volume
//! being held by the analyser (`ImageData::received_at`), through the real stack
//! (inotify completeness, de-identification, zstd, TLS + HTTP/2 on loopback, ACKs).
//! Compression on and off; prints p50/p99 and the bytes on the wire. Asserts nothing.
//!
//! `cargo bench -p data_link --bench link_latency` (BENCH_VOLUMES overrides 200;
//! BENCH_TR_MS the 50 ms between files, BENCH_ANONYMIZE=0 skips de-identification,
//! LINK_ZSTD_LEVEL sets the zstd level). Needs ../shared/testdata.

#[path = "../tests/it/harness.rs"]
mod harness;

use std::time::Duration;

use data_link::DataInterface;
use filestore::{FilePattern, ReplayOptions};
use test_support::{env_or, percentile};

const PATTERN: &str = "001_000013_{TR:06d}.dcm";

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// The default: zstd where the measured link makes it pay.
    Adaptive,
    /// zstd on every volume.
    Always,
    /// --no-compression.
    Off,
}

async fn run(mode: Mode, volumes: usize, tr: Duration) -> Result<(), String> {
    let src = harness::shared_testdata()
        .ok_or("../shared/testdata is missing")?
        .join("siemens-mosaic-skyra-e11");
    // A source run of `volumes` files: the Skyra mosaics over and over.
    let source = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut originals: Vec<_> = std::fs::read_dir(&src)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    originals.sort();
    let pattern = FilePattern::new(PATTERN).map_err(|e| e.to_string())?;
    for i in 0..volumes {
        let from = &originals[i % originals.len()];
        std::fs::copy(from, source.path().join(pattern.name_for(i as u32)))
            .map_err(|e| e.to_string())?;
    }
    let certs = harness::certs();
    let scans = tempfile::tempdir().map_err(|e| e.to_string())?;
    let analyser = harness::analyser(certs.path()).await;
    let rules = filestore::AccessRules::new([scans.path()], [".dcm"]).map_err(|e| e.to_string())?;
    let mut config = data_link::streamer::StreamerConfig::new("bench", rules);
    config.compression = !matches!(mode, Mode::Off);
    config.adaptive_compression = matches!(mode, Mode::Adaptive);
    if let Some(level) = std::env::var("LINK_ZSTD_LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
    {
        config.compression_level = level;
    }
    let _s = harness::start_streamer(certs.path(), analyser.addr, config);
    analyser
        .streamers
        .wait_for("bench", harness::GUARD)
        .await
        .map_err(|e| e.to_string())?;
    let data = DataInterface::remote(analyser.streamers.clone(), "bench");
    let stream = data
        .init_scanner_stream_at(
            &scans.path().display().to_string(),
            PATTERN,
            1000,
            env_or::<u64>("BENCH_ANONYMIZE", 1) != 0,
            0,
        )
        .await
        .map_err(|e| e.to_string())?;
    let opts = ReplayOptions {
        tr,
        chunks: 4,
        chunk_pause: Duration::from_millis(1),
        rename: None,
        start_index: 0,
        extensions: vec!["dcm".into()],
        limit: None,
    };
    let into = scans.path().to_owned();
    let from = source.path().to_owned();
    let replay = tokio::spawn(async move { filestore::replay(&from, &into, &opts).await });
    let mut received = Vec::with_capacity(volumes);
    for i in 0..volumes as u32 {
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
    let mut ms: Vec<f64> = replayed
        .iter()
        .zip(&received)
        .map(|(r, at)| {
            at.duration_since(r.closed_at)
                .map(|d| d.as_secs_f64() * 1e3)
                .unwrap_or(0.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let info = analyser.streamers.info("bench").ok_or("no station info")?;
    println!(
        "compression {:>8}: {} volumes, close -> held in analyser p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.1} MB files, {:.1} MB on the wire ({:.0}%)",
        format!("{mode:?}"),
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0),
        info.raw_bytes as f64 / 1e6,
        info.wire_bytes as f64 / 1e6,
        100.0 * info.wire_bytes as f64 / info.raw_bytes.max(1) as f64,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let volumes = env_or::<u64>("BENCH_VOLUMES", 200) as usize;
    let tr = Duration::from_millis(env_or::<u64>("BENCH_TR_MS", 50));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for mode in [Mode::Adaptive, Mode::Always, Mode::Off] {
        runtime.block_on(run(mode, volumes, tr))?;
    }
    Ok(())
}
