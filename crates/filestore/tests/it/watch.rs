//! Completeness and watching with real files: nothing half-written is ever reported.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use filestore::{
    replay_blocking, wait_for_file, AccessRules, ChannelEvents, FilePattern, FilestoreError,
    FolderEvent, FolderWatch, ReplayOptions, ScannerFolder, WatchOptions,
};

use crate::testdata::shared_testdata;

/// A failure guard only; nothing here is expected to take long.
const GUARD: Duration = Duration::from_secs(60);
/// How long a negative check ("not reported yet") looks. It can only pass wrongly on a
/// slow machine, never fail wrongly.
const NOT_YET: Duration = Duration::from_millis(400);

fn folder() -> (tempfile::TempDir, PathBuf, AccessRules) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().canonicalize().expect("canonical");
    let rules = AccessRules::new([&dir], [".dcm", ".txt"]).expect("rules");
    (tmp, dir, rules)
}

/// Writes `bytes` to `path` in `chunks` pieces with `pause` between them, on a thread;
/// the thread returns the time right after the last write, just before close().
fn slow_write(
    path: PathBuf,
    bytes: Vec<u8>,
    chunks: usize,
    pause: Duration,
) -> std::thread::JoinHandle<SystemTime> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::create(&path).expect("create");
        for (i, chunk) in bytes.chunks(bytes.len().div_ceil(chunks)).enumerate() {
            if i > 0 {
                std::thread::sleep(pause);
            }
            f.write_all(chunk).expect("write");
            f.flush().expect("flush");
        }
        let last_write = SystemTime::now();
        drop(f);
        last_write
    })
}

