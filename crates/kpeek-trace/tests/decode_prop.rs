//! Property tests of record decoding: any bytes against any layout decode or fail cleanly,
//! and dynamic strings come back exactly.

use kpeek_trace::format::EventFormat;
use kpeek_trace::value::Value;
use proptest::prelude::*;

const FMT: &str = "name: p
ID: 9
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;
\tfield:__rel_loc u32[] vals;\toffset:12;\tsize:4;\tsigned:0;
\tfield:long l;\toffset:16;\tsize:8;\tsigned:1;
\tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:0;
\tfield:unsigned long args[2];\toffset:40;\tsize:16;\tsigned:0;
\tfield:char buf[];\toffset:56;\tsize:0;\tsigned:0;

print fmt: \"\"
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_decode_or_fail_cleanly(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let f = EventFormat::parse(FMT).unwrap();
        let _ = f.decode_common(&raw);
        if let Err(e) = f.decode(&raw) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn dynamic_fields_round_trip(
        name in "[^\\x00]{0,40}",
        vals in proptest::collection::vec(any::<u32>(), 0..8),
        l in any::<i64>(),
        comm in "[a-z]{0,15}",
        pad in 0usize..8,
    ) {
        let f = EventFormat::parse(FMT).unwrap();
        let mut r = vec![0u8; 56];
        r[16..24].copy_from_slice(&l.to_ne_bytes());
        r[24..24 + comm.len()].copy_from_slice(comm.as_bytes());
        r.extend(std::iter::repeat_n(0xee, pad));
        // name, NUL-terminated as the kernel stores it.
        let name_off = r.len();
        r.extend_from_slice(name.as_bytes());
        r.push(0);
        let name_len = name.len() + 1;
        let vals_off = r.len();
        for v in &vals {
            r.extend_from_slice(&v.to_ne_bytes());
        }
        r[8..12].copy_from_slice(&(((name_len as u32) << 16) | name_off as u32).to_ne_bytes());
        let rel = (vals_off - 16) as u32; // relative to the end of the descriptor at 12..16
        r[12..16].copy_from_slice(&(((vals.len() as u32 * 4) << 16) | rel).to_ne_bytes());
        let got = f.decode(&r).unwrap();
        prop_assert_eq!(&got[0], &("name", Value::Str(name.clone())));
        prop_assert_eq!(
            &got[1],
            &("vals", Value::Array(vals.iter().map(|&v| Value::U64(u64::from(v))).collect()))
        );
        prop_assert_eq!(&got[2], &("l", Value::I64(l)));
        prop_assert_eq!(&got[3], &("comm", Value::Str(comm)));
        // Every truncation is an error or a shorter flex array, never a panic.
        for cut in 0..r.len() {
            let _ = f.decode(&r[..cut]);
        }
    }
}
