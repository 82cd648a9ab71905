//! Any bytes as a trace_pipe_raw page: parsing never panics and events stay inside the page.
#![no_main]

use kpeek_trace::tracefs::ring::{PageLayout, parse_page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let layout = PageLayout::default();
    if let Ok(page) = parse_page(&layout, data) {
        let total: usize = page.events.iter().map(|e| e.data.len()).sum();
        assert!(total <= data.len());
    }
});
