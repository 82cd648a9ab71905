//! Every binary parser of kpeek-client on arbitrary bytes: the `read()` snapshot of /dev/kpeek,
//! the counter mapping, ring records and netlink attributes (counters, info, events). No panic,
//! and what parses obeys the layout: a snapshot is exactly header + count records, a record's
//! length is a multiple of 8 within the input.
//!
//!     cd crates/kpeek-client/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run binary_abi -s none
#![no_main]

use kpeek_client::ring::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = kpeek_client::chardev::parse_snapshot(data) {
        let h = &s.header;
        assert_eq!(
            data.len(),
            h.header_size as usize + h.count as usize * h.record_size as usize
        );
        assert_eq!(s.records.len(), h.count as usize);
    }
    if let Ok((h, slots)) = kpeek_client::mmap::parse_map_bytes(data) {
        assert!(h.count <= h.capacity);
        assert_eq!(slots.len(), h.count as usize);
    }
    match kpeek_client::ring::parse_record(data) {
        Ok(Parsed::Record(_, n)) | Ok(Parsed::Pad(n)) => {
            assert!(n <= data.len() && n % 8 == 0 && n > 0)
        }
        Err(_) => {}
    }
    if let Ok(attrs) = kpeek_client::netlink::parse_attrs(data) {
        let a = kpeek_client::netlink::Attrs(
            attrs.into_iter().map(|(t, v)| (t, v.to_vec())).collect(),
        );
        let _ = kpeek_client::netlink::decode_counter(&a);
        let _ = kpeek_client::netlink::decode_info(&a);
        let _ = kpeek_client::notify::decode_notification(&a);
    }
});
