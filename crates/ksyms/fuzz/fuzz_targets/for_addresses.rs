//! Any bytes as a table and a few addresses: the one-pass table for those addresses never
//! panics, never answers where the whole table is an error, and answers like the whole table.
//!
//! Run: `cd crates/ksyms/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run for_addresses -s none`
#![no_main]

use ksyms::Ksyms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = Ksyms::parse(data);
    let mut addrs: Vec<u64> = match &whole {
        Ok(ks) => ks
            .symbols()
            .take(4)
            .flat_map(|s| [s.addr, s.addr.wrapping_add(3)])
            .collect(),
        Err(_) => Vec::new(),
    };
    addrs.push(u64::from_le_bytes(
        data.iter()
            .copied()
            .chain([0; 8])
            .take(8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    ));
    let few = Ksyms::parse_for_addresses(data, &addrs);
    match (&whole, &few) {
        (Err(_), Some(_)) => panic!("answered where the whole table is an error"),
        (Ok(whole), Some(few)) => {
            for &q in &addrs {
                let a = whole
                    .lookup(q)
                    .map(|r| (r.to_string(), r.size, whole.is_exported(&r.symbol)));
                let b = few
                    .lookup(q)
                    .map(|r| (r.to_string(), r.size, few.is_exported(&r.symbol)));
                assert_eq!(a, b, "{q:#x}");
            }
        }
        _ => {}
    }
});
