//! Guessing without BTF: never panics, and integers and strings come back as they went in.

use kpeek_bpf::decode::{Decoded, guess};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_bytes_decode_without_panic(b in prop::collection::vec(any::<u8>(), 0..200), key in any::<bool>()) {
        let d = guess(&b, key);
        let _ = d.to_string();
        let _ = serde_json::to_string(&d).unwrap();
    }

    #[test]
    fn integers_of_1_2_4_8_bytes_are_read_back(v in any::<u64>(), n in prop::sample::select(vec![1usize, 2, 4, 8])) {
        let b = &v.to_ne_bytes()[..n];
        let want = if n == 8 { v } else { v & ((1u64 << (8 * n)) - 1) };
        prop_assert_eq!(guess(b, true), Decoded::UInt(want));
    }

    #[test]
    fn nul_padded_strings_are_read_back(s in "[ -~]{1,15}", pad in 1usize..20) {
        let mut b = s.as_bytes().to_vec();
        b.resize(b.len() + pad, 0);
        if ![1, 2, 4, 8].contains(&b.len()) {
            prop_assert_eq!(guess(&b, true), Decoded::Str(s));
        }
    }
}

#[test]
fn examples() {
    assert_eq!(
        guess(b"bash\0\0\0\0\0\0\0\0\0\0\0\0", true),
        Decoded::Str("bash".into())
    );
    assert_eq!(
        guess(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], false),
        Decoded::Array(vec![Decoded::UInt(1), Decoded::UInt(2)])
    );
    assert_eq!(guess(&[1, 2, 3], false), Decoded::Bytes(vec![1, 2, 3]));
    assert_eq!(guess(&[1, 2, 3], false).to_string(), "[01 02 03]");
}
