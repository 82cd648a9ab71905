//! The ring half of `bench`: kpeek's event rings against perf tracepoint rings on the same
//! workload, in the same boot.
//!
//! Two workloads, each saturating every CPU: a loopback UDP flood (one `netif_receive_skb` per
//! datagram, in softirq; kpeek's probe filters `dev=lo`, perf's filter is `name == "lo"`) and
//! ping-pong pairs over a Unix socket (a `sched_switch` per hop; no filter on either side).
//! Every round runs the workload untraced, with kpeek's probe writing into its rings and with
//! perf_event_open on the same tracepoint, `secs` seconds each, with the same data area per CPU,
//! each ring drained by one reader thread per CPU. The order of the two tracers alternates from
//! round to round so that neither always follows the untraced run.
//!
//! What is checked is correctness, never speed (a guest under load gives any ratio):
//! - both tracers recorded, and each saw at least one event per unit of work it traced: every
//!   datagram the workload received went through `netif_receive_skb` on `lo`, and every
//!   ping-pong hop needs its thread switched in (both threads of a pair are pinned to one CPU;
//!   the first hop of a pair may not). Records read plus records the tracer counted as lost
//!   must reach that number, so an event dropped without being counted fails the run;
//! - kpeek's rings: every record the kernel wrote was read (`written` in the ring header),
//!   sequence numbers never repeat or go back, and every gap in them is counted in `lost`.
//!
//! The speed comparison is printed as a benchmark figure, not asserted. Each round gives two
//! ratios of kpeek to perf: records/s, and the workload's own rate while traced (the fairer
//! one: records/s of sched_switch also counts the switches of everything else, which do not
//! slow down with the workload). Medians of the rounds are reported. Each tracer's CPU per
//! record is estimated from how much slower it made the workload than the untraced run of its
//! own round (the CPUs are saturated, so work lost is CPU spent tracing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::load::Load;
use crate::perfring::{self, PerfCount, PerfRing};
use crate::rawring::{Dev, Framing, RawRing, SeqCheck};
use crate::report::Report;
use crate::syscalls;
use crate::uapi::*;

/// What the ring comparison runs.
pub struct RingArgs {
    pub secs: u64,
    pub rounds: u32,
    pub ring_size: u32,
    pub workloads: Vec<Workload>,
}

/// A workload and the tracepoint both tracers follow on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Loopback UDP flood, net:netif_receive_skb filtered on dev lo.
    Udp,
    /// Ping-pong pairs over Unix sockets, sched:sched_switch unfiltered.
    Pingpong,
}

impl Workload {
    fn describe(self) -> &'static str {
        match self {
            Workload::Udp => "loopback UDP flood, net:netif_receive_skb, filter dev lo",
            Workload::Pingpong => "ping-pong pairs, sched:sched_switch, no filter",
        }
    }

    /// What the workload counts.
    fn unit(self) -> &'static str {
        match self {
            Workload::Udp => "datagrams",
            Workload::Pingpong => "hops",
        }
    }

    /// Units of work a tracer may see without an event: the first hop of each ping-pong pair
    /// (one pair per CPU) may find its peer already waiting; a datagram never passes unseen.
    fn unseen_allowance(self, cpus: usize) -> u64 {
        match self {
            Workload::Udp => 0,
            Workload::Pingpong => cpus as u64,
        }
    }

    fn start(self, cpus: usize) -> anyhow::Result<Load> {
        match self {
            Workload::Udp => Load::start(cpus, 1, 0),
            Workload::Pingpong => Load::start(cpus, 0, 1),
        }
    }

    /// Run it for `secs`: (units of work done, seconds).
    fn run(self, cpus: usize, secs: u64) -> anyhow::Result<(u64, f64)> {
        let load = self.start(cpus)?;
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let (packets, hops) = load.stop();
        let elapsed = t0.elapsed().as_secs_f64();
        Ok((
            match self {
                Workload::Udp => packets,
                Workload::Pingpong => hops,
            },
            elapsed,
        ))
    }

    /// kpeek's probe and its device-name filter.
    fn kpeek_probe(self) -> (u32, Option<&'static str>) {
        match self {
            Workload::Udp => (PROBE_NETIF_RECEIVE_SKB, Some("lo")),
            Workload::Pingpong => (PROBE_SCHED_SWITCH, None),
        }
    }

    /// perf's tracepoint (system, event) and filter.
    fn perf_event(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Workload::Udp => ("net", "netif_receive_skb", Some("name == \"lo\"")),
            Workload::Pingpong => ("sched", "sched_switch", None),
        }
    }
}

