//! Every pseudo-file parser of kpeek-client on arbitrary bytes: no panic, and whatever parses
//! prints back to exactly the same bytes (the parsers accept only the kernel's own format).
//!
//!     cd crates/kpeek-client/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run pseudo_files -s none
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = kpeek_client::procfs::parse(data) {
        let text: String = rows
            .iter()
            .map(|r| format!("{} {} {}\n", r.group, r.counter, r.value))
            .collect();
        assert_eq!(text.as_bytes(), data);
    }
    if let Ok(v) = kpeek_client::sysfs::parse_value(data) {
        assert_eq!(format!("{v}\n").as_bytes(), data);
    }
    if let Ok(stats) = kpeek_client::debugfs::parse_stats(data) {
        let text: String = stats.iter().map(|s| format!("{} {}\n", s.key, s.value)).collect();
        assert_eq!(text.as_bytes(), data);
    }
});
