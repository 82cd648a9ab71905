//! The ksyms counterpart of `blazesym_sym.rs`: the least program answering one address from
//! a saved table with this crate, so the library's whole-process cost can be compared with
//! blazesym's apart from the `kpeek` binary's start-up (docs/benchmarks.md).
//!
//! `cargo run --release -p ksyms --example ksyms_sym -- FILE 0xADDR`

use ksyms::Ksyms;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: ksyms_sym FILE 0xADDR");
        std::process::exit(2);
    };
    let addr = u64::from_str_radix(addr.trim_start_matches("0x"), 16).expect("a hex address");
    let ks = match Ksyms::for_addresses(&file, &[addr]) {
        Some(ks) => ks,
        None => Ksyms::from_path(&file).expect("a readable symbol table"),
    };
    match ks.lookup(addr) {
        Some(s) => println!("{addr:#x}  {}+{:#x}", s.symbol.name, s.offset),
        None => println!("{addr:#x}  (no symbol)"),
    }
}
