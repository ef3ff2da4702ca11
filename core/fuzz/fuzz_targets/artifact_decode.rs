//! Fuzzes the library-artifact decoder: it must return `Ok` or `Err` for any bytes, never
//! panic, and whatever it accepts must re-encode to the same bytes.
#![no_main]

use hapscope_core::artifact::LibraryArtifact;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = LibraryArtifact::decode(data) {
        // Fuzz builds skip the checksum check, so compare everything before it.
        let n = data.len() - 4;
        assert_eq!(&a.encode()[..n], &data[..n], "accepted input must round-trip");
        if let Some(lib) = a.library() {
            let _ = lib;
        }
    }
});
