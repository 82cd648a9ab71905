//! `cargo bench -p ksyms --bench ksyms`: parse+index and lookups, ksyms next to blazesym on the
//! same file, and the live table next to a bare read of it. `--bench compare` prints the ratios.

use std::path::PathBuf;
use std::sync::LazyLock;

use blazesym::MaybeDefault;
use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input, Symbolizer};
use divan::{Bencher, black_box};
use ksyms::Ksyms;

#[path = "common.rs"]
mod common;

static FILE: LazyLock<PathBuf> = LazyLock::new(common::kallsyms_copy);
static TABLE: LazyLock<Ksyms> = LazyLock::new(|| Ksyms::from_path(&*FILE).unwrap());
static ADDRS: LazyLock<Vec<u64>> = LazyLock::new(|| common::addresses(&TABLE, 1000));
/// A million random addresses: the table's lines come from L3 or memory, not L1.
static MANY: LazyLock<Vec<u64>> = LazyLock::new(|| common::addresses(&TABLE, 1_000_000));

fn blaze_source() -> Source<'static> {
    Source::Kernel(Kernel {
        kallsyms: MaybeDefault::Some(FILE.clone()),
        vmlinux: MaybeDefault::None,
        debug_syms: false,
        ..Kernel::default()
    })
}

fn main() {
    divan::main();
}

mod parse_index {
    use super::*;

    #[divan::bench]
    fn ksyms(b: Bencher) {
        b.bench(|| Ksyms::from_path(&*FILE).unwrap());
    }

    /// The calling thread only, whatever the size of the file.
    #[divan::bench]
    fn ksyms_one_thread(b: Bencher) {
        let one = ksyms::LoadOptions {
            threads: 1,
            ..ksyms::LoadOptions::default()
        };
        b.bench(|| Ksyms::from_path_with(&*FILE, &one).unwrap());
    }

    /// A fresh symbolizer parses the file on its first request.
    #[divan::bench]
    fn blazesym(b: Bencher) {
        let src = blaze_source();
        let one = [ADDRS[0]];
        b.bench(|| {
            let s = Symbolizer::new();
            let r = s.symbolize(&src, Input::AbsAddr(&one)).unwrap();
            black_box(r.len())
        });
    }
}

mod lookup {
    use super::*;

    #[divan::bench(counter = divan::counter::ItemsCount::new(1000usize))]
    fn ksyms(b: Bencher) {
        let ks = &*TABLE;
        b.bench(|| {
            let mut n = 0;
            for &a in ADDRS.iter() {
                n += ks.lookup(black_box(a)).map_or(0, |r| r.offset);
            }
            n
        });
    }

    #[divan::bench(counter = divan::counter::ItemsCount::new(1_000_000usize), sample_count = 10)]
    fn ksyms_1m_random(b: Bencher) {
        let ks = &*TABLE;
        let many = &*MANY;
        b.bench(|| {
            let mut n = 0;
            for &a in many {
                n += ks.lookup(black_box(a)).map_or(0, |r| r.offset);
            }
            n
        });
    }

    #[divan::bench(counter = divan::counter::ItemsCount::new(1000usize))]
    fn blazesym(b: Bencher) {
        let src = blaze_source();
        let s = Symbolizer::new();
        s.symbolize(&src, Input::AbsAddr(&ADDRS[..1])).unwrap();
        // The symbolizer is single-threaded (not Sync): bench on this thread.
        b.bench_local(|| {
            s.symbolize(&src, Input::AbsAddr(black_box(&ADDRS[..])))
                .unwrap()
                .len()
        });
    }
}

mod live {
    use super::*;

    #[divan::bench]
    fn bare_read(b: Bencher) {
        b.bench(|| std::fs::read(ksyms::KALLSYMS).unwrap());
    }

    #[divan::bench]
    fn ksyms_load_live(b: Bencher) {
        b.bench(|| Ksyms::load_live().unwrap());
    }
}
