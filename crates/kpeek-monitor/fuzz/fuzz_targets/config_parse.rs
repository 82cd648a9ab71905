//! Any text as a kpeek.toml: parsing never panics, and an error names a place in the file.
#![no_main]

use kpeek_monitor::config::parse_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse_config(text, "f.toml") {
        assert!(e.place.starts_with("f.toml"), "{e}");
    }
});
