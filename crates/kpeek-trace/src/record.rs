//! A recording session: many tracepoints × every CPU, merged in time order, nothing lost
//! silently.
//!
//! [`Session::open`] opens one perf event per event per CPU (per thread too with a pid), sends
//! every event of a CPU into that CPU's ring, installs the filter in the kernel and explains a
//! rejected one. [`Session::run`] polls the rings, copies records out, and merges the per-CPU
//! streams like perf's `ordered_events`: each CPU's stream is already in time order, so records
//! are released in global order once they are older than the start of the current read round
//! minus a small slack (a record stamped that long ago is already in its ring). Lost records
//! are reported where the kernel says they happened, and at the end the kernel's own counters
//! (every hit that passed the filter) are compared with what was read, so even drops the
//! kernel never got to report are counted.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{OptionFault, open_error};
use crate::filter::filter_error_for;
use crate::format::EventFormat;
use crate::perf::{self, PerfEvent, PerfRing, Record, TracepointConfig};
use crate::process::{process_alive, raise_fd_limit, threads_of};
use crate::tracefs::{EventName, Tracefs, TracefsError};

pub use crate::clock::{WallClock, clock_ns};
pub use crate::error::RecordError;
pub use crate::filter::kernel_filter_explanation;
pub use crate::model::{Event, Lost, SessionInfo, Sink, Summary};

/// How long after a record's timestamp it is certainly in its ring: the reorder window.
const REORDER_SLACK_NS: u64 = 5_000_000;
/// Longest wait for a ring wakeup, so low-rate streams still come out promptly.
const POLL_MS: u64 = 100;

/// What to record and how.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// A filter in the kernel's syntax, installed on every event (`common_pid == 42`).
    pub filter: Option<String>,
    /// Only this process (all its threads, and children through `inherit`).
    pub pid: Option<i32>,
    /// Data pages per CPU ring (a power of two).
    pub buffer_pages: usize,
    /// Kernel call stacks with every sample.
    pub callchain: bool,
    /// CPUs to record on (default: every online CPU).
    pub cpus: Option<Vec<i32>>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            filter: None,
            pid: None,
            buffer_pages: 256,
            callchain: false,
            cpus: None,
        }
    }
}

