//! Any bytes as a recording: reading it never panics and never loops forever.
#![no_main]

use kpeek_monitor::record::Replayer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = Replayer::new(data) {
        let mut n = 0;
        while let Ok(Some(_)) = r.next_round() {
            n += 1;
            assert!(n <= data.len());
        }
    }
});
