//! `cargo bench -p kpeek-monitor --bench cost`: the monitor's cost per metric per refresh
//! against the bare source read it sits on, in one process, as a ratio.
//!
//! Sides, run alternately (bare, monitor, bare, monitor...) so load from other processes hits
//! both alike; each figure is the median of the runs:
//! - bare: the source's own read (perf counters of every `sched:` and `syscalls:` tracepoint on
//!   every CPU through `kpeek_trace::stat::Counter::report`; `/proc/vmstat`-format text of
//!   10,000 lines read and parsed);
//! - monitor: the monitor source's read, plus the model and rates (`Monitor::ingest`), plus the
//!   screen as `kpeek top` makes it: the rows in its order (by name; for the third case by
//!   rate, sorted again every round), the visible 50 formatted. A second table splits the
//!   monitor round's CPU time into those three phases, per metric.
//!
//! Times are the median of the runs in wall-clock time and in CPU time of the measuring thread
//! (the monitor's source read runs in the same thread here): on a loaded machine the CPU time
//! is the steadier figure. Needs root and tracefs for the tracepoint part (it says so and fails
//! otherwise).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use kpeek_monitor::model::Reading;
use kpeek_monitor::monitor::{Monitor, outcome};
use kpeek_monitor::order::{Order, SortBy, screen_text};
use kpeek_monitor::source::procfs::{ProcKind, ProcSource};
use kpeek_monitor::source::tracepoint::TracepointSource;
use kpeek_monitor::source::{NameFilter, Source};
use kpeek_trace::stat::Counter;
use kpeek_trace::tracefs::Tracefs;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The screen, as `kpeek top` makes it: the rows in its order ([`Order`]: by name, sorted
/// again only when rows come or go; by rate, sorted every round), the visible 50 formatted.
fn screen(m: &Monitor, order: &mut Order, out: &mut String) {
    order.refresh(m);
    screen_text(m, order.view(), 50, out);
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Wall-clock and thread CPU time of `f`.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    let (w, c) = (Instant::now(), thread_cpu());
    f();
    (w.elapsed(), thread_cpu().saturating_sub(c))
}

struct Side {
    name: &'static str,
    bare: Vec<Duration>,
    mon: Vec<Duration>,
    bare_cpu: Vec<Duration>,
    mon_cpu: Vec<Duration>,
    /// CPU time of the monitor round's phases: source read, model and rates, screen.
    phases: Vec<[Duration; 3]>,
}

/// One monitor round: the source's read, `Monitor::ingest`, the screen; the CPU time of each.
fn monitor_round(
    src: &mut dyn Source,
    name: &str,
    mon: &mut Monitor,
    order: &mut Order,
    text: &mut String,
    start: Instant,
) -> [Duration; 3] {
    let c0 = thread_cpu();
    let r: Vec<Reading> = src.read().unwrap();
    let c1 = thread_cpu();
    mon.ingest(
        start.elapsed().as_secs_f64(),
        0.0,
        vec![outcome(name, r, Duration::ZERO)],
    );
    let c2 = thread_cpu();
    screen(mon, order, text);
    black_box(&text);
    let c3 = thread_cpu();
    [c1 - c0, c2 - c1, c3 - c2]
}

impl Side {
    fn new(name: &'static str) -> Self {
        Side {
            name,
            bare: Vec::new(),
            mon: Vec::new(),
            bare_cpu: Vec::new(),
            mon_cpu: Vec::new(),
            phases: Vec::new(),
        }
    }

    fn bare(&mut self, f: impl FnOnce()) {
        let (w, c) = timed(f);
        self.bare.push(w);
        self.bare_cpu.push(c);
    }

    fn mon(&mut self, f: impl FnOnce() -> [Duration; 3]) {
        let mut phases = [Duration::ZERO; 3];
        let (w, c) = timed(|| phases = f());
        self.phases.push(phases);
        self.mon.push(w);
        self.mon_cpu.push(c);
    }
}

fn report_phases(sides: &[Side], metrics: &[usize]) {
    println!(
        "{:<40} {:>7} {:>14} {:>14} {:>14}   (monitor round, cpu, medians per metric)",
        "case", "metrics", "source read", "model+rates", "screen"
    );
    for (s, &n) in sides.iter().zip(metrics) {
        let per = |i: usize| {
            let v: Vec<Duration> = s.phases.iter().map(|p| p[i]).collect();
            median(v).as_secs_f64() * 1e9 / n as f64
        };
        println!(
            "{:<40} {:>7} {:>12.1}ns {:>12.1}ns {:>12.1}ns",
            s.name,
            n,
            per(0),
            per(1),
            per(2)
        );
    }
}

fn report(sides: &[Side], metrics: &[usize]) {
    println!(
        "{:<40} {:>7} {:>5} {:>11} {:>11} {:>12} {:>7}",
        "case", "metrics", "clock", "bare", "monitor", "monitor/metric", "ratio"
    );
    for (s, &n) in sides.iter().zip(metrics) {
        for (clock, b, m) in [("wall", &s.bare, &s.mon), ("cpu", &s.bare_cpu, &s.mon_cpu)] {
            let b = median(b.clone());
            let m = median(m.clone());
            println!(
                "{:<40} {:>7} {:>5} {:>9.1}us {:>9.1}us {:>12.1}ns {:>6.2}x",
                s.name,
                n,
                clock,
                b.as_secs_f64() * 1e6,
                m.as_secs_f64() * 1e6,
                m.as_secs_f64() * 1e9 / n as f64,
                m.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}

fn main() {
    let rounds: usize = std::env::var("KPEEK_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut sides = Vec::new();
    let mut metrics = Vec::new();

    // Tracepoints: every sched: and syscalls: event, per CPU.
    let tfs = Tracefs::discover().unwrap_or_else(|e| {
        panic!("the tracepoint benchmark needs tracefs and root: {e}");
    });
    let specs = vec!["sched:*".to_owned(), "syscalls:*".to_owned()];
    let events = kpeek_trace::record::resolve_events(&tfs, &specs).unwrap();
    let bare = Counter::open(&tfs, &events, None, None).unwrap();
    bare.enable().unwrap();
    let mut src = TracepointSource::new("tracepoint", &specs, None).unwrap();
    let cpus = kpeek_trace::perf::online_cpus().len();
    let mut side = Side::new("tracepoints sched:* syscalls:* per CPU");
    let mut mon = Monitor::new();
    let mut order = Order::new();
    let mut text = String::new();
    let start = Instant::now();
    for _ in 0..rounds {
        side.bare(|| {
            black_box(bare.report(0.0).unwrap());
        });
        side.mon(|| {
            monitor_round(
                &mut src,
                "tracepoint",
                &mut mon,
                &mut order,
                &mut text,
                start,
            )
        });
    }
    metrics.push(events.len());
    println!(
        "tracepoint events: {}, CPUs: {cpus}, perf counters read per round: {}",
        events.len(),
        events.len() * cpus
    );
    sides.push(side);

    // 10,000 numbers in /proc/vmstat format.
    let dir = std::env::temp_dir().join(format!("kpeek-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    let path = dir.join("proc/vmstat");
    let n = 10_000;
    let body: String = (0..n)
        .map(|i| format!("bench_counter_{i} {}\n", i * 7))
        .collect();
    std::fs::write(&path, body).unwrap();
    let mut src = ProcSource::new("vmstat", ProcKind::Vmstat, &dir, NameFilter::default());
    let mut side = Side::new("10,000 numbers in /proc/vmstat format");
    let mut mon = Monitor::new();
    let mut order = Order::new();
    for _ in 0..rounds {
        side.bare(|| {
            let s = std::fs::read_to_string(Path::new(&path)).unwrap();
            black_box(kpeek_monitor::parse::vmstat(&s).unwrap());
        });
        side.mon(|| monitor_round(&mut src, "vmstat", &mut mon, &mut order, &mut text, start));
    }
    metrics.push(n);
    sides.push(side);

    // The same, with the screen sorted by rate (descending): numbers that change every round,
    // so the rows are sorted again every round.
    let mut src = ProcSource::new("vmstat", ProcKind::Vmstat, &dir, NameFilter::default());
    let mut side = Side::new("10,000 numbers, screen sorted by rate");
    let mut mon = Monitor::new();
    let mut order = Order::new();
    order.set_sort(SortBy::Rate, true);
    for round in 0..rounds {
        // A growing file: rates differ between rows.
        let body: String = (0..n)
            .map(|i| format!("bench_counter_{i} {}\n", i * 7 + round * (i % 13)))
            .collect();
        std::fs::write(&path, body).unwrap();
        side.bare(|| {
            let s = std::fs::read_to_string(Path::new(&path)).unwrap();
            black_box(kpeek_monitor::parse::vmstat(&s).unwrap());
        });
        side.mon(|| monitor_round(&mut src, "vmstat", &mut mon, &mut order, &mut text, start));
    }
    metrics.push(n);
    sides.push(side);
    let _ = std::fs::remove_dir_all(&dir);
    println!("rounds: {rounds} (medians)");
    report(&sides, &metrics);
    report_phases(&sides, &metrics);
}