/// When to stop.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop<'a> {
    /// Set asynchronously (e.g. by a SIGINT handler).
    pub flag: Option<&'a AtomicBool>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many events have been delivered.
    pub count: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum ItemKind {
    Sample {
        event: u32,
        pid: u32,
        tid: u32,
        cpu: u32,
        chain_len: u32,
        raw_len: u32,
    },
    Lost {
        count: u64,
        cpu: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct Item {
    time: u64,
    /// Logical offset of this item's bytes (callchain, then raw) in its stream's buffer.
    start: usize,
    kind: ItemKind,
}

/// One CPU's ring and the records copied out of it, waiting to be merged.
struct Stream {
    cpu: i32,
    ring: PerfRing,
    /// The event whose ring this is (the others on this CPU write into it).
    owner: PerfEvent,
    buf: Vec<u8>,
    /// Logical offset of `buf[0]`.
    base: usize,
    items: VecDeque<Item>,
}

impl Stream {
    fn bytes(&self, start: usize, len: usize) -> &[u8] {
        &self.buf[start - self.base..start - self.base + len]
    }

    /// Drop the bytes of items already delivered.
    fn compact(&mut self) {
        let keep_from = self
            .items
            .front()
            .map_or(self.base + self.buf.len(), |i| i.start);
        let cut = keep_from - self.base;
        if cut == self.buf.len() {
            self.buf.clear();
        } else if cut > self.buf.len() / 2 {
            self.buf.drain(..cut);
        } else {
            return;
        }
        self.base = keep_from;
    }
}

/// Per-event state: its format and its perf events.
struct Traced {
    format: EventFormat,
    perf: Vec<PerfEvent>,
}

/// An open recording session.
pub struct Session {
    events: Vec<Traced>,
    formats: Vec<EventFormat>,
    streams: Vec<Stream>,
    /// perf id -> event index, sorted by id.
    ids: Vec<(u64, u32)>,
    cpus: Vec<i32>,
    pid: Option<i32>,
    clock: WallClock,
    summary: Summary,
}

/// Resolve event specs (`system:name`, a bare unique name, or a glob such as `net:*`).
pub fn resolve_events(tracefs: &Tracefs, specs: &[String]) -> Result<Vec<EventName>, RecordError> {
    let mut out: Vec<EventName> = Vec::new();
    for spec in specs {
        if spec.contains(['*', '?', '[']) {
            let hits = tracefs
                .events(Some(spec))
                .map_err(RecordError::from_tracefs)?;
            if hits.is_empty() {
                return Err(RecordError::Tracefs(TracefsError::UnknownEvent {
                    event: spec.clone(),
                    suggestions: Vec::new(),
                }));
            }
            out.extend(hits);
        } else {
            out.push(tracefs.lookup(spec).map_err(RecordError::from_tracefs)?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| seen.insert(e.clone()));
    Ok(out)
}

impl Session {
    /// Open every event on every CPU (disabled until [`Session::run`]).
    pub fn open(
        tracefs: &Tracefs,
        events: &[EventName],
        opts: &RecordOptions,
    ) -> Result<Session, RecordError> {
        if events.is_empty() {
            return Err(RecordError::BadOption(OptionFault::NoEvents("record")));
        }
        if opts.buffer_pages == 0 || !opts.buffer_pages.is_power_of_two() {
            return Err(RecordError::BadOption(OptionFault::RingSize(
                opts.buffer_pages,
            )));
        }
        let cpus = opts.cpus.clone().unwrap_or_else(perf::online_cpus);
        let tids = match opts.pid {
            Some(pid) => threads_of(pid)?.into_iter().map(Some).collect(),
            None => vec![None],
        };
        let filter = match &opts.filter {
            Some(f) => Some(
                CString::new(f.as_str())
                    .map_err(|_| RecordError::BadOption(OptionFault::NulInFilter))?,
            ),
            None => None,
        };
        raise_fd_limit(events.len() * cpus.len() * tids.len() + 64);
        let data_bytes = opts.buffer_pages * perf::page_size();
        let mut traced = Vec::new();
        // The first event opened on each CPU owns that CPU's ring.
        let mut owners: Vec<Option<PerfEvent>> = (0..cpus.len()).map(|_| None).collect();
        let mut rings: Vec<Option<PerfRing>> = (0..cpus.len()).map(|_| None).collect();
        let mut ids = Vec::new();
        for (index, name) in events.iter().enumerate() {
            let format = tracefs.format(name).map_err(RecordError::from_tracefs)?;
            let config = TracepointConfig {
                id: u64::from(format.id),
                sampling: true,
                callchain: opts.callchain,
                wakeup_bytes: (data_bytes / 4).max(1) as u32,
                inherit: opts.pid.is_some(),
            };
            let sample_type = config.sample_type();
            let mut fds = Vec::new();
            for (slot, &cpu) in cpus.iter().enumerate() {
                for tid in &tids {
                    let ev = PerfEvent::tracepoint(&config, *tid, cpu)
                        .map_err(|e| open_error(name, *tid, cpu, opts.pid, e))?;
                    if let Some(f) = &filter
                        && let Err(e) = ev.set_filter(f)
                    {
                        return Err(filter_error_for(
                            tracefs,
                            &format,
                            opts.filter.as_deref(),
                            e,
                        ));
                    }
                    let id = ev.id().map_err(|e| RecordError::Io {
                        what: "PERF_EVENT_IOC_ID".into(),
                        error: e,
                    })?;
                    ids.push((id, index as u32));
                    match &owners[slot] {
                        Some(owner) => ev.set_output(owner).map_err(|e| RecordError::Io {
                            what: format!("PERF_EVENT_IOC_SET_OUTPUT on cpu {cpu}"),
                            error: e,
                        })?,
                        None => {
                            let ring = PerfRing::map(&ev, opts.buffer_pages, sample_type)
                                .map_err(|source| RecordError::Ring { cpu, source })?;
                            rings[slot] = Some(ring);
                            owners[slot] = Some(ev);
                            continue;
                        }
                    }
                    fds.push(ev);
                }
            }
            traced.push(Traced { format, perf: fds });
        }
        ids.sort_unstable();
        let streams = cpus
            .iter()
            .zip(rings)
            .zip(owners)
            .filter_map(|((&cpu, ring), owner)| {
                Some(Stream {
                    cpu,
                    ring: ring?,
                    owner: owner?,
                    buf: Vec::new(),
                    base: 0,
                    items: VecDeque::new(),
                })
            })
            .collect();
        let formats = traced.iter().map(|t| t.format.clone()).collect();
        Ok(Session {
            events: traced,
            formats,
            streams,
            ids,
            cpus,
            pid: opts.pid,
            clock: WallClock::measure(),
            summary: Summary::default(),
        })
    }

    /// The events being recorded, in index order.
    pub fn formats(&self) -> &[EventFormat] {
        &self.formats
    }

    /// The CPUs being recorded on.
    pub fn cpus(&self) -> &[i32] {
        &self.cpus
    }

    /// How to turn perf clock times into wall-clock times.
    pub fn clock(&self) -> WallClock {
        self.clock
    }

    /// Every perf event of the session: the ring owners and the events writing into them.
    fn all_perf(&self) -> impl Iterator<Item = &PerfEvent> {
        self.streams
            .iter()
            .map(|s| &s.owner)
            .chain(self.events.iter().flat_map(|t| &t.perf))
    }

    fn for_each_perf(&self, f: impl Fn(&PerfEvent) -> io::Result<()>) -> Result<(), RecordError> {
        for p in self.all_perf() {
            f(p).map_err(|e| RecordError::Io {
                what: "perf ioctl".into(),
                error: e,
            })?;
        }
        Ok(())
    }

    /// Record until `stop`, delivering events to `sink` in time order. Returns the summary
    /// (also given to [`Sink::finish`]).
    pub fn run(&mut self, stop: Stop<'_>, sink: &mut dyn Sink) -> Result<Summary, RecordError> {
        self.summary = Summary {
            per_event: vec![0; self.events.len()],
            ..Summary::default()
        };
        self.clock = WallClock::measure();
        let start_ns = clock_ns(rustix::time::ClockId::Monotonic);
        sink.begin(&SessionInfo {
            formats: &self.formats,
            cpus: &self.cpus,
            clock: self.clock,
            start_ns,
        })
        .map_err(RecordError::Output)?;
        let started = Instant::now();
        let deadline = stop.duration.map(|d| started + d);
        self.for_each_perf(PerfEvent::enable)?;
        sink.enabled().map_err(RecordError::Output)?;
        let mut done = false;
        while !done {
            if stop.flag.is_some_and(|f| f.load(Ordering::Relaxed)) {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            if let Some(pid) = self.pid
                && !process_alive(pid)
            {
                break;
            }
            // The kernel wakes us each time a quarter of a ring fills; the timeout keeps a
            // slow stream flowing.
            let mut timeout = Duration::from_millis(POLL_MS);
            if let Some(d) = deadline {
                timeout = timeout.min(d.saturating_duration_since(now));
            }
            self.poll(timeout)?;
            let round_start = clock_ns(rustix::time::ClockId::Monotonic);
            self.read_rings()?;
            let before = self.summary.events;
            done = self.deliver(
                round_start.saturating_sub(REORDER_SLACK_NS),
                sink,
                stop.count,
            )?;
            if self.summary.events != before {
                sink.flush().map_err(RecordError::Output)?;
            }
        }
        self.for_each_perf(PerfEvent::disable)?;
        self.read_rings()?;
        if !done {
            self.deliver(u64::MAX, sink, stop.count)?;
        }
        let (mut hits, mut kernel_lost, mut lost_known) = (0, 0, true);
        for p in self.all_perf() {
            let c = p.read_count().map_err(|e| RecordError::Io {
                what: "reading a perf counter".into(),
                error: e,
            })?;
            hits += c.value;
            match c.lost {
                Some(n) => kernel_lost += n,
                None => lost_known = false,
            }
        }
        let s = &mut self.summary;
        s.hits = hits;
        // The kernel's per-event lost-sample counters (Linux 6.0+) count every drop, reported
        // in the rings or not. Before 6.0, fall back to the hit counters, exact for tracepoints
        // that count 1 per hit.
        let dropped = if lost_known {
            kernel_lost
        } else {
            hits.saturating_sub(s.samples)
        };
        s.lost_unreported = dropped.saturating_sub(s.lost_reported);
        s.elapsed = started.elapsed();
        let summary = self.summary.clone();
        sink.finish(&summary).map_err(RecordError::Output)?;
        Ok(summary)
    }

    fn poll(&self, timeout: Duration) -> Result<(), RecordError> {
        let fds: Vec<_> = self
            .streams
            .iter()
            .map(|s| std::os::fd::AsFd::as_fd(&s.owner))
            .collect();
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let r = perf::poll_readable(&fds, ms).map_err(|e| RecordError::Io {
            what: "poll".into(),
            error: e,
        })?;
        if r.readable == 0 && r.hangups > 0 {
            // A traced thread exited: its descriptor stays "ready" for ever; wait anyway
            // rather than spin (other threads may still write into the ring).
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
        }
        Ok(())
    }

    /// Copy every available record out of every ring into the per-CPU queues.
    fn read_rings(&mut self) -> Result<(), RecordError> {
        let ids = &self.ids;
        let summary = &mut self.summary;
        for s in &mut self.streams {
            let Stream {
                cpu,
                ring,
                buf,
                base,
                items,
                ..
            } = s;
            ring.read(|r| match r {
                Record::Sample(smp) => {
                    summary.samples += 1;
                    let Ok(i) = ids.binary_search_by_key(&smp.id, |&(id, _)| id) else {
                        summary.unknown_records += 1;
                        return;
                    };
                    let start = *base + buf.len();
                    buf.extend_from_slice(smp.callchain);
                    buf.extend_from_slice(smp.raw);
                    let item = Item {
                        time: smp.time,
                        start,
                        kind: ItemKind::Sample {
                            event: ids[i].1,
                            pid: smp.pid,
                            tid: smp.tid,
                            cpu: smp.cpu,
                            chain_len: smp.callchain.len() as u32,
                            raw_len: smp.raw.len() as u32,
                        },
                    };
                    push_ordered(items, item);
                }
                Record::Lost {
                    lost, time, cpu, ..
                } => {
                    summary.lost_reported += lost;
                    let time = if time == 0 {
                        items.back().map_or(0, |i| i.time)
                    } else {
                        time
                    };
                    let start = *base + buf.len();
                    push_ordered(
                        items,
                        Item {
                            time,
                            start,
                            kind: ItemKind::Lost { count: lost, cpu },
                        },
                    );
                }
                Record::Throttle { unthrottle, .. } => {
                    if !unthrottle {
                        summary.throttled += 1;
                    }
                }
                Record::Other { .. } => summary.unknown_records += 1,
            })
            .map_err(|source| RecordError::Ring { cpu: *cpu, source })?;
        }
        Ok(())
    }

    /// Deliver queued records older than `watermark` in time order. Returns true once
    /// `count` events have been delivered.
    fn deliver(
        &mut self,
        watermark: u64,
        sink: &mut dyn Sink,
        count: Option<u64>,
    ) -> Result<bool, RecordError> {
        let limit = count.unwrap_or(u64::MAX);
        let mut reached = self.summary.events >= limit;
        while !reached {
            // The stream with the oldest ready record, and the bound up to which it may run
            // alone: the next-oldest front among the others.
            let mut best: Option<(u64, usize)> = None;
            let mut second = watermark;
            for (i, s) in self.streams.iter().enumerate() {
                let Some(front) = s.items.front() else {
                    continue;
                };
                if front.time > watermark {
                    continue;
                }
                match best {
                    Some((t, _)) if front.time >= t => second = second.min(front.time),
                    Some((t, _)) => {
                        second = second.min(t);
                        best = Some((front.time, i));
                    }
                    None => best = Some((front.time, i)),
                }
            }
            let Some((_, i)) = best else { break };
            let s = &mut self.streams[i];
            while let Some(item) = s.items.front().copied() {
                if item.time > second {
                    break;
                }
                s.items.pop_front();
                match item.kind {
                    ItemKind::Sample {
                        event,
                        pid,
                        tid,
                        cpu,
                        chain_len,
                        raw_len,
                    } => {
                        let (chain_len, raw_len) = (chain_len as usize, raw_len as usize);
                        let bytes = s.bytes(item.start, chain_len + raw_len);
                        let ev = Event {
                            time: item.time,
                            cpu,
                            pid,
                            tid,
                            index: event as usize,
                            format: &self.formats[event as usize],
                            raw: &bytes[chain_len..],
                            callchain: &bytes[..chain_len],
                        };
                        sink.event(&ev).map_err(RecordError::Output)?;
                        self.summary.events += 1;
                        self.summary.per_event[event as usize] += 1;
                        if self.summary.events >= limit {
                            reached = true;
                            break;
                        }
                    }
                    ItemKind::Lost { count, cpu } => {
                        let cpu = if cpu == u32::MAX { s.cpu as u32 } else { cpu };
                        sink.lost(&Lost {
                            time: item.time,
                            cpu,
                            count,
                        })
                        .map_err(RecordError::Output)?;
                    }
                }
            }
        }
        for s in &mut self.streams {
            s.compact();
        }
        Ok(reached)
    }
}

/// Append keeping the queue in time order (a CPU's records are almost always in order
/// already; an interrupt that fires between another record's timestamp and its write can
/// swap two).
fn push_ordered(items: &mut VecDeque<Item>, item: Item) {
    match items.back() {
        Some(last) if last.time > item.time => {
            let pos = items.partition_point(|i| i.time <= item.time);
            items.insert(pos, item);
        }
        _ => items.push_back(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(time: u64) -> Item {
        Item {
            time,
            start: 0,
            kind: ItemKind::Lost { count: 1, cpu: 0 },
        }
    }

    #[test]
    fn push_ordered_sorts_late_arrivals() {
        let mut q = VecDeque::new();
        for t in [1, 3, 5, 4, 2, 5, 6] {
            push_ordered(&mut q, item(t));
        }
        assert_eq!(
            q.iter().map(|i| i.time).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 5, 6]
        );
    }

    #[test]
    fn wall_clock_is_close_to_realtime() {
        let c = WallClock::measure();
        let wall = c.wall_ns(clock_ns(rustix::time::ClockId::Monotonic));
        let real = clock_ns(rustix::time::ClockId::Realtime) as i128;
        assert!((real - wall).abs() < 50_000_000, "{real} vs {wall}");
    }
}
