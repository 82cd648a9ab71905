//! Any bytes: loading never panics, and whatever loads answers queries consistently.
//!
//! Run: `cd crates/ksyms/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse -s none`
#![no_main]

use ksyms::{Ksyms, LoadOptions, Mode, SymExpr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for lenient in [false, true] {
        let Ok(ks) = Ksyms::parse_named(
            data,
            "fuzz",
            &LoadOptions {
                lenient,
                ..LoadOptions::default()
            },
        ) else {
            continue;
        };
        assert!(!ks.is_empty());
        // Lookups at every symbol address and around it agree with the symbol found.
        for s in ks.symbols().take(256) {
            for q in [s.addr, s.addr.wrapping_add(1), s.addr.wrapping_sub(1)] {
                if let Some(r) = ks.lookup(q) {
                    assert_eq!(r.symbol.addr + r.offset, q);
                    assert!(r.size.is_none_or(|z| r.offset < z), "{r}");
                    let text = r.to_string();
                    let back = ks.resolve_expr(&SymExpr::parse(&text).expect("own output parses"));
                    assert!(back.iter().any(|b| b.addr == q), "{text}");
                }
            }
            assert!(ks.find(s.name).iter().any(|f| f.index() == s.index()));
        }
        let stats = ks.stats();
        assert_eq!(stats.symbols, ks.len());
        let text = String::from_utf8_lossy(data);
        let out = ks.symbolize_text(&text, Mode::Replace);
        assert!(out.found <= text.len());
    }
});