fn skyra(td: &Path, index: u32) -> Vec<u8> {
    let p = td.join(format!(
        "siemens-mosaic-skyra-e11/001_000013_{index:06}.dcm"
    ));
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn fast_poll() -> WatchOptions {
    WatchOptions {
        poll_interval: Duration::from_millis(50),
        ..WatchOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_chunked_write_is_not_reported_until_closed() {
    let (_tmp, dir, rules) = folder();
    let pattern = FilePattern::new("vol_{TR:03d}.txt").expect("pattern");
    // Pauses longer than two polls: the partial file looks stable to polling, so only
    // the inotify "still writing" state holds it back.
    let mut sf =
        ScannerFolder::open_with(&rules, &dir, pattern, 0, fast_poll(), None).expect("open");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let writer = slow_write(
        dir.join("vol_000.txt"),
        content.clone(),
        4,
        Duration::from_millis(300),
    );
    let got = tokio::time::timeout(GUARD, sf.next())
        .await
        .expect("guard")
        .expect("next");
    let last_write = writer.join().expect("writer");
    assert_eq!(got.index, 0);
    assert_eq!(got.bytes.len(), content.len());
    assert!(
        got.bytes == content,
        "reported bytes differ from the written file"
    );
    assert!(
        got.completed_at >= last_write,
        "reported before the last write"
    );
    assert_eq!(got.path, dir.join("vol_000.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_never_reports_a_partial_dicom() {
    let Some(td) = shared_testdata() else { return };
    let (_tmp, dir, rules) = folder();
    let opts = WatchOptions {
        use_inotify: false,
        ..fast_poll()
    };
    let pattern = FilePattern::new("001_000013_{TR:06d}.dcm").expect("pattern");
    let mut sf = ScannerFolder::open_with(&rules, &dir, pattern, 3, opts, None).expect("open");
    let content = skyra(&td, 3);
    // Pauses of several polls: each partial state is seen as stable by the poll.
    let writer = slow_write(
        dir.join("001_000013_000003.dcm"),
        content.clone(),
        6,
        Duration::from_millis(150),
    );
    let got = tokio::time::timeout(GUARD, sf.next())
        .await
        .expect("guard")
        .expect("next");
    let _last_write = writer.join().expect("writer");
    assert_eq!(got.index, 3);
    assert!(got.bytes == content, "a partial DICOM was reported");
    assert_eq!(sf.next_index(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_reports_a_finished_file() {
    let (_tmp, dir, rules) = folder();
    let opts = WatchOptions {
        use_inotify: false,
        ..fast_poll()
    };
    let mut watch = FolderWatch::open_with(&rules, &dir, opts, None).expect("open");
    std::fs::write(dir.join("late.txt"), b"written after the watch began").expect("write");
    let got = watch
        .wait_for("late.txt", GUARD)
        .await
        .expect("found by polling");
    assert_eq!(got.bytes, b"written after the watch began");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fed_events_drive_completion() {
    let (_tmp, dir, rules) = folder();
    let (tx, events) = ChannelEvents::new();
    // Polling effectively off: only the fed events can make the file complete.
    let opts = WatchOptions {
        poll_interval: Duration::from_secs(3600),
        use_inotify: false,
        ..WatchOptions::default()
    };
    let mut watch =
        FolderWatch::open_with(&rules, &dir, opts, Some(Box::new(events))).expect("open");
    std::fs::write(dir.join("x.txt"), b"data").expect("write");
    tx.send(FolderEvent::Changed("x.txt".into())).expect("send");
    assert!(
        tokio::time::timeout(NOT_YET, watch.wait_for("x.txt", GUARD))
            .await
            .is_err()
    );
    tx.send(FolderEvent::Closed("other.txt".into()))
        .expect("send");
    assert!(
        tokio::time::timeout(NOT_YET, watch.wait_for("x.txt", GUARD))
            .await
            .is_err()
    );
    tx.send(FolderEvent::Closed("x.txt".into())).expect("send");
    let got = watch
        .wait_for("x.txt", GUARD)
        .await
        .expect("complete after Closed");
    assert_eq!(got.bytes, b"data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_size_holds_back_small_files() {
    let (_tmp, dir, rules) = folder();
    let mut watch = FolderWatch::open_with(
        &rules,
        &dir,
        WatchOptions {
            min_size: 100,
            ..fast_poll()
        },
        None,
    )
    .expect("open");
    std::fs::write(dir.join("small.txt"), [1u8; 10]).expect("write");
    let err = watch
        .wait_for("small.txt", NOT_YET)
        .await
        .expect_err("below min size");
    assert!(matches!(err, FilestoreError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("min size 100"), "{err}");
    let mut f = std::fs::File::options()
        .append(true)
        .open(dir.join("small.txt"))
        .expect("open");
    f.write_all(&[2u8; 100]).expect("append");
    drop(f);
    let got = watch.wait_for("small.txt", GUARD).await.expect("complete");
    assert_eq!(got.bytes.len(), 110);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_dicom_is_never_reported() {
    let Some(td) = shared_testdata() else { return };
    let truncated = std::fs::read(td.join("truncated/trunc_001_000013_000005.dcm")).expect("read");
    for use_inotify in [true, false] {
        let (_tmp, dir, rules) = folder();
        let opts = WatchOptions {
            use_inotify,
            ..fast_poll()
        };
        let pattern = FilePattern::new("001_000013_{TR:06d}.dcm").expect("pattern");
        let mut sf = ScannerFolder::open_with(&rules, &dir, pattern, 5, opts, None).expect("open");
        std::fs::write(dir.join("001_000013_000005.dcm"), &truncated).expect("write");
        assert!(
            tokio::time::timeout(NOT_YET * 2, sf.next()).await.is_err(),
            "a truncated DICOM was reported (inotify {use_inotify})"
        );
        // The scanner finishes the file: now it is reported, whole.
        let full = skyra(&td, 5);
        std::fs::write(dir.join("001_000013_000005.dcm"), &full).expect("write");
        let got = tokio::time::timeout(GUARD, sf.next())
            .await
            .expect("guard")
            .expect("next");
        assert!(got.bytes == full);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_folder_yields_in_index_order() {
    let (_tmp, dir, rules) = folder();
    for i in [0, 1] {
        std::fs::write(dir.join(format!("v{i}.txt")), format!("volume {i}")).expect("write");
    }
    let opts = WatchOptions {
        // Files written just now count as already there and settled.
        settled_after: Duration::ZERO,
        ..fast_poll()
    };
    let pattern = FilePattern::new("v{TR}.txt").expect("pattern");
    let mut sf = ScannerFolder::open_with(&rules, &dir, pattern, 0, opts, None).expect("open");
    // Volume 3 arrives before volume 2.
    std::fs::write(dir.join("v3.txt"), "volume 3").expect("write");
    std::fs::write(dir.join("v2.txt"), "volume 2").expect("write");
    for i in 0..4u32 {
        let got = tokio::time::timeout(GUARD, sf.next())
            .await
            .expect("guard")
            .expect("next");
        assert_eq!(got.index, i);
        assert_eq!(got.bytes, format!("volume {i}").as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_named_like_a_volume_is_refused() {
    let (_tmp, dir, rules) = folder();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), b"secret").expect("write");
    let pattern = FilePattern::new("v{TR}.txt").expect("pattern");
    let mut sf =
        ScannerFolder::open_with(&rules, &dir, pattern, 0, fast_poll(), None).expect("open");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.join("v0.txt"))
        .expect("symlink");
    std::fs::write(dir.join("v1.txt"), b"volume 1").expect("write");
    // The link fails its volume only, saying no more than "outside the allowed folders".
    let result = tokio::time::timeout(GUARD, sf.next()).await.expect("guard");
    let Err(FilestoreError::BadFile {
        index: 0, reason, ..
    }) = &result
    else {
        panic!("{result:?}");
    };
    assert!(
        reason.ends_with("v0.txt is outside the allowed folders"),
        "{reason}"
    );
    assert!(!reason.contains("secret"), "{reason}");
    let next = tokio::time::timeout(GUARD, sf.next()).await.expect("guard");
    assert_eq!(next.expect("volume 1").bytes, b"volume 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_file_finds_existing_and_refuses_paths() {
    let (_tmp, dir, rules) = folder();
    std::fs::write(dir.join("here.txt"), b"here").expect("write");
    let got = wait_for_file(&rules, &dir, "here.txt", 1, GUARD)
        .await
        .expect("found");
    assert_eq!(got.bytes, b"here");
    let err = wait_for_file(&rules, &dir, "../here.txt", 1, GUARD)
        .await
        .expect_err("refused");
    assert!(matches!(err, FilestoreError::Refused { .. }), "{err}");
    let err = wait_for_file(&rules, &dir, "here.sh", 1, GUARD)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, FilestoreError::TypeNotAllowed { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_skyra_arrives_complete_and_in_order() {
    let Some(td) = shared_testdata() else { return };
    let (_tmp, dir, rules) = folder();
    let source = td.join("siemens-mosaic-skyra-e11");
    let pattern = FilePattern::new("scan_{TR:04d}.dcm").expect("pattern");
    let opts = ReplayOptions {
        tr: Duration::from_millis(100),
        chunks: 4,
        chunk_pause: Duration::from_millis(10),
        rename: Some(pattern.clone()),
        start_index: 1,
        extensions: vec!["dcm".into()],
        ..ReplayOptions::default()
    };
    let sources = filestore::replay::replay_sources(&source, &opts).expect("sources");
    let n = sources.len();
    assert!(n >= 10, "the Skyra series has {n} files");
    let mut sf = ScannerFolder::open(&rules, &dir, pattern, 1000, 1).expect("open");
    let into = dir.clone();
    let replay = tokio::task::spawn_blocking(move || {
        replay_blocking(&source, &into, &opts, |_| {}).expect("replay")
    });
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(
            tokio::time::timeout(GUARD, sf.next())
                .await
                .expect("guard")
                .expect("next"),
        );
    }
    let written = replay.await.expect("replay thread");
    assert_eq!(written.len(), n);
    for (i, (file, w)) in got.iter().zip(&written).enumerate() {
        assert_eq!(file.index, i as u32 + 1);
        assert_eq!(w.target, dir.join(format!("scan_{:04}.dcm", i + 1)));
        let src = std::fs::read(&w.source).expect("read source");
        assert!(file.bytes == src, "volume {i} differs from its source");
        assert!(
            file.completed_at >= w.last_write_at,
            "volume {i} reported before close()"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inotify_sees_rename_into_place_and_links() {
    let (_tmp, dir, rules) = folder();
    // The link below keeps its first name: served only where hard links are allowed.
    let rules = rules.with_hard_links_allowed(true);
    // Polling effectively off: only real inotify events can report these files.
    let opts = WatchOptions {
        poll_interval: Duration::from_secs(3600),
        ..WatchOptions::default()
    };
    let mut watch = FolderWatch::open_with(&rules, &dir, opts, None).expect("open");
    // A writer that writes a temporary file and renames it into place.
    filestore::write_atomic(&dir.join("renamed.txt"), b"whole").expect("write");
    let got = watch
        .wait_for_path(&dir.join("renamed.txt"), GUARD)
        .await
        .expect("renamed file reported");
    assert_eq!(got.bytes, b"whole");
    // A hard link to a finished file is never closed, only created.
    let elsewhere = tempfile::tempdir_in(&dir).expect("tempdir");
    std::fs::write(elsewhere.path().join("src.txt"), b"linked").expect("write");
    std::fs::hard_link(elsewhere.path().join("src.txt"), dir.join("linked.txt")).expect("link");
    let got = watch
        .wait_for("linked.txt", GUARD)
        .await
        .expect("linked file reported");
    assert_eq!(got.bytes, b"linked");
    // A path in another folder is refused, not waited for.
    let err = watch
        .wait_for_path(&elsewhere.path().join("src.txt"), GUARD)
        .await
        .expect_err("other folder");
    assert!(
        err.to_string().contains("not in the watched folder"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_hands_the_decision_to_polling() {
    let (_tmp, dir, rules) = folder();
    let (tx, events) = ChannelEvents::new();
    let opts = WatchOptions {
        use_inotify: false,
        writing_grace: Duration::from_secs(3600),
        ..fast_poll()
    };
    let mut watch =
        FolderWatch::open_with(&rules, &dir, opts, Some(Box::new(events))).expect("open");
    std::fs::write(dir.join("x.txt"), b"data").expect("write");
    // "Still writing" holds polling back ...
    tx.send(FolderEvent::Changed("x.txt".into())).expect("send");
    assert!(
        tokio::time::timeout(NOT_YET, watch.wait_for("x.txt", GUARD))
            .await
            .is_err()
    );
    // ... until events are known to be lost; then the stable size decides.
    tx.send(FolderEvent::Rescan).expect("send");
    let got = watch
        .wait_for("x.txt", GUARD)
        .await
        .expect("complete by polling");
    assert_eq!(got.bytes, b"data");
}

/// The data link spawns these on tokio tasks: the futures must be Send.
#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn check(sf: &mut ScannerFolder, fw: &mut FolderWatch, rules: &AccessRules) {
        assert_send(&sf.next());
        assert_send(&fw.wait_for("x.txt", GUARD));
        assert_send(&wait_for_file(rules, Path::new("."), "x", 0, GUARD));
        assert_send(&filestore::replay(
            Path::new("a"),
            Path::new("b"),
            &ReplayOptions::default(),
        ));
    }
    let _ = check;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_already_there_are_yielded_at_once() {
    let (_tmp, dir, rules) = folder();
    let long_ago = SystemTime::now() - Duration::from_secs(60);
    for i in 1..=3 {
        let p = dir.join(format!("v{i}.txt"));
        std::fs::write(&p, format!("volume {i}")).expect("write");
        let f = std::fs::File::options().write(true).open(&p).expect("open");
        f.set_modified(long_ago).expect("mtime");
    }
    // No polling: only "already there and settled" can yield them (a restarted
    // analyser re-opening the stream picks up the scanner's files this way).
    let opts = WatchOptions {
        poll_interval: Duration::from_secs(3600),
        ..WatchOptions::default()
    };
    let pattern = FilePattern::new("v{TR}.txt").expect("pattern");
    let mut sf = ScannerFolder::open_with(&rules, &dir, pattern, 2, opts, None).expect("open");
    for i in 2..=3u32 {
        let got = tokio::time::timeout(GUARD, sf.next())
            .await
            .expect("guard")
            .expect("next");
        assert_eq!(
            (got.index, got.bytes),
            (i, format!("volume {i}").into_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_held_back_volumes_does_not_shrink_the_bad_file_bound() {
    let (_tmp, dir, rules) = folder();
    let pattern = FilePattern::new("v{TR}.txt").expect("pattern");
    let bound = filestore::BadFileBound {
        trs: 10.0,
        before_tr_known: Duration::from_secs(10),
        at_least: Duration::from_millis(200),
    };
    let mut sf = ScannerFolder::open_with(&rules, &dir, pattern, 1, fast_poll(), None)
        .expect("open")
        .with_bad_file_bound(bound);
    let mut next = async || {
        tokio::time::timeout(GUARD, sf.next())
            .await
            .expect("guard")
            .map(|f| f.index)
    };
    // A scanner at TR 0.3 s ...
    for i in 1..=2u32 {
        std::fs::write(dir.join(format!("v{i}.txt")), format!("volume {i}")).expect("write");
        assert_eq!(next().await.expect("a good file"), i);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // ... whose next four files were all there before they were asked for: they come
    // out microseconds apart, which is not the TR ...
    for i in 3..=6u32 {
        std::fs::write(dir.join(format!("v{i}.txt")), format!("volume {i}")).expect("write");
    }
    for i in 3..=6u32 {
        assert_eq!(next().await.expect("a good file"), i);
    }
    // ... so a file that takes 1.2 s to write is still within 10 TRs of 0.3 s.
    let writer = slow_write(
        dir.join("v7.txt"),
        b"volume 7, written slowly".to_vec(),
        4,
        Duration::from_millis(400),
    );
    assert_eq!(next().await.expect("v7 is a good file"), 7);
    writer.join().expect("writer");
}
