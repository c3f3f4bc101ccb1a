//! What leaves the console, decided by the streamer alone, over real TLS: DICOM by
//! name or content (a headerless data set too) de-identified through every send path
//! unless the streamer itself was told otherwise; a scanner stream asking for
//! identified data refused; paths shown under the allowed folder's name; put_file only
//! into writable folders and never over a file unless asked.

use std::path::PathBuf;

use bytes::Bytes;
use data_link::streamer::StreamerConfig;
use filestore::AccessRules;
use protocol::v1::link_error::Code;

use crate::harness::{analyser, certs, connected, GUARD};

/// The patient's name in a DICOM file (Part 10 or headerless), if any.
fn patient_name(bytes: &[u8]) -> Option<String> {
    let file = imaging::parse(bytes).expect("parses");
    file.str(dicom_dictionary_std::tags::PATIENT_NAME)
        .map(|s| s.to_string())
        .filter(|s| !s.trim().is_empty())
}

/// A scanner folder `scans/` with a Skyra volume (Part 10), the same volume without
/// preamble, "DICM" or meta group under a name without extension, and half a DICOM.
struct Scans {
    root: tempfile::TempDir,
    part10: Vec<u8>,
    headerless: Vec<u8>,
}

impl Scans {
    fn new() -> Option<Scans> {
        let testdata = test_support::shared_testdata()?;
        let part10 = std::fs::read(testdata.join("siemens-mosaic-skyra-e11/001_000013_000003.dcm"))
            .expect("a Skyra file");
        let headerless = std::fs::read(
            testdata.join("../imaging-cases/headerless/no-preamble/001_000013_000003.dcm"),
        )
        .expect("the headerless case");
        let root = tempfile::tempdir().expect("temp");
        let scans = root.path().join("scans");
        std::fs::create_dir_all(scans.join("run1")).expect("mkdir");
        std::fs::create_dir(root.path().join("out")).expect("mkdir");
        std::fs::write(scans.join("run1/0003.dcm"), &part10).expect("write");
        std::fs::write(scans.join("run1/0003"), &headerless).expect("write");
        std::fs::write(scans.join("run1/broken.dcm"), &part10[..part10.len() / 2]).expect("write");
        assert!(patient_name(&part10).is_some() && patient_name(&headerless).is_some());
        Some(Scans {
            root,
            part10,
            headerless,
        })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn arg(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn rules(&self) -> AccessRules {
        AccessRules::new([self.path("scans")], ["*"]).expect("rules")
    }
}

/// What the streamer itself said (the analyser's framing names the path it asked for).
fn streamer_message(err: &data_link::LinkError) -> &str {
    match err {
        data_link::LinkError::Remote { message, .. } => message,
        other => panic!("not the streamer's answer: {other}"),
    }
}

fn assert_same_image(sent: &[u8], stored: &[u8], what: &str) {
    let (a, b) = (
        imaging::volume_from_file(sent).expect("still converts"),
        imaging::volume_from_file(stored).expect("source converts"),
    );
    assert_eq!(a.voxels, b.voxels, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dicom_leaves_de_identified_through_every_send_path_unless_the_console_says_otherwise(
) {
    let Some(scans) = Scans::new() else { return };
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    for (station, identified) in [("private", false), ("identified", true)] {
        let mut config = StreamerConfig::new(station, scans.rules());
        config.send_identified = identified;
        let (_streamer, data) = connected(certs.path(), &analyser, config).await;
        let run1 = scans.arg("scans/run1");
        data.init_watch(&run1, "*", 1).await.expect("init_watch");
        for (name, stored) in [("0003.dcm", &scans.part10), ("0003", &scans.headerless)] {
            let path = format!("{run1}/{name}");
            let got = [
                ("get_file", data.get_file(&path).await.expect("get_file")),
                (
                    "get_newest_file",
                    data.get_newest_file(&path).await.expect("newest"),
                ),
                (
                    "watch_file",
                    data.watch_file(name, GUARD).await.expect("watch_file"),
                ),
            ];
            for (call, bytes) in got {
                let what = format!("{station}: {name} by {call}");
                if identified {
                    assert_eq!(bytes.as_ref(), stored.as_slice(), "{what}: as stored");
                } else {
                    assert_eq!(
                        patient_name(&bytes),
                        None,
                        "{what}: the name left the console"
                    );
                    assert_same_image(&bytes, stored, &what);
                }
            }
        }
        // DICOM by name that cannot be de-identified: refused, never sent as stored.
        let broken = data.get_file(&format!("{run1}/broken.dcm")).await;
        if identified {
            assert_eq!(broken.expect("as stored").len(), scans.part10.len() / 2);
        } else {
            let err = broken.expect_err("refused");
            assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
            assert!(err.to_string().contains("cannot be de-identified"), "{err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_asking_for_identified_data_is_refused_unless_the_console_allows_it() {
    let Some(scans) = Scans::new() else { return };
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    let pattern = "{TR:04d}";
    let run1 = scans.arg("scans/run1");

    let (private, data) = connected(
        certs.path(),
        &analyser,
        StreamerConfig::new("private", scans.rules()),
    )
    .await;
    let err = data
        .init_scanner_stream_at(&run1, pattern, 1, false, 3)
        .await
        .expect_err("anonymize=false refused");
    assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
    assert!(
        err.to_string().contains("--send-identified"),
        "names the fix: {err}"
    );
    // De-identified, the headerless file streams (named without extension: by content),
    // and its path is shown under the allowed folder's name.
    let stream = data
        .init_scanner_stream_at(&run1, pattern, 1, true, 3)
        .await
        .expect("a de-identified stream");
    let v = data
        .get_image_data(&stream, 3, GUARD)
        .await
        .expect("volume 3");
    assert_eq!(patient_name(&v.bytes), None, "the name left the console");
    assert_same_image(&v.bytes, &scans.headerless, "streamed headerless volume");
    assert_eq!(v.path, "scans/run1/0003");
    drop(private);

    let mut config = StreamerConfig::new("identified", scans.rules());
    config.send_identified = true;
    let (_identified, data) = connected(certs.path(), &analyser, config).await;
    let stream = data
        .init_scanner_stream_at(&run1, pattern, 1, false, 3)
        .await
        .expect("allowed by the console");
    let v = data
        .get_image_data(&stream, 3, GUARD)
        .await
        .expect("volume 3");
    assert_eq!(v.bytes.as_ref(), scans.headerless.as_slice(), "as stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_file_writes_only_into_writable_folders_and_replaces_only_when_asked() {
    let Some(scans) = Scans::new() else { return };
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    let scanner_file = scans.arg("scans/run1/0003.dcm");
    let (_plain, data) = connected(
        certs.path(),
        &analyser,
        StreamerConfig::new("plain", scans.rules()),
    )
    .await;
    let err = data
        .put_file(&scanner_file, Bytes::from_static(b"x"), true)
        .await
        .expect_err("no writable folder");
    assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
    assert!(err.to_string().contains("--writable-dirs"), "{err}");

    let rules = scans
        .rules()
        .with_writable_dirs([scans.path("out")])
        .expect("writable");
    let (_writer, data) = connected(
        certs.path(),
        &analyser,
        StreamerConfig::new("writer", rules),
    )
    .await;
    // The scanner's own file is not writable even when asked to overwrite.
    let err = data
        .put_file(&scanner_file, Bytes::from_static(b"x"), true)
        .await
        .expect_err("scans/ is not writable");
    assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
    assert_eq!(std::fs::read(&scanner_file).expect("read"), scans.part10);
    let out = scans.arg("out/run1/feedback.txt");
    data.put_file(&out, Bytes::from_static(b"1"), false)
        .await
        .expect("a new file");
    let err = data
        .put_file(&out, Bytes::from_static(b"2"), false)
        .await
        .expect_err("exists");
    assert!(err.to_string().contains("overwrite"), "{err}");
    assert_eq!(std::fs::read(&out).expect("read"), b"1");
    data.put_file("out/run1/feedback.txt", Bytes::from_static(b"3"), true)
        .await
        .expect("replaced when asked, named under the writable folder");
    assert_eq!(std::fs::read(&out).expect("read"), b"3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_reach_the_analyser_under_the_allowed_folder_and_refusals_say_no_more() {
    let Some(scans) = Scans::new() else { return };
    let secret = scans.path("secret");
    std::fs::create_dir(&secret).expect("mkdir");
    std::fs::write(secret.join("key.dcm"), b"k").expect("write");
    std::os::unix::fs::symlink(secret.join("key.dcm"), scans.path("scans/run1/link.dcm"))
        .expect("symlink");
    std::os::unix::fs::symlink(
        secret.join("gone.dcm"),
        scans.path("scans/run1/dangling.dcm"),
    )
    .expect("symlink");
    std::fs::hard_link(secret.join("key.dcm"), scans.path("scans/run1/hard.dcm"))
        .expect("hard link");
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    let (_streamer, data) = connected(
        certs.path(),
        &analyser,
        StreamerConfig::new("scanner", scans.rules()),
    )
    .await;
    let info = analyser.streamers.info("scanner").expect("info");
    assert_eq!(info.allowed_dirs, ["scans"]);
    let files = data.list_files("scans/run1/*").await.expect("list");
    assert_eq!(
        files,
        [
            "scans/run1/0003",
            "scans/run1/0003.dcm",
            "scans/run1/broken.dcm"
        ]
    );
    let dirs = data
        .list_dirs(&format!("{}/*", scans.arg("scans")))
        .await
        .expect("dirs");
    assert_eq!(dirs, ["scans/run1"]);
    // A listed path is a path to ask for.
    let got = data.get_file(&files[0]).await.expect("by its shown path");
    assert_eq!(patient_name(&got), None);
    // Refusals name the path asked for and nothing else: not where a link points, not
    // whether its target exists; a hard link to a file outside is not served.
    for name in ["link.dcm", "dangling.dcm"] {
        let asked = format!("{}/run1/{name}", scans.arg("scans"));
        let err = data.get_file(&asked).await.expect_err(name);
        assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
        let message = err.to_string();
        assert!(message.contains("outside the allowed folders"), "{message}");
        assert!(!message.contains("secret"), "{name}: {message}");
    }
    let err = data
        .get_file("scans/run1/hard.dcm")
        .await
        .expect_err("hard link");
    assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
    assert!(err.to_string().contains("hard link"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_files_and_hard_links_are_refused_alone_and_messages_name_no_folder_above() {
    let Some(scans) = Scans::new() else { return };
    let secret = scans.path("secret");
    std::fs::create_dir(&secret).expect("mkdir");
    std::fs::write(secret.join("key.dcm"), &scans.part10).expect("write");
    // A run whose volume 2 is a hard link to a file outside and volume 3 is larger
    // than the cap; volumes 1 and 4 are fine.
    let run2 = scans.path("scans/run2");
    std::fs::create_dir(&run2).expect("mkdir");
    std::fs::write(run2.join("0001.dcm"), &scans.headerless).expect("write");
    std::fs::hard_link(secret.join("key.dcm"), run2.join("0002.dcm")).expect("hard link");
    std::fs::write(run2.join("0003.dcm"), &scans.part10).expect("write");
    std::fs::write(run2.join("0004.dcm"), &scans.headerless).expect("write");
    let cap = scans.headerless.len() as u64;
    assert!(cap < scans.part10.len() as u64);
    let certs = certs();
    let analyser = analyser(certs.path()).await;
    let rules = scans.rules().with_max_file_size(cap);
    let (_streamer, data) = connected(
        certs.path(),
        &analyser,
        StreamerConfig::new("scanner", rules),
    )
    .await;
    // The console's folders above the allowed one never appear in a message.
    let above = scans.root.path().display().to_string();

    let err = data
        .get_file(&scans.arg("scans/run1/0003.dcm"))
        .await
        .expect_err("over the cap");
    assert_eq!(err.remote_code(), Some(Code::Refused), "{err}");
    let message = streamer_message(&err);
    assert!(
        message.contains(&format!("more than the {cap} bytes"))
            && message.contains("--max-file-size"),
        "says what and the fix: {message}"
    );
    assert!(message.contains("scans/run1/0003.dcm"), "{message}");
    assert!(!message.contains(&above), "{message}");
    let err = data
        .get_file(&scans.arg("scans/run2/0002.dcm"))
        .await
        .expect_err("hard link");
    let message = streamer_message(&err);
    assert!(message.contains("--allow-hard-links"), "{message}");
    assert!(!message.contains(&above), "{message}");

    let stream = data
        .init_scanner_stream_at(&scans.arg("scans/run2"), "{TR:04d}.dcm", 1, true, 1)
        .await
        .expect("stream");
    for index in 1..=4u32 {
        let got = data.get_image_data(&stream, index, GUARD).await;
        match index {
            2 | 3 => {
                let err = got.expect_err("refused, this volume only");
                let text = err.to_string();
                assert!(
                    matches!(err, data_link::LinkError::BadFile { index: i, .. } if i == index),
                    "{text}"
                );
                let why = if index == 2 {
                    "hard link"
                } else {
                    "--max-file-size"
                };
                assert!(text.contains(why), "volume {index}: {text}");
                assert!(
                    text.contains(&format!("scans/run2/000{index}.dcm")),
                    "{text}"
                );
                assert!(!text.contains(&above), "volume {index}: {text}");
            }
            _ => {
                let v = got.unwrap_or_else(|e| panic!("volume {index}: {e}"));
                assert_eq!(v.path, format!("scans/run2/000{index}.dcm"));
                assert_eq!(patient_name(&v.bytes), None, "volume {index}");
            }
        }
    }
}
