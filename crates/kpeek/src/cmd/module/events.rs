//! `kpeek mod events`: read the per-CPU event rings the in-kernel probes fill.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kpeek_client::SysRoot;
use kpeek_client::chardev::Device;
use kpeek_client::ioctl::{Probe, ProbeState};
use kpeek_client::ring::{Record, RecordBody, RingItem, RingSet};
use kpeek_trace::clock::WallClock;
use kpeek_trace::output::text::LttngStamp;
use serde_json::json;

use super::probe::{ProbeName, filter_text, filters_for};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kpeek mod events --probe netif_receive_skb --filter dev=lo --count 10
  kpeek mod events --probe sched_switch --filter pid=1 --duration 5s --json

Sets up the rings (root), enables the probes with --filter, prints records as they arrive, then
restores the probes' previous configuration. Lost records (a full ring) are reported in place
and counted at the end. Ends after --count records, after --duration, or on Ctrl-C.")]
pub struct EventsArgs {
    /// A probe to enable (repeatable; default netif_receive_skb).
    #[arg(long, value_enum)]
    probe: Vec<ProbeName>,
    /// A filter term: dev=NAME, pid=N or min_len=BYTES (repeatable; all must hold).
    #[arg(long, value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// One JSON object per record (and per loss) per line.
    #[arg(long)]
    json: bool,
    /// Stop after N records.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long (10s, 500ms, 2m).
    #[arg(long, value_name = "D", value_parser = crate::cli::duration::parse_duration)]
    duration: Option<Duration>,
    /// Ring data bytes per CPU (a power of two, page size to 16 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    ring_size: u32,
    /// Wake the reader when a ring holds this many bytes (0: every record).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    watermark: u32,
}

/// The payload part of a text line: `{ dev = "lo", len = 84 }`.
pub fn fields(body: &RecordBody) -> String {
    match body {
        RecordBody::NetifReceiveSkb { dev, len, .. } => {
            format!("{{ dev = {dev:?}, len = {len} }}")
        }
        RecordBody::SchedSwitch {
            prev_comm,
            next_comm,
            prev_pid,
            next_pid,
            prev_state,
        } => format!(
            "{{ prev_comm = {prev_comm:?}, prev_pid = {prev_pid}, prev_state = {prev_state}, \
             next_comm = {next_comm:?}, next_pid = {next_pid} }}"
        ),
        RecordBody::BlockRqIssue {
            sector,
            dev,
            bytes,
            rwbs,
        } => {
            // new_encode_dev(): minor's low byte in bits 0-7, major in 8-19, minor's rest above.
            let major = (dev & 0xfff00) >> 8;
            let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
            format!(
                "{{ dev = \"{major}:{minor}\", sector = {sector}, bytes = {bytes}, rwbs = {rwbs:?} }}"
            )
        }
        RecordBody::Unknown { ty, payload } => {
            format!("{{ type = {ty}, payload_len = {} }}", payload.len())
        }
    }
}

/// One record as an lttng-view line, after its stamp (time, delta, host).
pub fn text_line(r: &Record) -> String {
    format!(
        "{}: {{ cpu_id = {} }}, {{ pid = {} }}, {}",
        r.body.name(),
        r.cpu,
        r.pid,
        fields(&r.body)
    )
}

struct Restore<'a> {
    dev: &'a Device,
    saved: Vec<ProbeState>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.saved {
            if let Err(e) = self.dev.probe_set(s) {
                crate::errln!(
                    "kpeek: warning: could not restore probe {}: {e}",
                    s.probe.name()
                );
            }
        }
    }
}

