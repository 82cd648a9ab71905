//! `ring-stress`: the per-CPU event rings under load on every CPU. Probes on
//! `net:netif_receive_skb` (filter dev=lo, fed by loopback UDP in softirq) and
//! `sched:sched_switch` write into small rings while one reader thread per CPU consumes them
//! concurrently, pausing now and then. Before the load stops, every reader is parked while the
//! load goes on until each online CPU's ring has overflowed (its `lost` counter moved): the lost
//! accounting is exercised on every run, however fast the producers are (a KASAN kernel under
//! emulation is slow enough that random pauses alone may never fill a ring).
//!
//! Checked per CPU: every record is framed correctly (len a multiple of 8, PAD only up to the
//! ring's end), says it came from that CPU, carries sane fields (netif: dev "lo"); sequence
//! numbers never repeat and never go back; the sum of the gaps equals exactly the ring's `lost`
//! counter growth, and the records read equal its `written` growth. After the load stops, a few
//! events are made on each CPU while the rings are empty, so that records lost at the very end
//! also show up as a gap.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load::{self, Load};
use crate::rawring::{Dev, Framing, RawRing, Rec, SeqCheck};
use crate::report::Report;
use crate::syscalls::{self, Rng};
use crate::uapi::*;

#[derive(clap::Args)]
pub struct Args {
    /// How long to run the load.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Ring data bytes per CPU (a power of two).
    #[arg(long, default_value_t = 16384)]
    ring_size: u32,
    /// Readers sleep up to this long between drains now and then, to overflow the rings.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// Do not require any lost record (by default the run must exercise the lost accounting).
    #[arg(long)]
    allow_no_loss: bool,
}

/// What one reader saw on its CPU.
#[derive(Default, Debug)]
struct CpuResult {
    seq: SeqCheck,
    netif: u64,
    sched: u64,
    other: u64,
    wrong_cpu: u64,
    bad_fields: u64,
    first_bad: Option<String>,
    framing: Option<String>,
}

impl CpuResult {
    fn record(&mut self, ring_cpu: u32, r: &Rec) {
        self.seq.see(r.seq());
        if r.cpu() != ring_cpu {
            self.wrong_cpu += 1;
            self.first_bad
                .get_or_insert_with(|| format!("record says cpu {} in ring {ring_cpu}", r.cpu()));
        }
        let b = &r.bytes;
        match r.ty {
            REC_NETIF_RECEIVE_SKB => {
                self.netif += 1;
                let dev = get_name(b, rec_netif::DEV, 16);
                let len = get_u32(b, rec_netif::LEN);
                if (r.len as usize) < REC_NETIF_SIZE || dev != "lo" || len == 0 {
                    self.bad_fields += 1;
                    self.first_bad.get_or_insert_with(|| {
                        format!("netif record len {} dev {dev:?} skb len {len}", r.len)
                    });
                }
            }
            REC_SCHED_SWITCH => {
                self.sched += 1;
                let prev = get_u32(b, rec_sched::PREV_PID) as i32;
                let next = get_u32(b, rec_sched::NEXT_PID) as i32;
                if (r.len as usize) < REC_SCHED_SWITCH_SIZE || prev < 0 || next < 0 {
                    self.bad_fields += 1;
                    self.first_bad.get_or_insert_with(|| {
                        format!("sched_switch record len {} prev {prev} next {next}", r.len)
                    });
                }
            }
            _ => {
                self.other += 1;
                self.first_bad
                    .get_or_insert_with(|| format!("unexpected record type {}", r.ty));
            }
        }
    }
}

/// How long the overflow phase waits for the parked readers and for every ring to overflow
/// before it fails (a bound against a hang, far above what any kernel needs: a few ms).
const OVERFLOW_BOUND: Duration = Duration::from_secs(120);

