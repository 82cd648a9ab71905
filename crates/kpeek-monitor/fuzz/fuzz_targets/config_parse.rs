//! Any text as a kpeek.toml: parsing never panics, and an error names a place in the file (a
//! line and column inside it, or the file as a whole).
#![no_main]

use kpeek_monitor::config::{Place, parse_config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse_config(text, "f.toml") {
        match &e.place {
            Place::File { file, line, col } => {
                assert_eq!(file, "f.toml", "{e}");
                assert!(*line >= 1 && *line <= text.lines().count() + 1, "{e}");
                assert!(*col >= 1, "{e}");
            }
            Place::WholeFile { file } => assert_eq!(file, "f.toml", "{e}"),
            other => panic!("an error of a file placed at {other}: {e}"),
        }
    }
});
