//! Any Markdown: the parser returns examples or an error naming a line, never panics; every
//! example's command is non-empty text from the input, and a pattern with no wildcard matches
//! exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match kpeek_docex::parse("fuzz.md", s) {
        Ok(examples) => {
            for ex in examples {
                assert!(ex.line >= 1 && ex.line <= s.lines().count());
                let first = ex.command.lines().next().unwrap_or("");
                assert!(s.contains(first));
                for p in &ex.expected {
                    if !p.contains("[..]") {
                        assert!(kpeek_docex::line_matches(p, p));
                    }
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