/// Parks every reader (`hold`), waits until the load has made each online CPU's ring lose at
/// least one record, then lets the readers go on. An error names the CPUs whose rings never
/// overflowed (no event on them while their readers were stopped).
fn overflow_every_ring(
    rings: &[RawRing],
    online: usize,
    hold: &AtomicBool,
    parked: &AtomicU64,
) -> anyhow::Result<()> {
    hold.store(true, Ordering::Release);
    let result = (|| {
        let t0 = Instant::now();
        while parked.load(Ordering::Acquire) < rings.len() as u64 {
            if t0.elapsed() > OVERFLOW_BOUND {
                anyhow::bail!(
                    "ring-stress: overflow phase: only {} of {} readers stopped within {:?}",
                    parked.load(Ordering::Acquire),
                    rings.len(),
                    OVERFLOW_BOUND
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The readers are stopped: from now on a ring's lost counter can only grow.
        let at_hold: Vec<u64> = rings.iter().map(RawRing::lost).collect();
        let t1 = Instant::now();
        loop {
            let pending: Vec<u32> = rings
                .iter()
                .zip(&at_hold)
                .take(online)
                .filter(|(r, l)| r.lost() == **l)
                .map(|(r, _)| r.cpu)
                .collect();
            if pending.is_empty() {
                println!(
                    "ring-stress: readers stopped: every online CPU's ring overflowed after {:.0} ms",
                    t1.elapsed().as_secs_f64() * 1000.0
                );
                return Ok(());
            }
            if t1.elapsed() > OVERFLOW_BOUND {
                anyhow::bail!(
                    "ring-stress: overflow phase: with their readers stopped, the rings of CPUs {pending:?} lost nothing in {OVERFLOW_BOUND:?} (no event there under load?)"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })();
    hold.store(false, Ordering::Release);
    result
}

pub fn run(r: &Report, a: Args) -> anyhow::Result<()> {
    let dev = Dev::open()?;
    let info = dev.info()?;
    let ncpu = info.nr_cpus;
    let online = syscalls::online_cpus();
    println!(
        "ring-stress: {ncpu} CPUs (nr_cpu_ids), {online} online, rings of {} bytes, {} s",
        a.ring_size, a.seconds
    );
    // A clean start: nothing attached, fresh rings.
    dev.detach_all()?;
    dev.ring_setup(a.ring_size, 0)?;
    let rings: Vec<RawRing> = (0..ncpu)
        .map(|c| RawRing::map(&dev, c, a.ring_size))
        .collect::<anyhow::Result<_>>()?;
    let mut base = Vec::new();
    for ring in &rings {
        if ring.consume(|_| {}) != Framing::Ok || ring.head() != ring.tail() {
            anyhow::bail!("ring of CPU {} not empty after setup", ring.cpu);
        }
        base.push((ring.lost(), ring.written()));
    }

    let stop_readers = AtomicBool::new(false);
    // The overflow phase: `hold` parks the readers; `parked` counts those that stopped reading.
    let hold = AtomicBool::new(false);
    let parked = AtomicU64::new(0);
    let results: Vec<Mutex<CpuResult>> = (0..ncpu).map(|_| Mutex::default()).collect();
    let drains = AtomicU64::new(0);
    let load_stopped = Arc::new(AtomicBool::new(false));
    let mut outcome: anyhow::Result<(u64, u64, f64)> = Ok((0, 0, 0.0));

    std::thread::scope(|s| {
        for (i, ring) in rings.iter().enumerate() {
            let (results, stop_readers, drains) = (&results, &stop_readers, &drains);
            let (hold, parked) = (&hold, &parked);
            let load_stopped = load_stopped.clone();
            let pause = a.pause_ms;
            s.spawn(move || {
                let mut rng = Rng::new(0x5eed + i as u64);
                let mut res = CpuResult::default();
                loop {
                    // Read stop first: a drain that starts after it saw stop sees every record
                    // the (already detached) probes produced.
                    let last = stop_readers.load(Ordering::Acquire);
                    match ring.consume(|rec| res.record(ring.cpu, rec)) {
                        Framing::Ok => {}
                        Framing::Bad(why) => {
                            res.framing = Some(why);
                            break;
                        }
                    }
                    drains.fetch_add(1, Ordering::Relaxed);
                    if last {
                        break;
                    }
                    if hold.load(Ordering::Acquire) {
                        parked.fetch_add(1, Ordering::AcqRel);
                        while hold.load(Ordering::Acquire) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        parked.fetch_sub(1, Ordering::AcqRel);
                        continue;
                    }
                    let loaded = !load_stopped.load(Ordering::Relaxed);
                    let nap = if loaded && rng.one_in(8) {
                        Duration::from_millis(rng.below(pause + 1))
                    } else {
                        Duration::from_micros(200)
                    };
                    std::thread::sleep(nap);
                }
                *results[i].lock().unwrap() = res;
            });
        }

        outcome = (|| {
            dev.probe_set(
                PROBE_NETIF_RECEIVE_SKB,
                PROBE_F_ENABLE | PROBE_F_RING,
                Some("lo"),
            )?;
            dev.probe_set(PROBE_SCHED_SWITCH, PROBE_F_ENABLE | PROBE_F_RING, None)?;
            let t0 = Instant::now();
            let load = Load::start(online, 1, 1)?;
            std::thread::sleep(Duration::from_secs(a.seconds));
            let overflowed = overflow_every_ring(&rings, online, &hold, &parked);
            let (packets, hops) = load.stop();
            overflowed?;
            let secs = t0.elapsed().as_secs_f64();
            load_stopped.store(true, Ordering::Relaxed);
            // Let the readers empty the rings, then make events on every CPU into empty
            // rings: a loss at the end of the load shows up as a gap before them.
            std::thread::sleep(Duration::from_millis(100));
            load::poke_every_cpu(online);
            std::thread::sleep(Duration::from_millis(50));
            dev.detach_all()?;
            Ok((packets, hops, secs))
        })();
        if outcome.is_err() {
            let _ = dev.detach_all();
        }
        hold.store(false, Ordering::Release);
        stop_readers.store(true, Ordering::Release);
    });
    let (packets, hops, secs) = outcome?;
    let finals: Vec<(u64, u64)> = rings.iter().map(|r| (r.lost(), r.written())).collect();
    drop(rings);
    let freed = dev.ring_setup(0, 0);

    let mut tot_records = 0u64;
    let mut tot_lost = 0u64;
    let mut tot_netif = 0u64;
    let mut problems = Vec::new();
    let mut lost_mismatch = Vec::new();
    let mut written_mismatch = Vec::new();
    let mut idle_cpus = Vec::new();
    for (i, fin) in finals.iter().enumerate() {
        let res = results[i].lock().unwrap();
        let lost = fin.0 - base[i].0;
        let written = fin.1 - base[i].1;
        println!(
            "ring-stress: cpu {i}: {} records ({} netif, {} sched_switch), {} lost, seq gaps {}, written {written}",
            res.seq.records, res.netif, res.sched, lost, res.seq.gaps
        );
        tot_records += res.seq.records;
        tot_lost += lost;
        tot_netif += res.netif;
        if let Some(f) = &res.framing {
            problems.push(format!("cpu {i}: framing: {f}"));
        }
        if res.seq.dups + res.seq.backwards > 0 {
            problems.push(format!(
                "cpu {i}: {} duplicate and {} out-of-order seq ({})",
                res.seq.dups,
                res.seq.backwards,
                res.seq.first_bad.clone().unwrap_or_default()
            ));
        }
        if res.wrong_cpu + res.bad_fields + res.other > 0 {
            problems.push(format!(
                "cpu {i}: {} records from another CPU, {} with bad fields, {} of unknown type (first: {})",
                res.wrong_cpu,
                res.bad_fields,
                res.other,
                res.first_bad.clone().unwrap_or_default()
            ));
        }
        if res.seq.gaps != lost {
            lost_mismatch.push(format!("cpu {i}: gaps {} vs lost {lost}", res.seq.gaps));
        }
        if res.seq.records != written {
            written_mismatch.push(format!(
                "cpu {i}: read {} vs written {written}",
                res.seq.records
            ));
        }
        if i < online && res.seq.records == 0 {
            idle_cpus.push(i);
        }
    }
    let rate = tot_records as f64 / secs;
    println!(
        "ring-stress: {tot_records} records read, {tot_lost} lost, {rate:.0} records/s over {secs:.1} s; load: {packets} datagrams, {hops} ping-pong hops; {} drains",
        drains.load(Ordering::Relaxed)
    );
    r.check(
        &format!("ring-stress: {tot_records} records on {ncpu} CPUs: framing, cpu and fields right, no duplicate, no reorder"),
        problems.is_empty(),
        || problems.join("; "),
    );
    r.check(
        &format!("ring-stress: every seq gap accounted by the lost counter ({tot_lost} lost, exact per CPU)"),
        lost_mismatch.is_empty() && (tot_lost > 0 || a.allow_no_loss),
        || {
            if lost_mismatch.is_empty() {
                "no record was lost: the lost accounting was not exercised (smaller --ring-size or longer --pause-ms)".into()
            } else {
                lost_mismatch.join("; ")
            }
        },
    );
    r.check(
        "ring-stress: records read = the rings' written counters",
        written_mismatch.is_empty(),
        || written_mismatch.join("; "),
    );
    r.check(
        &format!(
            "ring-stress: every online CPU produced records, {tot_netif} netif_receive_skb from softirq"
        ),
        idle_cpus.is_empty() && tot_netif > 0,
        || format!("CPUs without records: {idle_cpus:?}; netif records {tot_netif}"),
    );
    r.check(
        "ring-stress: rings freed afterwards (KPEEK_IOC_RING_SETUP 0 once unmapped)",
        freed.is_ok(),
        || format!("{:#}", freed.as_ref().unwrap_err()),
    );
    Ok(())
}