/// One timed run: records read from the rings, records the rings lost, seconds, work done;
/// for kpeek also the records written but never read and the gaps in the sequence numbers.
#[derive(Default, Clone, Copy)]
struct Run {
    records: u64,
    lost: u64,
    secs: f64,
    work: u64,
    unread: u64,
    gaps: u64,
}

impl Run {
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.secs
    }

    fn work_per_s(&self) -> f64 {
        self.work as f64 / self.secs
    }

    /// Estimated CPU time spent per record, against an untraced run of the same workload:
    /// the work this run did would have taken `work / base_rate` on `cpus` saturated CPUs.
    fn cpu_per_record_ns(&self, base: &Run, cpus: usize) -> f64 {
        let would_take = self.work as f64 / base.work_per_s();
        cpus as f64 * (self.secs - would_take) * 1e9 / self.records.max(1) as f64
    }
}

/// Drain `rings` with one thread each, every 200 µs, until `body` returns; then drain once more.
fn with_readers<R: Sync, C: Send + Default>(
    rings: &[R],
    consume: impl Fn(&R, &mut C) -> bool + Sync,
    body: impl FnOnce() -> anyhow::Result<(u64, f64)>,
) -> (anyhow::Result<(u64, f64)>, Vec<C>) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let hs: Vec<_> = rings
            .iter()
            .map(|ring| {
                let (stop, consume) = (&stop, &consume);
                s.spawn(move || {
                    let mut c = C::default();
                    loop {
                        let last = stop.load(Ordering::Acquire);
                        if !consume(ring, &mut c) || last {
                            break;
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    c
                })
            })
            .collect();
        let outcome = body();
        stop.store(true, Ordering::Release);
        let counts = hs
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        (outcome, counts)
    })
}

fn run_untraced(a: &RingArgs, w: Workload, cpus: usize) -> anyhow::Result<Run> {
    let (work, secs) = w.run(cpus, a.secs)?;
    Ok(Run {
        secs,
        work,
        ..Run::default()
    })
}

fn run_kpeek(a: &RingArgs, w: Workload, cpus: usize) -> anyhow::Result<Run> {
    let dev = Dev::open()?;
    let ncpu = dev.info()?.nr_cpus;
    dev.detach_all()?;
    dev.ring_setup(a.ring_size, 0)?;
    let rings: Vec<RawRing> = (0..ncpu)
        .map(|c| RawRing::map(&dev, c, a.ring_size))
        .collect::<anyhow::Result<_>>()?;
    let lost0: u64 = rings.iter().map(|r| r.lost()).sum();
    let written0: u64 = rings.iter().map(|r| r.written()).sum();
    let (probe, dev_filter) = w.kpeek_probe();
    let (outcome, seqs) = with_readers(
        &rings,
        |ring: &RawRing, seq: &mut SeqCheck| match ring.consume(|r| seq.see(r.seq())) {
            Framing::Ok => true,
            Framing::Bad(why) => {
                // Stop reading this ring; the run fails with the reason below.
                seq.first_bad.get_or_insert(format!("bad framing: {why}"));
                false
            }
        },
        || {
            let r = (|| {
                dev.probe_set(probe, PROBE_F_ENABLE | PROBE_F_RING, dev_filter)?;
                let done = w.run(cpus, a.secs)?;
                dev.detach_all()?;
                Ok(done)
            })();
            if r.is_err() {
                let _ = dev.detach_all();
            }
            r
        },
    );
    let (work, secs) = outcome?;
    let lost = rings.iter().map(|r| r.lost()).sum::<u64>() - lost0;
    let written = rings.iter().map(|r| r.written()).sum::<u64>() - written0;
    drop(rings);
    // Free the rings again (nothing is mapped now).
    let _ = dev.ring_setup(0, 0);
    if let Some(bad) = seqs.iter().find_map(|s| s.first_bad.clone()) {
        anyhow::bail!("kpeek ring: {bad}");
    }
    let records: u64 = seqs.iter().map(|s| s.records).sum();
    Ok(Run {
        records,
        lost,
        secs,
        work,
        unread: written.saturating_sub(records),
        gaps: seqs.iter().map(|s| s.gaps).sum(),
    })
}

