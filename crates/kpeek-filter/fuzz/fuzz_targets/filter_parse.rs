//! Any input: the parser returns an AST or an error, never panics; an AST prints to a filter
//! that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(e) = kpeek_filter::parse(s) {
        let text = e.to_string();
        assert_eq!(kpeek_filter::parse(&text).ok(), Some(e), "{text}");
    }
});
