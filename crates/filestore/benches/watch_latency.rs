//! Latency from a scanner's close() to the volume being handed out by `ScannerFolder`.
//!
//! Replays the Skyra E11 mosaic series (457 KB files, repeated to BENCH_VOLUMES, default
//! 300) into a temp folder at BENCH_TR_MS (default 20 ms) pace, 4 chunks per file, and
//! prints p50/p99/max of completed_at - closed_at, for inotify (the default) and for
//! the polling fallback. Run: `cargo bench -p filestore --bench watch_latency`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use filestore::{
    replay_blocking, AccessRules, FilePattern, ReplayOptions, ScannerFolder, WatchOptions,
};
use test_support::env_or;

fn main() {
    let volumes: usize = env_or("BENCH_VOLUMES", 300);
    let tr_ms: u64 = env_or("BENCH_TR_MS", 20);
    let Some(series) = test_support::shared_testdata().map(|d| d.join("siemens-mosaic-skyra-e11"))
    else {
        eprintln!("skipping: ../shared/testdata not found");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (label, use_inotify) in [("inotify", true), ("polling (200 ms)", false)] {
        // Polling is the fallback for shares: a realistic TR, fewer volumes.
        let (n, tr) = if use_inotify {
            (volumes, tr_ms)
        } else {
            (volumes.min(20), tr_ms.max(500))
        };
        let lat = runtime.block_on(run(&series, n, tr, use_inotify));
        report(label, n, &lat);
    }
}

async fn run(series: &Path, volumes: usize, tr_ms: u64, use_inotify: bool) -> Vec<Duration> {
    // The source: the series' files repeated to `volumes` files, named in order.
    let src = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(series)
        .expect("series")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    files.sort();
    for i in 0..volumes {
        std::fs::copy(
            &files[i % files.len()],
            src.path().join(format!("{i:06}.dcm")),
        )
        .expect("copy");
    }
    let into = tempfile::tempdir().expect("tempdir");
    let dir = into.path().canonicalize().expect("canonical");
    let rules = AccessRules::new([&dir], [".dcm"]).expect("rules");
    let pattern = FilePattern::new("001_000013_{TR:06d}.dcm").expect("pattern");
    let opts = WatchOptions {
        use_inotify,
        min_size: 1000,
        ..WatchOptions::default()
    };
    let mut folder =
        ScannerFolder::open_with(&rules, &dir, pattern.clone(), 1, opts, None).expect("open");
    let replay_opts = ReplayOptions {
        tr: Duration::from_millis(tr_ms),
        chunks: 4,
        chunk_pause: Duration::from_millis(1),
        rename: Some(pattern),
        start_index: 1,
        ..ReplayOptions::default()
    };
    let source = src.path().to_path_buf();
    let writer = tokio::task::spawn_blocking(move || {
        replay_blocking(&source, &dir, &replay_opts, |_| {}).expect("replay")
    });
    let mut completed = Vec::with_capacity(volumes);
    for _ in 0..volumes {
        let f = tokio::time::timeout(Duration::from_secs(60), folder.next())
            .await
            .expect("no volume within 60 s")
            .expect("next");
        completed.push(f.completed_at);
    }
    let written = writer.await.expect("writer");
    written
        .iter()
        .zip(completed)
        .map(|(w, c)| c.duration_since(w.closed_at).unwrap_or(Duration::ZERO))
        .collect()
}

fn report(label: &str, n: usize, lat: &[Duration]) {
    let mut sorted = lat.to_vec();
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    println!(
        "close -> complete, {label}, {n} Skyra mosaic volumes: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(sorted[sorted.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
