//! Scanner streams: the Skyra E11 series replayed like a scanner arrives complete, in
//! order, exactly once, de-identified, voxels unchanged; through a link cut mid-run;
//! from two streamers at once; and after the analyser restarted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use data_link::streamer::StreamerConfig;
use data_link::{DataInterface, LinkError};
use filestore::{AccessRules, FilePattern, ReplayOptions};

use crate::harness::{analyser, certs, shared_testdata, start_streamer, streamer, Proxy, GUARD};

const PATTERN: &str = "001_000013_{TR:06d}.dcm";

fn skyra() -> Option<PathBuf> {
    Some(shared_testdata()?.join("siemens-mosaic-skyra-e11"))
}

fn replay_opts(tr_ms: u64) -> ReplayOptions {
    ReplayOptions {
        tr: Duration::from_millis(tr_ms),
        chunks: 4,
        chunk_pause: Duration::from_millis(2),
        rename: Some(FilePattern::new(PATTERN).expect("pattern")),
        start_index: 0,
        extensions: vec!["dcm".into()],
        limit: None,
    }
}

fn sources(dir: &Path) -> Vec<Vec<u8>> {
    filestore::replay_sources(dir, &replay_opts(0))
        .expect("sources")
        .iter()
        .map(|p| std::fs::read(p).expect("read source"))
        .collect()
}

/// Volume `i` must be source `i`, de-identified: same voxels, no patient name.
fn check_volume(bytes: &[u8], source: &[u8], index: u32) {
    let got = imaging::volume_from_file(bytes).expect("received volume decodes");
    let want = imaging::volume_from_file(source).expect("source decodes");
    assert_eq!(got.voxels, want.voxels, "voxels of volume {index}");
    assert_ne!(bytes, source, "volume {index} was de-identified");
}

