//! Bad files in a scanner folder (issue 19): each fails its own volume only. A run
//! written at TR pace with an empty file, a file cut short for good, a file with a
//! forged length and a file that cannot be de-identified, through the real streamer
//! and analyser over TLS: every good volume arrives once and in order, and each bad
//! index gives an error naming its file and why. Also: a stream opened on a folder the
//! scanner has not created yet waits for it.

use std::path::Path;
use std::time::Duration;

use data_link::streamer::StreamerConfig;
use data_link::LinkError;
use filestore::AccessRules;

use crate::harness::{analyser, certs, connected, shared_testdata, GUARD};

const PATTERN: &str = "001_000013_{TR:06d}.dcm";
const TR: Duration = Duration::from_millis(150);

/// What the scanner (or a person) leaves at an index.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    Empty,
    CutShort,
    ForgedLength,
    NotDeidentifiable,
}

impl Bad {
    /// The bytes written instead of the good file.
    fn bytes(self, good: &[u8]) -> Vec<u8> {
        match self {
            Bad::Empty => Vec::new(),
            Bad::CutShort => good[..good.len() * 3 / 5].to_vec(),
            Bad::ForgedLength => forge_pixel_data_length(good),
            Bad::NotDeidentifiable => unknown_transfer_syntax(good),
        }
    }

    /// Words the error must contain besides the file name.
    fn reason(self) -> &'static str {
        match self {
            Bad::Empty => "empty",
            Bad::CutShort | Bad::ForgedLength => "not complete",
            Bad::NotDeidentifiable => "cannot be de-identified",
        }
    }
}

/// PixelData (7FE0,0010), explicit VR little endian, announcing 4 KiB more than it has.
fn forge_pixel_data_length(good: &[u8]) -> Vec<u8> {
    let mut bytes = good.to_vec();
    let at = bytes
        .windows(8)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0])
        .expect("PixelData OW in explicit VR LE");
    let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
    bytes[at + 8..at + 12].copy_from_slice(&(len + 4096).to_le_bytes());
    bytes
}

/// The file with a transfer syntax no reader knows (same length, so it stays complete).
fn unknown_transfer_syntax(good: &[u8]) -> Vec<u8> {
    let mut bytes = good.to_vec();
    let known = b"1.2.840.10008.1.2.1\0";
    let at = bytes
        .windows(known.len())
        .position(|w| w == known)
        .expect("explicit VR little endian transfer syntax");
    bytes[at..at + known.len()].copy_from_slice(b"1.2.840.99999.9.9.9\0");
    bytes
}

/// A streamer serving `scans` (.dcm), with the default bad-file bound.
fn config(scans: &Path) -> StreamerConfig {
    StreamerConfig::new("skyra", AccessRules::new([scans], [".dcm"]).expect("rules"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_fail_their_volume_only_and_the_run_goes_on() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let skyra = testdata.join("siemens-mosaic-skyra-e11");
    let sources: Vec<Vec<u8>> = (0..11)
        .map(|i| std::fs::read(skyra.join(format!("001_000013_{i:06}.dcm"))).expect("source"))
        .collect();
    let bad_at = |index: usize| match index {
        3 => Some(Bad::Empty),
        5 => Some(Bad::CutShort),
        7 => Some(Bad::ForgedLength),
        9 => Some(Bad::NotDeidentifiable),
        _ => None,
    };

    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    let (_streamer, data) = connected(certs.path(), &analyser, config(scans.path())).await;
    // The scanner has not made the session folder yet: the stream waits for it.
    let session_dir = scans.path().join("Doe, Jane 20261130");
    let dir = session_dir.display().to_string();
    let opening = {
        let data = data.clone();
        tokio::spawn(async move { data.init_scanner_stream_at(&dir, PATTERN, 0, true, 0).await })
    };

    // The scanner: one file per TR, written in pieces like a scanner writes.
    let scanner = {
        let (dir, sources) = (session_dir.clone(), sources.clone());
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(TR * 2);
            std::fs::create_dir(&dir).expect("the scanner makes its session folder");
            for (index, good) in sources.iter().enumerate() {
                let bytes = bad_at(index).map_or_else(|| good.clone(), |b| b.bytes(good));
                write_in_pieces(&dir.join(format!("001_000013_{index:06}.dcm")), &bytes);
                std::thread::sleep(TR);
            }
        })
    };
    let stream = opening
        .await
        .expect("task")
        .expect("init_scanner_stream waits for the folder");

    for (index, good) in sources.iter().enumerate() {
        let got = data.get_image_data(&stream, index as u32, GUARD).await;
        let name = format!("001_000013_{index:06}.dcm");
        match bad_at(index) {
            None => {
                let v = got.unwrap_or_else(|e| panic!("volume {index}: {e}"));
                assert_eq!(v.index, index as u32);
                let received = imaging::volume_from_file(&v.bytes).expect("decodes");
                let source = imaging::volume_from_file(good).expect("source decodes");
                assert_eq!(received.voxels, source.voxels, "voxels of volume {index}");
            }
            Some(bad) => {
                let e = got.expect_err("a bad file is an error for its index");
                let text = e.to_string();
                assert!(
                    matches!(e, LinkError::BadFile { index: i, .. } if i == index as u32),
                    "{text}"
                );
                assert!(text.contains(&name), "names the file: {text}");
                assert!(text.contains(bad.reason()), "{bad:?}: says why: {text}");
            }
        }
        let again = data
            .get_image_data(&stream, index as u32, Duration::from_millis(1))
            .await
            .expect_err("each index once");
        assert!(matches!(again, LinkError::AlreadyTaken { .. }), "{again}");
    }
    scanner.await.expect("scanner");
    let info = analyser.streamers.info("skyra").expect("info");
    assert_eq!(info.volumes, sources.len() as u64, "every index once");
}

/// Writes `bytes` into `path` in four pieces, as a scanner's writes arrive.
fn write_in_pieces(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create");
    for piece in bytes.chunks(bytes.len().div_ceil(4).max(1)) {
        file.write_all(piece).expect("write");
        file.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_that_never_appears_or_is_outside_fails_clearly() {
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    let (_streamer, data) = connected(certs.path(), &analyser, config(scans.path())).await;
    // Outside the allowed folders: refused at once, not waited for.
    let outside = tempfile::tempdir().expect("temp");
    let started = std::time::Instant::now();
    let e = data
        .init_scanner_stream(
            &outside.path().join("later").display().to_string(),
            PATTERN,
            0,
            true,
        )
        .await
        .expect_err("outside");
    assert!(e.is_refused(), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not waited for"
    );

    // A folder that appears as a link to outside the allowed folders is refused then.
    let link = scans.path().join("appears-later");
    let target = outside.path().to_owned();
    let maker = {
        let link = link.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::os::unix::fs::symlink(&target, &link).expect("symlink");
        })
    };
    let e = data
        .init_scanner_stream(&link.display().to_string(), PATTERN, 0, true)
        .await
        .expect_err("it leads outside");
    maker.await.expect("maker");
    assert!(e.is_refused(), "{e}");
}