pub fn events(root: &SysRoot, a: EventsArgs) -> anyhow::Result<ExitCode> {
    let mut probes: Vec<Probe> = a.probe.iter().map(|&p| p.into()).collect();
    if probes.is_empty() {
        probes.push(Probe::NetifReceiveSkb);
    }
    probes.dedup();
    let filters = filters_for(&probes, &a.filter).map_err(anyhow::Error::msg)?;
    if !a.ring_size.is_power_of_two() || a.ring_size > kpeek_abi::dev::RING_MAX_SIZE {
        bail!(
            "--ring-size {}: must be a power of two from the page size to 16 MiB",
            a.ring_size
        );
    }
    let dev = Device::open(root)?;
    // Always: the rings belong to the open file that set them up (ABI 4), so this one must, and
    // a second reader is told the rings are taken (EBUSY) instead of stealing records.
    dev.ring_setup(a.ring_size, a.watermark)
        .context("setting up the event rings")?;
    let ctl = Device::open(root)?;
    let mut saved = Vec::new();
    for p in &probes {
        saved.push(ctl.probe_get(*p)?);
    }
    let restore = Restore { dev: &ctl, saved };
    let mut rings = RingSet::open(dev)?;
    // Records left from before this run are not this run's (and neither are their losses).
    let stale = rings.discard();
    if stale > 0 {
        crate::errln!("kpeek: skipped {stale} records already in the rings before this run");
    }
    for (p, f) in probes.iter().zip(&filters) {
        ctl.probe_set(&ProbeState {
            probe: *p,
            enabled: true,
            ring: true,
            filter: f.clone(),
            hits: 0,
            matched: 0,
        })
        .with_context(|| format!("enabling probe {}", p.name()))?;
    }
    let stop = crate::cli::signal::stop_flag();
    let names: Vec<String> = probes
        .iter()
        .zip(&filters)
        .map(|(p, f)| format!("{} ({})", p.name(), filter_text(f)))
        .collect();
    crate::errln!(
        "kpeek: probes enabled: {}; reading the rings of {} CPUs",
        names.join(", "),
        rings.rings().len()
    );
    // The same lttng-view stamp as `kpeek trace record`: local time, delta, host.
    let mut stamp = LttngStamp::new(
        WallClock {
            offset_ns: kpeek_client::ring::realtime_offset_ns(),
        },
        kpeek_trace::output::hostname(),
    );
    let start = Instant::now();
    let mut out = io::stdout().lock();
    let mut printed = 0u64;
    let mut lost_inline = 0u64;
    'outer: loop {
        let left = a.duration.map(|d| d.saturating_sub(start.elapsed()));
        if left == Some(Duration::ZERO) || stop.load(Ordering::Relaxed) {
            break;
        }
        let wait = left.map_or(Duration::from_millis(200), |l| {
            l.min(Duration::from_millis(200))
        });
        rings.wait(Some(wait))?;
        let (items, errors) = rings.drain();
        for e in errors {
            crate::errln!("kpeek: warning: {e} (skipped to the producer's position)");
        }
        for it in items {
            match it {
                RingItem::Lost { cpu, count } => {
                    lost_inline += count;
                    if a.json {
                        writeln!(out, "{}", json!({"lost": count, "cpu": cpu}))?;
                    } else {
                        writeln!(
                            out,
                            "[warning] {count} events lost on CPU {cpu} (ring full)"
                        )?;
                    }
                }
                RingItem::Record(r) => {
                    if a.json {
                        writeln!(out, "{}", serde_json::to_string(&r)?)?;
                    } else {
                        stamp.write(&mut out, r.ts_ns)?;
                        writeln!(out, "{}", text_line(&r))?;
                    }
                    printed += 1;
                    if a.count.is_some_and(|n| printed >= n) {
                        break 'outer;
                    }
                }
            }
        }
        out.flush()?;
    }
    out.flush()?;
    drop(restore);
    let st = rings.stats();
    let kernel_lost = rings.lost_since_open();
    crate::errln!(
        "kpeek: {printed} events printed, {} read; lost: {lost_inline} (seq gaps), {kernel_lost} \
         (rings' lost counters since start){}",
        st.records,
        if st.seq_backwards + st.corrupt > 0 {
            format!(
                "; {} out-of-order and {} malformed records",
                st.seq_backwards, st.corrupt
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(body: RecordBody) -> Record {
        Record {
            ts_ns: 1,
            seq: 0,
            cpu: 1,
            pid: 42,
            body,
        }
    }

    #[test]
    fn lttng_like_lines() {
        let r = rec(RecordBody::NetifReceiveSkb {
            dev: "lo".into(),
            len: 84,
            protocol: 0x800,
        });
        assert_eq!(
            text_line(&r),
            "netif_receive_skb: { cpu_id = 1 }, { pid = 42 }, { dev = \"lo\", len = 84 }"
        );
        let mut stamp = LttngStamp::new(WallClock { offset_ns: 0 }, "host");
        let mut out = Vec::new();
        stamp.write(&mut out, 5).unwrap();
        stamp.write(&mut out, 1_500_000_006).unwrap();
        let out = String::from_utf8(out).unwrap();
        // Local time of the day: only its fraction is fixed here.
        assert!(out.starts_with('['), "{out}");
        assert!(out.contains(".000000005] (+?.?????????) host ["), "{out}");
        assert!(out.ends_with(".500000006] (+1.500000001) host "), "{out}");
        let b = rec(RecordBody::BlockRqIssue {
            sector: 8,
            dev: (8 << 8) | 16,
            bytes: 4096,
            rwbs: "W".into(),
        });
        assert_eq!(
            fields(&b.body),
            "{ dev = \"8:16\", sector = 8, bytes = 4096, rwbs = \"W\" }"
        );
    }
}
