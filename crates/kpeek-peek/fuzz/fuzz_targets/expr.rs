//! The expression parser on arbitrary text: a value or an error naming a column, never a panic;
//! what parses prints back to the same expression; any text without `"` or NUL, quoted, is one
//! symbol name (the quoting rule for names like `counter.12`).
#![no_main]

use kpeek_peek::expr::{Base, Expr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match Expr::parse(s) {
        Ok(e) => assert_eq!(Expr::parse(&e.to_string()).unwrap(), e),
        Err(err) => assert!(err.pos <= s.len()),
    }
    if !s.is_empty() && !s.contains(['"', '\0']) {
        let e = Expr::parse(&format!("m:\"{s}\"->x")).unwrap();
        assert_eq!(e.base, Base::Symbol { module: Some("m".into()), name: s.to_string() });
        assert_eq!(Expr::parse(&e.to_string()).unwrap(), e);
    }
});
