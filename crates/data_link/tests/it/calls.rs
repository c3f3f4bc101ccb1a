//! Every DataInterface call through a real streamer over TLS, the same calls on the
//! local disk, chunking of files over 1 MiB, refusals, and a pending call across a
//! cut link.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use data_link::DataInterface;
use filestore::AccessRules;

use crate::harness::{analyser, certs, start_streamer, streamer, Proxy, GUARD};
use data_link::streamer::StreamerConfig;

/// A data folder with a few files, plus a sibling-prefix folder and a symlink out.
fn data_folder() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp");
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("run1")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("data2")).expect("mkdir");
    std::fs::write(data.join("a.txt"), b"hello").expect("write");
    std::fs::write(data.join("a.exe"), b"MZ").expect("write");
    std::fs::write(root.path().join("data2/secret.txt"), b"no").expect("write");
    std::fs::write(root.path().join("outside.txt"), b"no").expect("write");
    std::os::unix::fs::symlink(root.path().join("outside.txt"), data.join("link.txt"))
        .expect("symlink");
    // Not compressible, 2.5 MiB: travels in three chunks.
    let big: Vec<u8> = (0..(5u64 << 19))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(data.join("run1/big.bin"), &big).expect("write");
    root
}

/// data/ readable and writable (put_file writes below it), .dcm, .txt and .bin.
fn rules(root: &Path) -> AccessRules {
    AccessRules::new([root.join("data")], [".dcm", ".txt", ".bin"])
        .and_then(|r| r.with_writable_dirs([root.join("data")]))
        .expect("rules")
}

async fn exercise(data: &DataInterface, root: &Path) {
    let d = root.join("data");
    let s = |p: &Path| p.display().to_string();
    assert_eq!(
        data.get_file(&s(&d.join("a.txt"))).await.expect("get_file"),
        Bytes::from_static(b"hello")
    );
    let big = std::fs::read(d.join("run1/big.bin")).expect("read");
    assert_eq!(
        data.get_file(&s(&d.join("run1/big.bin")))
            .await
            .expect("big"),
        big
    );
    // put_file over 1 MiB, then read back from the disk itself.
    let put: Vec<u8> = big.iter().rev().copied().collect();
    data.put_file(&s(&d.join("out/put.bin")), Bytes::from(put.clone()), false)
        .await
        .expect("put_file");
    assert_eq!(std::fs::read(d.join("out/put.bin")).expect("read put"), put);
    let files = data
        .list_files(&format!("{}/**/*.bin", s(&d)))
        .await
        .expect("list_files");
    assert_eq!(files.len(), 2, "{files:?}");
    let dirs = data
        .list_dirs(&format!("{}/*", s(&d)))
        .await
        .expect("list_dirs");
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let newest = data
        .get_newest_file(&format!("{}/**/*.bin", s(&d)))
        .await
        .expect("newest");
    assert_eq!(newest, put);
    let none = data
        .get_newest_file(&format!("{}/nothing-*.txt", s(&d)))
        .await
        .expect_err("nothing matches");
    assert_eq!(
        none.remote_code(),
        Some(protocol::v1::link_error::Code::NotFound),
        "{none}"
    );
    let types = data.get_allowed_file_types().await.expect("types");
    assert!(types.iter().any(|t| t.contains("dcm")), "{types:?}");
    let t = data.ping().await.expect("ping");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!((t - now).abs() < 60.0);
    let skew = data.get_clock_skew(now, 0.0).await.expect("skew");
    assert!(skew.abs() < 60.0, "same machine, skew {skew}");

    // init_watch + watch_file: the file appears after the call started.
    data.init_watch(&s(&d), "*.txt", 3)
        .await
        .expect("init_watch");
    let writer = {
        let path = d.join("late.txt");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::fs::write(path, b"arrived").expect("write late");
        })
    };
    let got = data
        .watch_file("late.txt", GUARD)
        .await
        .expect("watch_file");
    assert_eq!(got, Bytes::from_static(b"arrived"));
    writer.await.expect("writer");

    // Refusals, each naming the path.
    for bad in [
        format!("{}/../outside.txt", s(&d)),
        s(&d.join("link.txt")),
        s(&root.join("data2/secret.txt")),
        s(&d.join("a.exe")),
    ] {
        let err = data.get_file(&bad).await.expect_err(&bad);
        assert!(err.is_refused(), "{bad}: {err}");
    }
    let err = data
        .put_file(
            &s(&root.join("data2/x.txt")),
            Bytes::from_static(b"x"),
            true,
        )
        .await
        .expect_err("write outside");
    assert!(err.is_refused(), "{err}");
    assert!(!root.join("data2/x.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_through_a_streamer_over_tls() {
    let certs = certs();
    let root = data_folder();
    let analyser = analyser(certs.path()).await;
    let _streamer = start_streamer(
        certs.path(),
        analyser.addr,
        StreamerConfig::new("skyra", rules(root.path())),
    );
    analyser
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("streamer connects");
    let data = DataInterface::remote(analyser.streamers.clone(), "skyra");
    assert!(data.is_remote());
    exercise(&data, root.path()).await;
    let info = analyser.streamers.info("skyra").expect("station");
    assert!(info.connected && info.compression);
    assert!(info.allowed_types.iter().any(|t| t.contains("txt")));
    // Unknown station: a clear error, at once.
    let other = DataInterface::remote(analyser.streamers.clone(), "prisma");
    let err = other.ping().await.expect_err("not connected");
    assert!(err.to_string().contains("prisma is not connected"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_on_the_local_disk() {
    let root = data_folder();
    let data = DataInterface::local(rules(root.path()));
    assert!(!data.is_remote());
    exercise(&data, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_call_across_a_cut_link_fails_clearly_and_the_link_comes_back() {
    let certs = certs();
    let root = data_folder();
    let analyser = analyser(certs.path()).await;
    let proxy = Proxy::start(analyser.addr);
    let _streamer = streamer(
        certs.path(),
        proxy.addr,
        "skyra",
        &[&root.path().join("data")],
        &[".txt"],
        true,
    );
    analyser
        .streamers
        .wait_for("skyra", GUARD)
        .await
        .expect("connects");
    let data = DataInterface::remote(analyser.streamers.clone(), "skyra");
    let d = root.path().join("data").display().to_string();
    data.init_watch(&d, "*.txt", 1).await.expect("init_watch");
    let pending = data.watch_file("never.txt", GUARD);
    tokio::pin!(pending);
    // One poll sends the request (before the call's first await); the ping after it on
    // the same link makes sure the streamer has it.
    tokio::select! {
        biased;
        r = &mut pending => panic!("watch_file ended early: {r:?}"),
        () = std::future::ready(()) => {}
    }
    data.ping().await.expect("ping");
    proxy.cut();
    let err = tokio::time::timeout(GUARD, pending)
        .await
        .expect("pending call ends")
        .expect_err("the file never comes");
    assert!(err.to_string().contains("disconnected"), "{err}");
    // The streamer reconnects by itself.
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if data.ping().await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reconnect");
        analyser
            .streamers
            .wait_for("skyra", GUARD)
            .await
            .expect("reconnects");
    }
    assert!(analyser.streamers.info("skyra").expect("info").connections >= 2);
}
