//! The type walker and value decoder on made-up types, memory and expressions: never a panic.
#![no_main]

use kpeek_peek::expr::Expr;
use kpeek_peek::testkit::{VecMemory, types_from_bytes};
use kpeek_peek::value::decode;
use kpeek_peek::walk::{Place, walk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [n_types_bytes][types...][expr_len][expr...][memory...]
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n).min(rest.len());
    let (tydata, rest) = rest.split_at(n);
    let Some((&m, rest)) = rest.split_first() else { return };
    let m = usize::from(m).min(rest.len());
    let (etext, mem) = rest.split_at(m);
    let (types, made) = types_from_bytes(tydata);
    let Ok(text) = std::str::from_utf8(etext) else { return };
    let Ok(e) = Expr::parse(&format!("x{text}")) else { return };
    let base = 0xffff_8880_0000_0000u64;
    let memory = VecMemory { base, bytes: mem.to_vec() };
    for &ty in &made {
        let _ = types.name(ty);
        let _ = decode(&types, ty, mem, None, 3);
        if let Ok(place) = walk(&types, &memory, &e, 0, Place { addr: base, ty, bits: None }) {
            let _ = types.size_of(place.ty);
        }
    }
});
