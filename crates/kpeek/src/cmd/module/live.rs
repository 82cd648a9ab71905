//! `kpeek mod events`, `listen`, `probe` and `threshold`: the push channels of kpeek.ko — the
//! per-CPU event rings the in-kernel probes fill, and the netlink `events` multicast group.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use kpeek_client::SysRoot;
use kpeek_client::chardev::Device;
use kpeek_client::events::{Event, EventKind, EventListener};
use kpeek_client::ioctl::{Filter, Probe, ProbeState};
use kpeek_client::netlink::Netlink;
use kpeek_client::ring::{Record, RecordBody, RingItem, RingSet};
use kpeek_trace::clock::WallClock;
use kpeek_trace::output::text::LttngStamp;
use serde_json::json;

/// Probe names as the CLI takes them (the tracepoints' names).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ProbeName {
    /// net:netif_receive_skb (filters: dev=NAME, min_len=BYTES).
    NetifReceiveSkb,
    /// sched:sched_switch (filter: pid=N, previous or next task).
    SchedSwitch,
    /// block:block_rq_issue (filters: pid=N, min_len=BYTES).
    BlockRqIssue,
}

impl From<ProbeName> for Probe {
    fn from(p: ProbeName) -> Probe {
        match p {
            ProbeName::NetifReceiveSkb => Probe::NetifReceiveSkb,
            ProbeName::SchedSwitch => Probe::SchedSwitch,
            ProbeName::BlockRqIssue => Probe::BlockRqIssue,
        }
    }
}

/// Which filter keys a probe takes.
fn applies(p: Probe, key: &str) -> bool {
    matches!(
        (p, key),
        (Probe::NetifReceiveSkb, "dev" | "min_len")
            | (Probe::SchedSwitch, "pid")
            | (Probe::BlockRqIssue, "pid" | "min_len")
    )
}

