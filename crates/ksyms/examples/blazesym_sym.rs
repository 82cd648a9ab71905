//! The reference program for `kpeek sym --kallsyms FILE ADDR`'s whole-process benchmark
//! (docs/benchmarks.md): the least code that answers the same question with blazesym.
//!
//! `cargo run --release -p ksyms --example blazesym_sym -- FILE 0xADDR`

use blazesym::MaybeDefault;
use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: blazesym_sym FILE 0xADDR");
        std::process::exit(2);
    };
    let addr = u64::from_str_radix(addr.trim_start_matches("0x"), 16).expect("a hex address");
    let src = Source::Kernel(Kernel {
        kallsyms: MaybeDefault::Some(file.into()),
        vmlinux: MaybeDefault::None,
        debug_syms: false,
        ..Kernel::default()
    });
    let symbolizer = Symbolizer::new();
    let syms = symbolizer
        .symbolize(&src, Input::AbsAddr(&[addr]))
        .expect("symbolize");
    match &syms[0] {
        Symbolized::Sym(s) => println!("{addr:#x}  {}+{:#x}", s.name, s.offset),
        Symbolized::Unknown(_) => println!("{addr:#x}  (no symbol)"),
    }
}
