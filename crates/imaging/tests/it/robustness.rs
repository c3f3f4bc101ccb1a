//! Incomplete, truncated and forged input: always an error, never a panic or a large
//! allocation.

use imaging::{parse, ImagingError};

use crate::testdata::{read_dir_files, shared_testdata};

const SKYRA: &str = "siemens-mosaic-skyra-e11/001_000013_000003.dcm";

fn read(rel: &str) -> Option<Vec<u8>> {
    let dir = shared_testdata()?;
    let path = dir.join(rel);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

/// The byte offset where the (7FE0,0010) element header starts.
fn pixel_data_offset(bytes: &[u8]) -> usize {
    let needle = [0xE0, 0x7F, 0x10, 0x00, b'O'];
    bytes
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("explicit VR pixel data header in the test file")
}

#[test]
fn truncated_scanner_file_is_incomplete() {
    let Some(bytes) = read("truncated/trunc_001_000013_000005.dcm") else {
        return;
    };
    match parse(&bytes) {
        Err(ImagingError::Incomplete(message)) => {
            assert!(message.contains("7FE0,0010"), "{message}");
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[test]
fn every_prefix_is_incomplete_or_invalid() {
    let Some(bytes) = read(SKYRA) else { return };
    assert!(parse(&bytes).is_ok(), "the whole file parses");
    let pixels = pixel_data_offset(&bytes);
    // Every byte through the file meta group and the first elements, every 23rd byte
    // through the rest of the header (CSA headers), every byte around the pixel data
    // element header, every 97th byte through the pixel data, and the last few bytes.
    let cuts = (0..4096)
        .chain((4096..pixels).step_by(23))
        .chain(pixels - 16..pixels + 16)
        .chain((pixels..bytes.len()).step_by(97))
        .chain(bytes.len() - 4..bytes.len());
    let mut checked = 0;
    for cut in cuts {
        match parse(&bytes[..cut]) {
            Err(ImagingError::Incomplete(_)) | Err(ImagingError::Invalid(_)) => checked += 1,
            other => panic!("prefix of {cut} bytes: expected Incomplete/Invalid, got {other:?}"),
        }
    }
    assert!(checked > 10_000, "checked {checked} prefixes");
}

#[test]
fn every_prefix_of_every_transfer_syntax_fails_cleanly() {
    let Some(dir) = shared_testdata() else { return };
    let files = read_dir_files(&dir.join("transfer-syntaxes"));
    assert_eq!(files.len(), 9, "nine transfer-syntax files");
    for (path, bytes) in files {
        assert!(parse(&bytes).is_ok(), "{} parses whole", path.display());
        let step = (bytes.len() / 3000).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let result = parse(&bytes[..cut]);
            assert!(
                matches!(
                    result,
                    Err(ImagingError::Incomplete(_)) | Err(ImagingError::Invalid(_))
                ),
                "{} cut at {cut}: {result:?}",
                path.display()
            );
        }
    }
}

#[test]
fn forged_huge_pixel_length_fails_fast() {
    let Some(mut bytes) = read(SKYRA) else { return };
    let length_at = pixel_data_offset(&bytes) + 8;
    bytes[length_at..length_at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    // The forged length must be checked against the bytes present, not allocated.
    match parse(&bytes) {
        Err(ImagingError::Incomplete(message)) => {
            assert!(message.contains("(7FE0,0010)"), "{message}")
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[test]
fn short_native_pixel_data_is_incomplete() {
    let Some(mut bytes) = read(SKYRA) else { return };
    // Declare (and keep) 2 bytes fewer pixel data than rows x columns x 16 bits.
    let length_at = pixel_data_offset(&bytes) + 8;
    let declared = u32::from_le_bytes(bytes[length_at..length_at + 4].try_into().expect("4 bytes"));
    bytes[length_at..length_at + 4].copy_from_slice(&(declared - 2).to_le_bytes());
    bytes.truncate(bytes.len() - 2);
    match parse(&bytes) {
        Err(ImagingError::Incomplete(message)) => {
            assert!(message.contains("2 missing"), "{message}")
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[test]
fn garbage_is_invalid() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(matches!(parse(&garbage), Err(ImagingError::Invalid(_))));
    assert!(matches!(parse(b""), Err(ImagingError::Incomplete(_))));
}

#[test]
fn unknown_vr_is_invalid_not_read_with_a_forged_length() {
    // Found by fuzzing: a VR changed to an unknown one ("LO" to "LS"). The parser reads
    // an unknown VR with a 4-byte length (there the next bytes, about 4 GB), so the
    // pre-scan must refuse it instead of checking a 2-byte length. Here Modality's "CS".
    let Some(mut bytes) = read(SKYRA) else { return };
    let tag = [0x08, 0x00, 0x60, 0x00, b'C', b'S'];
    let at = bytes
        .windows(tag.len())
        .position(|w| w == tag)
        .expect("the Skyra file has Modality (0008,0060)");
    bytes[at + 5] = b'X';
    match parse(&bytes) {
        Err(ImagingError::Invalid(message)) => {
            assert!(message.contains("unknown VR CX"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}
