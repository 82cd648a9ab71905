//! The expression parser on arbitrary text: a value or an error naming a column, never a panic;
//! what parses prints back to the same expression.
#![no_main]

use kpeek_peek::expr::Expr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match Expr::parse(s) {
        Ok(e) => assert_eq!(Expr::parse(&e.to_string()).unwrap(), e),
        Err(err) => assert!(err.pos <= s.len()),
    }
});
