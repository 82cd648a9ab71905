//! ELF notes from arbitrary bytes (the running kernel's build-id, `/sys/kernel/notes`): never a
//! panic, and a build-id found lies inside the input.
#![no_main]

use kpeek_peek::buildid::parse_notes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = parse_notes(data) {
        assert!(!id.is_empty() && id.len() <= data.len());
    }
});