/// Each probe's filter from the `--filter` terms: a term goes to every chosen probe that takes
/// its key; a term no chosen probe takes is an error.
pub fn filters_for(probes: &[Probe], terms: &[String]) -> Result<Vec<Filter>, String> {
    let mut out = vec![Filter::default(); probes.len()];
    for t in terms {
        let key = t.split('=').next().unwrap_or("");
        let mut used = false;
        for (p, f) in probes.iter().zip(out.iter_mut()) {
            if applies(*p, key) {
                f.add_term(t)?;
                used = true;
            }
        }
        if !used {
            // Parse it anyway so a malformed term gets its own message.
            Filter::default().add_term(t)?;
            let names: Vec<_> = probes.iter().map(|p| p.name()).collect();
            return Err(format!(
                "filter {t:?} does not apply to {} (dev: netif_receive_skb; pid: sched_switch, \
                 block_rq_issue; min_len: netif_receive_skb, block_rq_issue)",
                names.join(", ")
            ));
        }
    }
    Ok(out)
}

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
                eprintln!(
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
    let info = dev.info()?;
    if info.ring_data_size != a.ring_size {
        dev.ring_setup(a.ring_size, a.watermark)
            .context("setting up the event rings")?;
    }
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
        eprintln!("kpeek: skipped {stale} records already in the rings before this run");
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
    eprintln!(
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
            eprintln!("kpeek: warning: {e} (skipped to the producer's position)");
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
    eprintln!(
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

#[derive(clap::Args)]
pub struct ListenArgs {
    /// One JSON object per notification per line.
    #[arg(long)]
    json: bool,
    /// Stop after N notifications.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long (10s, 500ms, 2m).
    #[arg(long, value_name = "D", value_parser = crate::cli::duration::parse_duration)]
    duration: Option<Duration>,
}

/// One notification as a text line: `counter_created app/hits id=12`.
pub fn event_line(e: &Event) -> String {
    let mut s = e.event.name().to_owned();
    match (&e.group, &e.counter) {
        (Some(g), Some(c)) => s.push_str(&format!(" {g}/{c}")),
        (Some(g), None) => s.push_str(&format!(" {g}")),
        _ => {}
    }
    for (k, v) in [
        ("id", e.id),
        ("group_id", e.group_id),
        ("value", e.value),
        ("threshold", e.threshold),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={v}"));
        }
    }
    if e.event == EventKind::Overrun {
        s.push_str(" (socket buffer full: notifications were dropped)");
    }
    if let Some(r) = e.raw_event {
        s.push_str(&format!(" event={r}"));
    }
    s
}

pub fn listen(a: ListenArgs) -> anyhow::Result<ExitCode> {
    let mut l = EventListener::connect()?;
    let stop = crate::cli::signal::stop_flag();
    eprintln!("kpeek: listening to the \"events\" group of generic netlink family \"kpeek\"");
    let start = Instant::now();
    let mut n = 0u64;
    let mut out = io::stdout().lock();
    loop {
        let left = a.duration.map(|d| d.saturating_sub(start.elapsed()));
        if left == Some(Duration::ZERO) || stop.load(Ordering::Relaxed) {
            break;
        }
        let wait = left.map_or(Duration::from_millis(500), |l| {
            l.min(Duration::from_millis(500))
        });
        let Some(e) = l.next(Some(wait))? else {
            continue;
        };
        if a.json {
            writeln!(out, "{}", serde_json::to_string(&e)?)?;
        } else {
            writeln!(out, "{}", event_line(&e))?;
        }
        out.flush()?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    if l.overruns() + l.malformed() > 0 {
        eprintln!(
            "kpeek: {} socket overruns (notifications lost), {} malformed notifications",
            l.overruns(),
            l.malformed()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--via` for probe changes.
#[derive(Clone, Copy, ValueEnum)]
pub enum CtlVia {
    /// KPEEK_IOC_PROBE_SET on /dev/kpeek.
    Ioctl,
    /// KPEEK_CMD_PROBE_SET over generic netlink.
    Netlink,
}

#[derive(Subcommand)]
pub enum ProbeCmd {
    /// Attach a probe to its tracepoint, with a filter; --ring also writes records to the rings.
    Enable {
        #[arg(value_enum)]
        probe: ProbeName,
        /// dev=NAME, pid=N or min_len=BYTES (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Also write records into the event rings (read them with `kpeek mod events`).
        #[arg(long)]
        ring: bool,
        #[arg(long, value_enum, default_value = "ioctl")]
        via: CtlVia,
    },
    /// Detach a probe.
    Disable {
        #[arg(value_enum)]
        probe: ProbeName,
        #[arg(long, value_enum, default_value = "ioctl")]
        via: CtlVia,
    },
    /// Every probe's state, filter and hit counts.
    Show {
        /// One JSON object per probe per line.
        #[arg(long)]
        json: bool,
    },
}

fn set_probe(root: &SysRoot, via: CtlVia, s: &ProbeState) -> anyhow::Result<()> {
    match via {
        CtlVia::Ioctl => Device::open(root)?.probe_set(s)?,
        CtlVia::Netlink => Netlink::connect()?.probe_set(s)?,
    }
    Ok(())
}

fn filter_text(f: &Filter) -> String {
    let mut v = Vec::new();
    if let Some(d) = &f.dev {
        v.push(format!("dev={d}"));
    }
    if let Some(p) = f.pid {
        v.push(format!("pid={p}"));
    }
    if let Some(m) = f.min_len {
        v.push(format!("min_len={m}"));
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

pub fn probe(root: &SysRoot, cmd: ProbeCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProbeCmd::Enable {
            probe,
            filter,
            ring,
            via,
        } => {
            let p = Probe::from(probe);
            let f = filters_for(&[p], &filter).map_err(anyhow::Error::msg)?;
            let s = ProbeState {
                probe: p,
                enabled: true,
                ring,
                filter: f.into_iter().next().unwrap_or_default(),
                hits: 0,
                matched: 0,
            };
            set_probe(root, via, &s)?;
            crate::outln!("enabled probe {} ({})", p.name(), filter_text(&s.filter))?;
        }
        ProbeCmd::Disable { probe, via } => {
            let p = Probe::from(probe);
            let s = ProbeState {
                probe: p,
                enabled: false,
                ring: false,
                filter: Filter::default(),
                hits: 0,
                matched: 0,
            };
            set_probe(root, via, &s)?;
            crate::outln!("disabled probe {}", p.name())?;
        }
        ProbeCmd::Show { json } => {
            let dev = Device::open(root)?;
            let mut out = io::stdout().lock();
            if !json {
                writeln!(
                    out,
                    "{:18}  {:7}  {:4}  {:>12}  {:>12}  FILTER",
                    "PROBE", "ENABLED", "RING", "HITS", "MATCHED"
                )?;
            }
            for p in Probe::ALL {
                let s = dev.probe_get(p)?;
                if json {
                    let obj = json!({
                        "probe": p.name(), "enabled": s.enabled, "ring": s.ring,
                        "hits": s.hits, "matched": s.matched,
                        "filter": {"dev": s.filter.dev, "pid": s.filter.pid, "min_len": s.filter.min_len},
                    });
                    writeln!(out, "{obj}")?;
                } else {
                    writeln!(
                        out,
                        "{:18}  {:7}  {:4}  {:>12}  {:>12}  {}",
                        p.name(),
                        if s.enabled { "yes" } else { "no" },
                        if s.ring { "yes" } else { "no" },
                        s.hits,
                        s.matched,
                        filter_text(&s.filter)
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum ThresholdCmd {
    /// Notify the netlink "events" group when GROUP/COUNTER rises to VALUE or above.
    Set {
        group: String,
        counter: String,
        value: u64,
    },
    /// Remove a counter's threshold.
    Clear { group: String, counter: String },
}

pub fn threshold(cmd: ThresholdCmd) -> anyhow::Result<ExitCode> {
    let nl = Netlink::connect()?;
    let (group, counter, value) = match cmd {
        ThresholdCmd::Set {
            group,
            counter,
            value,
        } => {
            if value == 0 {
                bail!("a threshold of 0 would clear it: use `kpeek mod threshold clear`");
            }
            (group, counter, value)
        }
        ThresholdCmd::Clear { group, counter } => (group, counter, 0),
    };
    let c = nl.counter_by_name(&group, &counter)?;
    nl.set_threshold(c.id, value)?;
    if value == 0 {
        crate::outln!("cleared the threshold of {group}/{counter}")?;
    } else {
        crate::outln!(
            "threshold of {group}/{counter} (id {}) set to {value}",
            c.id
        )?;
    }
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

    #[test]
    fn filters_go_to_the_probes_that_take_them() {
        let p = [Probe::NetifReceiveSkb, Probe::SchedSwitch];
        let f = filters_for(&p, &["dev=lo".into(), "pid=7".into()]).unwrap();
        assert_eq!(f[0].dev.as_deref(), Some("lo"));
        assert_eq!(f[0].pid, None);
        assert_eq!(f[1].pid, Some(7));
        let e = filters_for(&[Probe::SchedSwitch], &["dev=lo".into()]).unwrap_err();
        assert!(e.contains("does not apply to sched_switch"), "{e}");
        let e = filters_for(&[Probe::SchedSwitch], &["pid=x".into()]).unwrap_err();
        assert!(e.contains("expected a pid"), "{e}");
    }

    #[test]
    fn event_lines() {
        let e = Event {
            event: EventKind::Threshold,
            raw_event: None,
            group: Some("g".into()),
            counter: Some("c".into()),
            id: Some(3),
            group_id: None,
            value: Some(10),
            threshold: Some(8),
        };
        assert_eq!(event_line(&e), "threshold g/c id=3 value=10 threshold=8");
    }
}
