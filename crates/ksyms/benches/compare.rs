//! `cargo bench -p ksyms --bench compare`: one process, same file, a ratio table against the
//! issue's targets (parse+index vs blazesym, lookups, memory, live load vs a bare read).
//!
//! The two sides of each comparison run alternately (a, b, a, b…), so a burst of load from
//! other processes hits both alike; each figure is the median of the runs, in wall-clock time
//! and in CPU time of the whole process (all threads), plus the fastest wall-clock run.

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use blazesym::MaybeDefault;
use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input, Symbolizer};
use ksyms::{Ksyms, LoadOptions};
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

#[derive(Default)]
struct Samples {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Samples {
    fn run<T>(&mut self, f: &mut impl FnMut() -> T) {
        let (t, c) = (Instant::now(), cpu_now());
        black_box(f());
        self.cpu.push(cpu_now() - c);
        self.wall.push(t.elapsed());
    }

    fn time(mut self) -> Time {
        self.wall.sort();
        self.cpu.sort();
        let n = self.wall.len();
        Time {
            wall: self.wall[n / 2],
            best: self.wall[0],
            cpu: self.cpu[n / 2],
        }
    }
}

/// Median times of `runs` calls of `a` and of `b`, alternating, with `before` run untimed
/// before each call (e.g. to evict the caches).
fn pair<A, B>(
    runs: usize,
    mut before: impl FnMut(),
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Time, Time) {
    let (mut sa, mut sb) = (Samples::default(), Samples::default());
    for _ in 0..runs {
        before();
        sa.run(&mut a);
        before();
        sb.run(&mut b);
    }
    (sa.time(), sb.time())
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

/// Writes 64 MiB (twice the largest L3 cache of the machines we run on) so the table's lines
/// are evicted before a timed run.
fn evict(junk: &mut [u8]) {
    for (i, b) in junk.iter_mut().enumerate().step_by(64) {
        *b = b.wrapping_add(i as u8);
    }
    black_box(&junk[..]);
}

/// What a plain reader of `/proc/kallsyms` does: 1 MiB reads into one buffer, until the end.
fn bare_read() -> usize {
    let mut f = std::fs::File::open(ksyms::KALLSYMS).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        match f.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n,
        }
    }
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
    let runs = 41;
    let one = LoadOptions {
        threads: 1,
        ..LoadOptions::default()
    };
    let blazesym_load = || {
        let s = Symbolizer::new();
        s.symbolize(&src, Input::AbsAddr(&[0xffffffff81000000]))
            .unwrap()
            .len()
    };

    let ks = Ksyms::from_path(&file).unwrap();
    let (t_ks1, t_bz) = pair(
        runs,
        || {},
        || Ksyms::from_path_with(&file, &one).unwrap(),
        blazesym_load,
    );
    let (t_ks, t_bz2) = pair(
        runs,
        || {},
        || Ksyms::from_path(&file).unwrap(),
        blazesym_load,
    );

    // Lookups: random symbols at random offsets (like a profile's samples), and addresses
    // drawn uniformly over the whole range the table covers; caches evicted before each run.
    let hits = common::addresses(&ks, 1_000_000);
    let uniform = common::uniform_addresses(&ks, 1_000_000);
    let mut junk = vec![0u8; 64 << 20];
    let single = |addrs: &[u64]| {
        let mut n = 0u64;
        for &a in addrs {
            n = n.wrapping_add(ks.lookup(black_box(a)).map_or(0, |r| r.offset));
        }
        n
    };
    let (t_hits, t_uni) = pair(
        7,
        || evict(&mut junk),
        || single(&hits),
        || single(&uniform),
    );
    // Warm: the same 1000 addresses over and over.
    let warm = &hits[..1000];
    let (t_warm, _) = pair(
        7,
        || {},
        || (0..1000).fold(0, |n, _| n ^ single(warm)),
        || {},
    );
    let bz = Symbolizer::new();
    bz.symbolize(&src, Input::AbsAddr(&hits[..1])).unwrap();
    let (t_bz_1m, _) = pair(
        3,
        || evict(&mut junk),
        || bz.symbolize(&src, Input::AbsAddr(&hits)).unwrap().len(),
        || {},
    );

    let (t_live, t_read) = pair(runs, || {}, || Ksyms::load_live().unwrap(), bare_read);

    let heap = ks.heap_bytes();
    let _ = ks.find("schedule"); // builds the name index
    let heap_names = ks.heap_bytes();

    println!(
        "table: {} ({} symbols, {} bytes); load average {}",
        file.display(),
        ks.len(),
        size,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!();
    println!("| measure | ksyms | reference | ratio (best wall / median CPU) | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| parse+index, same file, 1 thread | {} | blazesym {} | {:.1}x / {:.1}x faster | >= 5x |",
        both(t_ks1),
        both(t_bz),
        ratio(t_bz.best, t_ks1.best),
        ratio(t_bz.cpu, t_ks1.cpu)
    );
    println!(
        "| parse+index, same file, default threads | {} | blazesym {} | {:.1}x / {:.1}x faster | >= 5x |",
        both(t_ks),
        both(t_bz2),
        ratio(t_bz2.best, t_ks.best),
        ratio(t_bz2.cpu, t_ks.cpu)
    );
    let per = |t: Duration| t.as_secs_f64() * 1e9 / hits.len() as f64;
    let row = |what: &str, t: Time| {
        println!(
            "| {what} | {:.1} ns best, {:.1} median ({:.1} CPU); 1M in {} | blazesym {:.1} ns best ({:.1} CPU) | {:.1}x / {:.1}x faster | <= 30 ns, 1M <= 50 ms |",
            per(t.best),
            per(t.wall),
            per(t.cpu),
            ms(t.wall),
            per(t_bz_1m.best),
            per(t_bz_1m.cpu),
            ratio(t_bz_1m.best, t.best),
            ratio(t_bz_1m.cpu, t.cpu)
        )
    };
    row("lookup, 1M random symbol+offset, cold", t_hits);
    row("lookup, 1M uniform over the range, cold", t_uni);
    row("lookup, 1000 addresses x 1000, warm", t_warm);
    println!(
        "| live load vs bare read of /proc/kallsyms (1 MiB reads) | {} | read {} | {:.3}x median wall / {:.3}x CPU | <= 1.10x |",
        both(t_live),
        both(t_read),
        ratio(t_live.wall, t_read.wall),
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
