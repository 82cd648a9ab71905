//! A compressed `.ko` from arbitrary bytes (xz, zstd, gzip by magic): never a panic, and never
//! more output than the cap of 64 times the input.
#![no_main]

use kpeek_peek::kofile::{decompress, decompressed_cap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(out)) = decompress(data, std::path::Path::new("fuzz.ko")) {
        assert!(out.len() as u64 <= decompressed_cap(data.len()));
    }
});
