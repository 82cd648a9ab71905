//! Arbitrary pattern and text: the segment form never panics and answers as the kernel's
//! matcher does.
#![no_main]

use kpeek_filter::glob::{Glob, glob_match};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let Ok(pat) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let text = data.get(split + 1..).unwrap_or_default();
    let kernel = match pat.strip_prefix('!') {
        Some(body) => !glob_match(body.as_bytes(), text),
        None => glob_match(pat.as_bytes(), text),
    };
    assert_eq!(Glob::parse(pat).matches(text), kernel);
});
