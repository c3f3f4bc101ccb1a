//! Fuzz target: arbitrary bytes through everything that reads scanner DICOM.
//!
//! Any panic, timeout or allocation beyond libFuzzer's RSS limit is a bug: the crate
//! must answer every input with a value or an `ImagingError`.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static DEFAULT_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys's panic hook aborts even inside `catch_unwind`, which the crate uses
    // around third-party codecs; a panic that escapes is still a crash (libfuzzer-sys
    // aborts on it after the call).
    // Restoring the default hook keeps the message of every panic in the log.
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    if let Ok(file) = imaging::parse(data) {
        let _ = imaging::pixels::decode_frames(&file);
    }
    let _ = imaging::volume_from_file(data);
});
