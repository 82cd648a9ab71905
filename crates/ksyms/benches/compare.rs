//! `cargo bench -p ksyms --bench compare`: one process, same file, a ratio table against the
//! issue's targets (parse+index vs blazesym, lookups, memory, live load vs a bare read).
//!
//! Each figure is the median of several runs, in wall-clock time and in CPU time of the whole
//! process (all threads). On a busy machine the CPU time is the steadier of the two.

use std::hint::black_box;
use std::time::{Duration, Instant};

use blazesym::MaybeDefault;
use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input, Symbolizer};
use ksyms::Ksyms;
use rustix::time::{ClockId, clock_gettime};

#[path = "common.rs"]
mod common;

#[derive(Clone, Copy)]
struct Time {
    /// Median wall-clock time.
    wall: Duration,
    /// Fastest wall-clock time: the run least disturbed by other processes.
    best: Duration,
    /// Median CPU time of the process.
    cpu: Duration,
}

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median wall and CPU time of `runs` calls.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Time {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_now());
        black_box(f());
        cpu.push(cpu_now() - c);
        wall.push(t.elapsed());
    }
    wall.sort();
    cpu.sort();
    Time {
        wall: wall[runs / 2],
        best: wall[0],
        cpu: cpu[runs / 2],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn both(t: Time) -> String {
    format!(
        "{} best, {} median ({} CPU)",
        ms(t.best),
        ms(t.wall),
        ms(t.cpu)
    )
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn main() {
    let file = common::kallsyms_copy();
    let size = std::fs::metadata(&file).unwrap().len() as usize;
    let src = Source::Kernel(Kernel {
        kallsyms: MaybeDefault::Some(file.clone()),
        vmlinux: MaybeDefault::None,
        debug_syms: false,
        ..Kernel::default()
    });
    let runs = 31;

    let ks = Ksyms::from_path(&file).unwrap();
    let addrs = common::addresses(&ks, 1_000_000);
    let t_ks = median(runs, || Ksyms::from_path(&file).unwrap());
    let t_bz = median(runs, || {
        let s = Symbolizer::new();
        s.symbolize(&src, Input::AbsAddr(&addrs[..1]))
            .unwrap()
            .len()
    });

    let t_1m = median(7, || {
        let mut n = 0u64;
        for &a in &addrs {
            n = n.wrapping_add(ks.lookup(black_box(a)).map_or(0, |r| r.offset));
        }
        n
    });
    let bz = Symbolizer::new();
    bz.symbolize(&src, Input::AbsAddr(&addrs[..1])).unwrap();
    let t_bz_1m = median(3, || {
        bz.symbolize(&src, Input::AbsAddr(&addrs)).unwrap().len()
    });

    let t_read = median(runs, || std::fs::read(ksyms::KALLSYMS).unwrap());
    let t_live = median(runs, || Ksyms::load_live().unwrap());

    let heap = ks.heap_bytes();
    let _ = ks.find("schedule"); // builds the name index
    let heap_names = ks.heap_bytes();

    println!(
        "table: {} ({} symbols, {} bytes)",
        file.display(),
        ks.len(),
        size
    );
    println!();
    println!("| measure | ksyms | reference | ratio (best wall / median CPU) | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| parse+index, same file | {} | blazesym {} | {:.1}x / {:.1}x faster | >= 5x |",
        both(t_ks),
        both(t_bz),
        ratio(t_bz.best, t_ks.best),
        ratio(t_bz.cpu, t_ks.cpu)
    );
    let per = |t: Duration| t.as_secs_f64() * 1e9 / addrs.len() as f64;
    println!(
        "| address lookup (1M random addresses) | {:.1} ns best ({:.1} CPU) | blazesym {:.1} ns best ({:.1} CPU) | {:.1}x / {:.1}x faster | <= 30 ns |",
        per(t_1m.best),
        per(t_1m.cpu),
        per(t_bz_1m.best),
        per(t_bz_1m.cpu),
        ratio(t_bz_1m.best, t_1m.best),
        ratio(t_bz_1m.cpu, t_1m.cpu)
    );
    println!(
        "| 1M lookups | {} | blazesym {} | | <= 50 ms |",
        both(t_1m),
        both(t_bz_1m)
    );
    println!(
        "| live load vs bare read of /proc/kallsyms | {} | read {} | {:.3}x / {:.3}x | <= 1.10x |",
        both(t_live),
        both(t_read),
        ratio(t_live.best, t_read.best),
        ratio(t_live.cpu, t_read.cpu)
    );
    println!(
        "| index memory (heap) vs file size | {heap} B | file {size} B | {:.2}x | <= 1.00x |",
        heap as f64 / size as f64
    );
    println!(
        "| ... after a name query (name index built) | {heap_names} B | file {size} B | {:.2}x | |",
        heap_names as f64 / size as f64
    );
    if std::env::var_os("KSYMS_BENCH_FILE").is_none() {
        let _ = std::fs::remove_file(&file);
    }
}
