//! `monitor-bench`: what the monitor costs per refresh over many kpeek.ko counters read through
//! the mmap channel, against the bare mmap read of the same counters, in the same run.
//!
//! The counters are created through configfs in one group, each set to a known value. Every
//! refresh (at `--hz`), two things are timed back to back: the bare read (one consistent copy
//! of the mapping with its checks, `CounterMap::read`, which is what the monitor's source sits
//! on) and one monitor round as `kpeek top` makes it (the source's read, `Monitor::ingest`:
//! model, rates and averages, then the screen: the rows in top's order and the visible 50
//! formatted). Medians of wall-clock and thread CPU time; the ratio monitor/bare is the figure.
//! The monitor's rows are checked against the values written (PASS/FAIL lines).

use std::time::{Duration, Instant};

use kpeek_client::configfs::Configfs;
use kpeek_client::mmap::CounterMap;
use kpeek_client::{Channel, SysRoot};
use kpeek_monitor::monitor::{Monitor, outcome};
use kpeek_monitor::order::{Order, screen_text};
use kpeek_monitor::source::kpeek_ko::KpeekSource;
use kpeek_monitor::source::{NameFilter, Source};

use crate::report::Report;

const GROUP: &str = "monbench";

#[derive(clap::Args)]
pub struct Args {
    /// Counters to create (one configfs group, removed at the end).
    #[arg(long, default_value_t = 10_000)]
    counters: usize,
    /// Refreshes per second.
    #[arg(long, default_value_t = 10)]
    hz: u32,
    /// Refreshes measured.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall-clock and thread CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (w, c) = (Instant::now(), thread_cpu());
    let v = f();
    (v, w.elapsed(), thread_cpu().saturating_sub(c))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn value_of(i: usize) -> u64 {
    1000 + 7 * i as u64
}

fn create(cfs: &Configfs, n: usize) -> anyhow::Result<()> {
    let _ = cfs.delete_group(GROUP);
    cfs.create_group(GROUP, Some("kpeek-guest monitor bench"))?;
    for i in 0..n {
        let c = format!("c{i:05}");
        cfs.create_counter(GROUP, &c, None)?;
        cfs.set_value(GROUP, &c, value_of(i))?;
    }
    Ok(())
}

fn delete(cfs: &Configfs, n: usize) {
    for i in 0..n {
        let _ = cfs.delete_counter(GROUP, &format!("c{i:05}"));
    }
    let _ = cfs.delete_group(GROUP);
}

pub fn run(root: &SysRoot, report: &Report, a: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.hz > 0 && a.rounds > 0,
        "--hz and --rounds must be positive"
    );
    let cfs = Configfs::new(root);
    let t0 = Instant::now();
    let made = create(&cfs, a.counters);
    println!(
        "INFO: monitor-bench: created {} counters through configfs in {:.1} s",
        a.counters,
        t0.elapsed().as_secs_f64()
    );
    let res = made.and_then(|()| measure(root, report, &a));
    delete(&cfs, a.counters);
    report.check(
        "monitor-bench: its counter group removed",
        !root
            .path("/sys/kernel/config/kpeek/groups")
            .join(GROUP)
            .exists(),
        || format!("{GROUP} still in configfs"),
    );
    res
}

fn measure(root: &SysRoot, report: &Report, a: &Args) -> anyhow::Result<()> {
    let map = CounterMap::open(root)?;
    // The values written must be in the mapping before the rounds compare them.
    map.sync()?;
    let filter = NameFilter(vec![format!("{GROUP}/*")]);
    let mut src = KpeekSource::new("mod", Channel::Mmap, root.clone(), filter);
    let mut mon = Monitor::new();
    let mut order = Order::new();
    let mut text = String::new();
    let (mut bare_w, mut bare_c, mut mon_w, mut mon_c) = (vec![], vec![], vec![], vec![]);
    let period = Duration::from_secs(1) / a.hz;
    let start = Instant::now();
    let mut slots = 0;
    for round in 0..a.rounds {
        let next = start + period * round as u32;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let (snap, w, c) = timed(|| map.read());
        let snap = snap?;
        slots = snap.slots.len();
        std::hint::black_box(&snap);
        drop(snap);
        bare_w.push(w);
        bare_c.push(c);
        let (res, w, c) = timed(|| -> anyhow::Result<()> {
            let readings = src.read()?;
            mon.ingest(
                start.elapsed().as_secs_f64(),
                kpeek_monitor::wall_now(),
                vec![outcome("mod", readings, Duration::ZERO)],
            );
            order.refresh(&mon);
            screen_text(&mon, order.view(), 50, &mut text);
            std::hint::black_box(&text);
            Ok(())
        });
        res?;
        mon_w.push(w);
        mon_c.push(c);
    }
    // The monitor saw every counter of the group, with the value written, and no reset.
    let rows = mon.rows();
    report.eq(
        "monitor-bench: the monitor shows every counter of the group",
        rows.len(),
        a.counters,
    );
    let wrong: Vec<String> = rows
        .iter()
        .filter(|r| {
            let c = r.desc.labels.iter().find(|(k, _)| k == "counter");
            let i = c.and_then(|(_, v)| v.strip_prefix('c')?.parse::<usize>().ok());
            i.is_none_or(|i| r.exact != Some(value_of(i)) || r.reset || r.rate != Some(0.0))
        })
        .take(3)
        .map(|r| format!("{} = {} rate {:?}", r.desc, r.value_text(), r.rate))
        .collect();
    report.check(
        "monitor-bench: every counter's value as written, rate 0, no reset",
        wrong.is_empty(),
        || wrong.join("; "),
    );
    let (bw, bc, mw, mc) = (median(bare_w), median(bare_c), median(mon_w), median(mon_c));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "INFO: monitor-bench: {} counters of {slots} slots via mmap, {} Hz, {} rounds (medians)",
        a.counters, a.hz, a.rounds
    );
    println!(
        "INFO: monitor-bench: bare mmap read    wall {:>10.1} us  cpu {:>10.1} us",
        us(bw),
        us(bc)
    );
    println!(
        "INFO: monitor-bench: monitor round     wall {:>10.1} us  cpu {:>10.1} us  ({:.1} ns cpu per counter)",
        us(mw),
        us(mc),
        mc.as_secs_f64() * 1e9 / a.counters.max(1) as f64
    );
    println!(
        "INFO: monitor-bench: ratio monitor/bare: wall {:.2}x  cpu {:.2}x  (goal: at most 2x)",
        mw.as_secs_f64() / bw.as_secs_f64().max(1e-12),
        mc.as_secs_f64() / bc.as_secs_f64().max(1e-12)
    );
    Ok(())
}