fn run_perf(a: &RingArgs, w: Workload, cpus: usize) -> anyhow::Result<Run> {
    let (system, event, filter) = w.perf_event();
    let id = perfring::tracepoint_id(system, event)?;
    let rings: Vec<PerfRing> = (0..cpus as u32)
        .map(|c| PerfRing::open(id, c, a.ring_size as usize, filter))
        .collect::<anyhow::Result<_>>()?;
    let (outcome, counts) = with_readers(
        &rings,
        |ring: &PerfRing, c: &mut PerfCount| {
            ring.consume(c);
            true
        },
        || {
            for r in &rings {
                r.enable()?;
            }
            let done = w.run(cpus, a.secs);
            for r in &rings {
                r.disable();
            }
            done
        },
    );
    for r in &rings {
        r.disable();
    }
    let (work, secs) = outcome?;
    Ok(Run {
        records: counts.iter().map(|c| c.samples).sum(),
        lost: counts.iter().map(|c| c.lost).sum(),
        secs,
        work,
        ..Run::default()
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// The rounds of one workload: (untraced, kpeek, perf) per round.
fn rounds(a: &RingArgs, w: Workload, cpus: usize) -> anyhow::Result<Vec<[Run; 3]>> {
    let mut out = Vec::new();
    for i in 0..a.rounds {
        let base = run_untraced(a, w, cpus)?;
        let (k, p) = if i % 2 == 0 {
            let k = run_kpeek(a, w, cpus)?;
            (k, run_perf(a, w, cpus)?)
        } else {
            let p = run_perf(a, w, cpus)?;
            (run_kpeek(a, w, cpus)?, p)
        };
        out.push([base, k, p]);
    }
    Ok(out)
}

/// Run every workload and print its table with the kpeek-to-perf ratios; checks that both
/// tracers recorded and accounted for every event (see the module docs).
pub fn run(r: &Report, a: &RingArgs) {
    let cpus = syscalls::online_cpus();
    for &w in &a.workloads {
        println!(
            "\nbench: event rings on {cpus} CPUs: {}; {} rounds x {} s per tracer, {} KiB per CPU",
            w.describe(),
            a.rounds,
            a.secs,
            a.ring_size / 1024
        );
        let runs = match rounds(a, w, cpus) {
            Ok(x) => x,
            Err(e) => {
                r.fail(
                    &format!("bench: rings, {w:?}: untraced, kpeek and perf runs"),
                    &format!("{e:#}"),
                );
                continue;
            }
        };
        r.pass(&format!(
            "bench: rings, {w:?}: {} untraced, kpeek and perf runs",
            runs.len()
        ));
        println!(
            "{:<30} {:>11} {:>9} {:>7} {:>12} {:>8} {:>12}",
            "tracer (medians of rounds)",
            "records/s",
            "lost",
            "lost %",
            format!("{}/s", w.unit()),
            "of base",
            "CPU/record"
        );
        let base_rate = median(&runs.iter().map(|x| x[0].work_per_s()).collect::<Vec<_>>());
        println!(
            "{:<30} {:>11} {:>9} {:>7} {:>12.0} {:>7}% {:>12}",
            "untraced", "-", "-", "-", base_rate, 100, "-"
        );
        for (i, name) in [
            (1, "kpeek ring (in-kernel probe)"),
            (2, "perf tracepoint ring"),
        ] {
            let col =
                |f: &dyn Fn(&[Run; 3]) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
            let lost: u64 = runs.iter().map(|x| x[i].lost).sum();
            let records: u64 = runs.iter().map(|x| x[i].records).sum();
            println!(
                "{:<30} {:>11.0} {:>9} {:>6.2}% {:>12.0} {:>7.0}% {:>9.2} µs",
                name,
                col(&|x| x[i].records_per_s()),
                lost,
                100.0 * lost as f64 / (records + lost).max(1) as f64,
                col(&|x| x[i].work_per_s()),
                col(&|x| 100.0 * x[i].work_per_s() / x[0].work_per_s()),
                col(&|x| x[i].cpu_per_record_ns(&x[0], cpus)) / 1000.0,
            );
        }
        let per_round = |f: &dyn Fn(&Run) -> f64| -> (Vec<f64>, f64) {
            let v: Vec<f64> = runs.iter().map(|x| f(&x[1]) / f(&x[2]).max(1e-9)).collect();
            let m = median(&v);
            (v, m)
        };
        let show = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (rec, rec_m) = per_round(&Run::records_per_s);
        let (work, work_m) = per_round(&Run::work_per_s);
        println!(
            "bench: {w:?}: kpeek / perf per round (a figure, not a check): records/s {} (median {rec_m:.2}); {}/s while traced {} (median {work_m:.2})",
            show(&rec),
            w.unit(),
            show(&work)
        );
        r.check(
            &format!("bench: rings, {w:?}: both tracers recorded"),
            runs.iter().all(|x| x[1].records > 0 && x[2].records > 0),
            || "a run recorded nothing".into(),
        );
        check_accounts(r, w, cpus, &runs);
    }
}

/// The correctness checks of one workload's rounds (see the module docs); speed is not one.
fn check_accounts(r: &Report, w: Workload, cpus: usize, runs: &[[Run; 3]]) {
    let allowance = w.unseen_allowance(cpus);
    for (i, name) in [(1, "kpeek"), (2, "perf")] {
        let short: Vec<String> = runs
            .iter()
            .enumerate()
            .filter(|(_, x)| x[i].records + x[i].lost + allowance < x[i].work)
            .map(|(k, x)| {
                format!(
                    "round {}: {} records + {} lost < {} {}",
                    k + 1,
                    x[i].records,
                    x[i].lost,
                    x[i].work,
                    w.unit()
                )
            })
            .collect();
        r.check(
            &format!(
                "bench: rings, {w:?}: {name} accounted for every one of the workload's {} (records read + counted lost >= {} - {allowance})",
                w.unit(),
                w.unit()
            ),
            short.is_empty(),
            || format!("events missing without being counted as lost: {}", short.join("; ")),
        );
    }
    let bad: Vec<String> = runs
        .iter()
        .enumerate()
        .filter(|(_, x)| x[1].unread != 0 || x[1].gaps > x[1].lost)
        .map(|(k, x)| {
            format!(
                "round {}: {} records written but not read, {} seq gaps for {} counted lost",
                k + 1,
                x[1].unread,
                x[1].gaps,
                x[1].lost
            )
        })
        .collect();
    r.check(
        &format!("bench: rings, {w:?}: kpeek's readers read every record written, and every seq gap is counted lost"),
        bad.is_empty(),
        || bad.join("; "),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
    }

    #[test]
    fn cpu_per_record_is_the_work_lost_to_tracing() {
        // Untraced: 1000 units/s. Traced: 800 units in 1 s, one record each, on 2 CPUs:
        // the 800 units would have taken 0.8 s, so 0.2 s x 2 CPUs went to 800 records.
        let base = Run {
            secs: 1.0,
            work: 1000,
            ..Run::default()
        };
        let traced = Run {
            records: 800,
            lost: 0,
            secs: 1.0,
            work: 800,
            ..Run::default()
        };
        assert!((traced.cpu_per_record_ns(&base, 2) - 500_000.0).abs() < 1e-6);
    }

    fn run(records: u64, lost: u64, work: u64) -> Run {
        Run {
            records,
            lost,
            secs: 1.0,
            work,
            ..Run::default()
        }
    }

    #[test]
    fn accounts_pass_when_every_event_is_read_or_counted_lost() {
        let r = Report::default();
        let round = [run(0, 0, 1000), run(990, 10, 1000), run(1000, 0, 1000)];
        check_accounts(&r, Workload::Udp, 2, &[round]);
        assert_eq!((r.passed(), r.failed()), (3, 0));
    }

    #[test]
    fn accounts_fail_on_an_uncounted_loss_unread_record_or_uncounted_gap() {
        // kpeek saw 999 of 1000 datagrams and counted nothing lost: one failure.
        let r = Report::default();
        let round = [run(0, 0, 1000), run(999, 0, 1000), run(1000, 0, 1000)];
        check_accounts(&r, Workload::Udp, 2, &[round]);
        assert_eq!((r.passed(), r.failed()), (2, 1));
        // A record written but left unread, then a seq gap larger than the lost count.
        for (unread, gaps) in [(1, 0), (0, 3)] {
            let r = Report::default();
            let mut k = run(1000, 2, 1000);
            k.unread = unread;
            k.gaps = gaps;
            check_accounts(
                &r,
                Workload::Udp,
                2,
                &[[run(0, 0, 1000), k, run(1000, 0, 1000)]],
            );
            assert_eq!(
                (r.passed(), r.failed()),
                (2, 1),
                "unread {unread} gaps {gaps}"
            );
        }
        // Ping-pong: one hop per pair (per CPU) may go unseen, not more.
        let r = Report::default();
        let round = [run(0, 0, 100), run(98, 0, 100), run(97, 0, 100)];
        check_accounts(&r, Workload::Pingpong, 2, &[round]);
        assert_eq!((r.passed(), r.failed()), (2, 1));
    }
}
