//! Any bytes as a format file: parse never panics; what parses has a consistent layout.
#![no_main]

use kpeek_trace::format::EventFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match EventFormat::parse(text) {
        Ok(f) => {
            for field in f.common_fields.iter().chain(&f.fields) {
                // Every field ends within u32 range (the parser checks it).
                assert!(field.offset + field.size <= u32::MAX as usize);
                let _ = field.kind.describe();
            }
            let _ = f.min_record_size();
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e}");
        }
    }
});
