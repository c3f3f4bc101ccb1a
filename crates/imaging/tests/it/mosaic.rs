//! Siemens mosaic conversion and pixel decoding against dcm2niix's references.

use imaging::pixels::{decode_frames, FrameData};

use crate::testdata::shared_testdata;

/// Every transfer syntax of the same image decodes to the same stored values.
#[test]
fn transfer_syntaxes_decode_alike() {
    let Some(td) = shared_testdata() else { return };
    let dir = td.join("transfer-syntaxes");
    let mut first: Option<FrameData> = None;
    for n in 1..=9 {
        let path = dir.join(format!("{n}.dcm"));
        let bytes = std::fs::read(&path).expect("read transfer-syntax file");
        let file = imaging::parse(&bytes).expect("parses");
        let frames = decode_frames(&file)
            .unwrap_or_else(|e| panic!("{n}.dcm ({}): {e}", file.transfer_syntax()));
        assert_eq!(frames.data.len(), frames.rows * frames.cols * frames.frames);
        match &first {
            None => first = Some(frames.data),
            Some(f) => assert!(
                *f == frames.data,
                "{n}.dcm ({}) differs",
                file.transfer_syntax()
            ),
        }
    }
}
