//! Fuzz target: arbitrary bytes through everything that reads scanner DICOM (the
//! console's completeness prescan and the timeline's header walk, parse, pixel
//! decoding, one-file conversion, de-identification).
//!
//! Any panic, timeout or allocation beyond libFuzzer's RSS limit is a bug: the crate
//! must answer every input with a value or an `ImagingError`.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static PANIC_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys's panic hook aborts even inside `catch_unwind`, which the crate uses
    // around third-party codecs. This hook prints the message only (a backtrace costs
    // milliseconds per caught panic); a panic that escapes still aborts (libfuzzer-sys
    // checks after the call), so it is still a crash.
    PANIC_HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
    let _ = imaging::prescan::prescan(data);
    let _ = imaging::prescan::header_times(data);
    if let Ok(file) = imaging::parse(data) {
        let _ = imaging::pixels::decode_frames(&file);
    }
    let _ = imaging::volume_from_file(data);
    if let Ok(clean) = imaging::deid::Deidentifier::new().deidentify(data) {
        // De-identified output must itself be readable.
        let _ = imaging::parse(&clean);
    }
});
