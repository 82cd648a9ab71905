//! Map keys and values of any bytes, decoded without BTF: never a panic, always printable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (flag, bytes) = data.split_first().unwrap_or((&0, &[]));
    let d = kpeek_bpf::decode::guess(bytes, flag & 1 == 1);
    let _ = d.to_string();
    let _ = serde_json::to_string(&d).expect("JSON of a decoded value");
});
