//! BTF from arbitrary bytes: every type the BTF type source hands out, named, sized and walked
//! for members; never a panic in kpeek's code.
#![no_main]

use kpeek_peek::btf::BtfTypes;
use kpeek_peek::types::{TypeRef, Types};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(b) = BtfTypes::from_bytes(data, "fuzz") else { return };
    let _ = b.percpu_vars();
    let mut types = Types::new();
    let src = types.add(Box::new(b));
    for id in 0..64u64 {
        let r = TypeRef { src, id };
        let _ = types.name(r);
        let _ = types.size_of(r);
        let _ = types.member(r, "a");
    }
});