/// Takes volumes `from..to`, each once and in order.
async fn take_all(data: &DataInterface, stream: &str, from: u32, to: u32, srcs: &[Vec<u8>]) {
    for index in from..to {
        let v = data
            .get_image_data(stream, index, GUARD)
            .await
            .unwrap_or_else(|e| panic!("volume {index}: {e}"));
        assert_eq!(v.index, index);
        check_volume(&v.bytes, &srcs[index as usize], index);
        let again = data
            .get_image_data(stream, index, Duration::from_millis(1))
            .await
            .expect_err("each volume once");
        assert!(matches!(again, LinkError::AlreadyTaken { .. }), "{again}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_skyra_run_arrives_complete_in_order_once() {
    let Some(src) = skyra() else { return };
    let srcs = sources(&src);
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    let _s = streamer(
        certs.path(),
        analyser.addr,
        "skyra",
        &[scans.path()],
        &[".dcm"],
        true,
    );
    analyser
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("connects");
    let data = DataInterface::remote(analyser.streamers.clone(), "skyra");
    let dir = scans.path().display().to_string();
    let stream = data
        .init_scanner_stream_at(&dir, PATTERN, 1000, true, 0)
        .await
        .expect("init_scanner_stream");
    // A slow call in flight (a file that never comes) must not hold up the pushes.
    data.init_watch(&dir, "*.dcm", 1).await.expect("init_watch");
    let slow = {
        let data = data.clone();
        tokio::spawn(async move { data.watch_file("never.dcm", GUARD).await })
    };
    let into = scans.path().to_owned();
    let replay =
        tokio::spawn(async move { filestore::replay(&src, &into, &replay_opts(100)).await });
    take_all(&data, &stream, 0, srcs.len() as u32, &srcs).await;
    assert!(!slow.is_finished(), "the slow call is still waiting");
    slow.abort();
    let replayed = replay.await.expect("replay task").expect("replay");
    assert_eq!(replayed.len(), srcs.len());
    let v = data
        .get_image_volume(&stream, srcs.len() as u32, Duration::from_millis(50))
        .await
        .expect_err("no volume past the run");
    assert!(matches!(v, LinkError::Timeout { .. }), "{v}");
    let info = analyser.streamers.info("skyra").expect("info");
    assert_eq!(info.volumes, srcs.len() as u64);
    assert!(
        info.wire_bytes < info.raw_bytes,
        "zstd saves bytes: {} on the wire for {}",
        info.wire_bytes,
        info.raw_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_mid_run_loses_and_duplicates_nothing() {
    let Some(src) = skyra() else { return };
    let srcs = sources(&src);
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    let proxy = Proxy::start(analyser.addr);
    let _s = streamer(
        certs.path(),
        proxy.addr,
        "skyra",
        &[scans.path()],
        &[".dcm"],
        false,
    );
    analyser
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("connects");
    let data = DataInterface::remote(analyser.streamers.clone(), "skyra");
    let dir = scans.path().display().to_string();
    let stream = data
        .init_scanner_stream_at(&dir, PATTERN, 1000, true, 0)
        .await
        .expect("init");
    let into = scans.path().to_owned();
    let replay =
        tokio::spawn(async move { filestore::replay(&src, &into, &replay_opts(150)).await });
    take_all(&data, &stream, 0, 3, &srcs).await;
    proxy.cut();
    take_all(&data, &stream, 3, 6, &srcs).await;
    proxy.cut();
    take_all(&data, &stream, 6, srcs.len() as u32, &srcs).await;
    replay.await.expect("replay task").expect("replay");
    // The volumes may all have been held before a cut was noticed; the reconnection
    // itself must still happen (waited for, with a guard: the machine may be loaded).
    let deadline = tokio::time::Instant::now() + GUARD;
    let info = loop {
        let info = analyser.streamers.info("skyra").expect("info");
        if info.connections >= 2 || tokio::time::Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(info.volumes, srcs.len() as u64, "each volume held once");
    assert!(info.connections >= 2, "the link was cut and came back");
    assert!(!info.compression);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_streamers_at_once_each_with_its_own_stream() {
    let Some(src) = skyra() else { return };
    let srcs = sources(&src);
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    let a = tempfile::tempdir().expect("temp");
    let b = tempfile::tempdir().expect("temp");
    let _sa = streamer(
        certs.path(),
        analyser.addr,
        "skyra",
        &[a.path()],
        &[".dcm"],
        true,
    );
    // prisma's console sends identified data (its own flag), so its project may ask.
    let mut prisma = StreamerConfig::new(
        "prisma",
        AccessRules::new([b.path()], [".dcm"]).expect("rules"),
    );
    prisma.send_identified = true;
    let _sb = start_streamer(certs.path(), analyser.addr, prisma);
    for station in ["skyra", "prisma"] {
        analyser
            .streamers
            .wait_for(station, GUARD)
            .await
            .expect("connects");
    }
    assert_eq!(analyser.streamers.list().len(), 2);
    let da = DataInterface::remote(analyser.streamers.clone(), "skyra");
    let db = DataInterface::remote(analyser.streamers.clone(), "prisma");
    let sa = da
        .init_scanner_stream_at(&a.path().display().to_string(), PATTERN, 1000, true, 0)
        .await
        .expect("init a");
    let sb = db
        .init_scanner_stream_at(&b.path().display().to_string(), PATTERN, 1000, false, 0)
        .await
        .expect("init b");
    // prisma's streamer may not read skyra's folder.
    let err = db
        .init_scanner_stream(&a.path().display().to_string(), PATTERN, 1000, true)
        .await
        .expect_err("other streamer's folder");
    assert!(err.is_refused(), "{err}");
    let (src_a, into_a) = (src.clone(), a.path().to_owned());
    let (src_b, into_b) = (src.clone(), b.path().to_owned());
    let ra =
        tokio::spawn(async move { filestore::replay(&src_a, &into_a, &replay_opts(60)).await });
    let rb =
        tokio::spawn(async move { filestore::replay(&src_b, &into_b, &replay_opts(60)).await });
    let n = srcs.len() as u32;
    let (_, got_b) = tokio::join!(take_all(&da, &sa, 0, n, &srcs), async {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(
                db.get_image_data(&sb, i, GUARD)
                    .await
                    .expect("prisma volume"),
            );
        }
        out
    });
    // anonymize = false: the bytes are the source's own.
    for (i, v) in got_b.iter().enumerate() {
        assert_eq!(v.bytes, srcs[i], "prisma volume {i} unchanged");
    }
    ra.await.expect("task").expect("replay a");
    rb.await.expect("task").expect("replay b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_analyser_restart_a_new_stream_picks_up() {
    let Some(src) = skyra() else { return };
    let srcs = sources(&src);
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let first = analyser(certs.path()).await;
    let proxy = Proxy::start(first.addr);
    let _s = streamer(
        certs.path(),
        proxy.addr,
        "skyra",
        &[scans.path()],
        &[".dcm"],
        true,
    );
    first
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("connects");
    let dir = scans.path().display().to_string();
    let data = DataInterface::remote(first.streamers.clone(), "skyra");
    let stream = data
        .init_scanner_stream_at(&dir, PATTERN, 1000, true, 0)
        .await
        .expect("init");
    let into = scans.path().to_owned();
    let replay =
        tokio::spawn(async move { filestore::replay(&src, &into, &replay_opts(100)).await });
    take_all(&data, &stream, 0, 4, &srcs).await;
    // The analyser dies; a new one (new registry) takes its place behind the same address.
    let second = analyser(certs.path()).await;
    proxy.retarget(second.addr);
    drop(first);
    proxy.cut();
    second
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("reconnects");
    let data = DataInterface::remote(second.streamers.clone(), "skyra");
    let stream = data
        .init_scanner_stream_at(&dir, PATTERN, 1000, true, 4)
        .await
        .expect("init again");
    take_all(&data, &stream, 4, srcs.len() as u32, &srcs).await;
    replay.await.expect("replay task").expect("replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_over_one_mebibyte_are_pushed_in_chunks() {
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    let _s = streamer(
        certs.path(),
        analyser.addr,
        "mb",
        &[scans.path()],
        &[".raw"],
        true,
    );
    analyser
        .streamers
        .wait_for("mb", GUARD)
        .await
        .expect("connects");
    let data = DataInterface::remote(analyser.streamers.clone(), "mb");
    let dir = scans.path().display().to_string();
    let stream = data
        // Not DICOM by name or content: it leaves as it is, de-identification asked or not.
        .init_scanner_stream_at(&dir, "vol_{TR:03d}.raw", 1000, true, 1)
        .await
        .expect("init");
    let volume = |i: u64| -> Vec<u8> {
        (0..(5u64 << 19))
            .map(|j| ((j + i).wrapping_mul(2654435761) >> 11) as u8)
            .collect()
    };
    for i in 1..=3u64 {
        std::fs::write(scans.path().join(format!("vol_{i:03}.raw")), volume(i)).expect("write");
    }
    for i in 1..=3u32 {
        let v = data
            .get_image_data(&stream, i, GUARD)
            .await
            .expect("volume");
        assert_eq!(v.bytes, volume(u64::from(i)), "volume {i}");
        assert!(v.path.ends_with(&format!("vol_{i:03}.raw")), "{}", v.path);
    }
}
