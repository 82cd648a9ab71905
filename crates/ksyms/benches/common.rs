//! Shared by the benchmarks: a saved copy of this machine's kallsyms and query addresses.

use std::path::PathBuf;

use ksyms::Ksyms;

/// `/proc/kallsyms` copied once to a regular file, so both libraries parse the same bytes
/// from the page cache (set `KSYMS_BENCH_FILE` to use another table).
pub fn kallsyms_copy() -> PathBuf {
    if let Some(p) = std::env::var_os("KSYMS_BENCH_FILE") {
        return PathBuf::from(p);
    }
    let dst = std::env::temp_dir().join(format!("ksyms-bench-{}.kallsyms", std::process::id()));
    let bytes = std::fs::read(ksyms::KALLSYMS).expect("read /proc/kallsyms");
    assert!(
        bytes.starts_with(b"ffff") || bytes.starts_with(b"c0"),
        "/proc/kallsyms addresses look hidden: run the benchmarks as root"
    );
    std::fs::write(&dst, bytes).expect("write the kallsyms copy");
    dst
}

/// `n` addresses spread over the table's lookup range: mostly inside symbols (random offsets
/// into random text symbols), some between regions, like a profiler's callchains.
pub fn addresses(ks: &Ksyms, n: usize) -> Vec<u64> {
    let text: Vec<u64> = ks
        .symbols()
        .filter(|s| matches!(s.kind, 'T' | 't') && s.addr != 0)
        .map(|s| s.addr)
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let base = text[(next() % text.len() as u64) as usize];
            base + next() % 0x100
        })
        .collect()
}

/// `n` addresses drawn uniformly between the lowest and the highest text symbol: every part of
/// the range alike, gaps between regions included.
#[allow(dead_code)] // used by one of the two benchmarks
pub fn uniform_addresses(ks: &Ksyms, n: usize) -> Vec<u64> {
    let text = ks
        .symbols()
        .filter(|s| matches!(s.kind, 'T' | 't') && s.addr != 0)
        .map(|s| s.addr);
    let (lo, hi) = text.fold((u64::MAX, 0), |(lo, hi), a| (lo.min(a), hi.max(a)));
    let span = hi - lo + 1;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lo + x % span
        })
        .collect()
}
