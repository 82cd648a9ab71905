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
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::format::EventFormat;
use crate::perf::{self, PerfEvent, Record, Ring, TracepointConfig};
use crate::tracefs::{EventName, Tracefs, TracefsError};

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
    pub duration: Option<Duration>,
    /// Stop after this many events have been delivered.
    pub count: Option<u64>,
}

/// Something went wrong opening or running a session.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("{}", permission_message(.what, *.paranoid, .error))]
    Permission {
        what: String,
        paranoid: Option<i32>,
        /// The errno (not a `source`: the message already shows it).
        error: io::Error,
    },
    #[error(
        "the kernel rejected the filter for {event}:\n{explanation}\nfields of {event}: {}",
        .fields.join(", ")
    )]
    BadFilter {
        event: EventName,
        filter: String,
        explanation: String,
        fields: Vec<String>,
    },
    #[error("no process with pid {0}")]
    NoProcess(i32),
    #[error("{what}: {error}")]
    Io { what: String, error: io::Error },
    #[error("writing output")]
    Output(#[source] io::Error),
    #[error("bad option: {0}")]
    BadOption(String),
    /// Mapping or reading a CPU's perf ring failed.
    #[error("the perf ring of cpu {cpu}")]
    Ring {
        /// The CPU whose ring failed.
        cpu: i32,
        /// What failed.
        #[source]
        source: crate::perf::RingError,
    },
}

fn permission_message(what: &str, paranoid: Option<i32>, source: &io::Error) -> String {
    let now = match paranoid {
        Some(v) => format!("it is {v} now"),
        None => "it could not be read".to_string(),
    };
    format!(
        "{what}: {source}. Recording kernel tracepoints needs root or CAP_PERFMON \
         (CAP_SYS_ADMIN before Linux 5.8), or /proc/sys/kernel/perf_event_paranoid set to -1 \
         ({now}); e.g. run with sudo"
    )
}

impl RecordError {
    /// A permission error, with the current `perf_event_paranoid`.
    pub fn permission(what: impl Into<String>, source: io::Error) -> RecordError {
        RecordError::Permission {
            what: what.into(),
            paranoid: perf::perf_event_paranoid(),
            error: source,
        }
    }

    /// Map tracefs permission errors to the same explanation as perf's.
    pub fn from_tracefs(e: TracefsError) -> RecordError {
        match e {
            TracefsError::PermissionDenied { path } => RecordError::permission(
                format!("reading {}", path.display()),
                io::Error::from(io::ErrorKind::PermissionDenied),
            ),
            e => RecordError::Tracefs(e),
        }
    }
}

/// Wall-clock time from the perf clock (`CLOCK_MONOTONIC`): the offset measured at start.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// `CLOCK_REALTIME - CLOCK_MONOTONIC` in ns.
    pub offset_ns: i128,
}

/// `clock_gettime(clock)` in ns.
pub fn clock_ns(clock: rustix::time::ClockId) -> u64 {
    let ts = rustix::time::clock_gettime(clock);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl WallClock {
    /// Measure the offset, bracketing the realtime read by two monotonic reads.
    pub fn measure() -> WallClock {
        let m1 = clock_ns(rustix::time::ClockId::Monotonic);
        let r = clock_ns(rustix::time::ClockId::Realtime);
        let m2 = clock_ns(rustix::time::ClockId::Monotonic);
        let m = (m1 as i128 + m2 as i128) / 2;
        WallClock {
            offset_ns: r as i128 - m,
        }
    }

    /// Nanoseconds since the Unix epoch of a perf timestamp.
    pub fn wall_ns(&self, perf_ns: u64) -> i128 {
        perf_ns as i128 + self.offset_ns
    }
}

/// One recorded event, borrowed from the session's buffers.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// Perf clock (`CLOCK_MONOTONIC`) nanoseconds.
    pub time: u64,
    pub cpu: u32,
    pub pid: u32,
    pub tid: u32,
    /// Index of the event in [`Session::formats`].
    pub index: usize,
    pub format: &'a EventFormat,
    /// The tracepoint record (common fields first): decode with [`EventFormat::decode`].
    pub raw: &'a [u8],
    /// Kernel call stack as native u64s with `PERF_CONTEXT_*` markers (empty without
    /// `--callchain`).
    pub callchain: &'a [u8],
}

impl Event<'_> {
    /// Call stack addresses (markers removed).
    pub fn callchain_ips(&self) -> impl Iterator<Item = u64> + '_ {
        const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;
        self.callchain
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8-byte chunk")))
            .filter(|&ip| ip < PERF_CONTEXT_MAX)
    }
}

/// Records the kernel dropped because a ring was full (`PERF_RECORD_LOST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lost {
    pub time: u64,
    pub cpu: u32,
    pub count: u64,
}

/// What a session saw, for the end-of-run report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events delivered to the sink.
    pub events: u64,
    /// Samples read from the rings (more than `events` when `--count` stopped early).
    pub samples: u64,
    /// Lost records reported in the rings (`PERF_RECORD_LOST`).
    pub lost_reported: u64,
    /// Hits counted by the kernel that were neither read nor reported lost.
    pub lost_unreported: u64,
    /// The kernel's counters over all events and CPUs: hits that passed the filter (the sum
    /// of their counts for `__perf_count()` tracepoints such as sched_stat_runtime).
    pub hits: u64,
    /// Events delivered, per event (same order as [`Session::formats`]).
    pub per_event: Vec<u64>,
    /// `PERF_RECORD_THROTTLE` records seen.
    pub throttled: u64,
    /// Other record types, samples of unknown ids, unparsable records.
    pub unknown_records: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// Every record lost, reported or not.
    pub fn lost(&self) -> u64 {
        self.lost_reported + self.lost_unreported
    }
}

/// What a session is recording, for sinks that write headers.
#[derive(Clone, Copy, Debug)]
pub struct SessionInfo<'a> {
    pub formats: &'a [EventFormat],
    pub cpus: &'a [i32],
    pub clock: WallClock,
    /// The perf clock at the start of recording.
    pub start_ns: u64,
}

/// Where recorded events go (text, JSON, trace files, counting...).
pub trait Sink {
    fn begin(&mut self, _info: &SessionInfo<'_>) -> io::Result<()> {
        Ok(())
    }
    /// Called once every event is enabled: from here on, every hit is recorded. A caller that
    /// generates the events itself (a test) starts here instead of guessing with a sleep.
    fn enabled(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()>;
    fn lost(&mut self, lost: &Lost) -> io::Result<()>;
    /// Called after each read round that delivered something, so output reaches a terminal
    /// or a pipe promptly (once per ring wakeup at high rates, so it costs nothing there).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
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
    ring: Ring,
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

/// One descriptor per event per CPU (per thread) adds up: raise the soft `RLIMIT_NOFILE`
/// towards the hard limit when needed, as perf does.
pub(crate) fn raise_fd_limit(needed: usize) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current.is_some_and(|cur| cur < needed as u64) {
        lim.current = Some(
            lim.maximum
                .map_or(needed as u64, |max| max.min(needed as u64)),
        );
        // Best effort: without it, opening fails later with an explained EMFILE.
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// The error for a failed `perf_event_open`: permission problems explained.
pub(crate) fn open_error(
    name: &EventName,
    tid: Option<i32>,
    cpu: i32,
    pid: Option<i32>,
    e: io::Error,
) -> RecordError {
    let what = match tid {
        Some(t) => format!("perf_event_open({name}, tid {t}, cpu {cpu})"),
        None => format!("perf_event_open({name}, cpu {cpu})"),
    };
    if is_permission(&e) {
        RecordError::permission(what, e)
    } else if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) {
        RecordError::NoProcess(pid.unwrap_or(-1))
    } else if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) {
        RecordError::Io {
            what: format!(
                "{what}: one descriptor per event per CPU exceeds the open-file limit; \
                 raise it (ulimit -n) or record fewer events"
            ),
            error: e,
        }
    } else {
        RecordError::Io { what, error: e }
    }
}

/// Threads of a process, from `/proc/<pid>/task`.
pub(crate) fn threads_of(pid: i32) -> Result<Vec<i32>, RecordError> {
    let dir = format!("/proc/{pid}/task");
    let rd = std::fs::read_dir(&dir).map_err(|_| RecordError::NoProcess(pid))?;
    let mut tids: Vec<i32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    if tids.is_empty() {
        return Err(RecordError::NoProcess(pid));
    }
    Ok(tids)
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM)
    )
}

impl Session {
    /// Open every event on every CPU (disabled until [`Session::run`]).
    pub fn open(
        tracefs: &Tracefs,
        events: &[EventName],
        opts: &RecordOptions,
    ) -> Result<Session, RecordError> {
        if events.is_empty() {
            return Err(RecordError::BadOption("no events to record".into()));
        }
        if opts.buffer_pages == 0 || !opts.buffer_pages.is_power_of_two() {
            return Err(RecordError::BadOption(format!(
                "--buffer-pages must be a power of two (1, 2, 4, ... pages per CPU), got {}",
                opts.buffer_pages
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
                    .map_err(|_| RecordError::BadOption("the filter contains a NUL byte".into()))?,
            ),
            None => None,
        };
        raise_fd_limit(events.len() * cpus.len() * tids.len() + 64);
        let data_bytes = opts.buffer_pages * perf::page_size();
        let mut traced = Vec::new();
        // The first event opened on each CPU owns that CPU's ring.
        let mut owners: Vec<Option<PerfEvent>> = (0..cpus.len()).map(|_| None).collect();
        let mut rings: Vec<Option<Ring>> = (0..cpus.len()).map(|_| None).collect();
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
                            let ring = Ring::map(&ev, opts.buffer_pages, sample_type)
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

    pub fn cpus(&self) -> &[i32] {
        &self.cpus
    }

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

/// Whether a process still runs (a zombie has made its last system call: it counts as gone).
fn process_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')', as comm may hold anything.
    match stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
    {
        Some('Z' | 'X' | 'x') | None => false,
        Some(_) => true,
    }
}

/// Explain a filter the kernel rejected: write it to the same event in a scratch tracefs
/// instance, whose `filter` file then shows the parse error with a caret under the culprit.
pub(crate) fn filter_error_for(
    tracefs: &Tracefs,
    format: &EventFormat,
    filter: Option<&str>,
    err: io::Error,
) -> RecordError {
    let filter = filter.unwrap_or_default().to_string();
    let fields: Vec<String> = format
        .common_fields
        .iter()
        .chain(&format.fields)
        .map(|f| f.name.clone())
        .collect();
    if err.raw_os_error() != Some(rustix::io::Errno::INVAL.raw_os_error()) {
        return RecordError::Io {
            what: format!("PERF_EVENT_IOC_SET_FILTER `{filter}` on {}", format.name),
            error: err,
        };
    }
    let explanation = kernel_filter_explanation(tracefs.root(), &format.name, &filter)
        .unwrap_or_else(|| format!("{filter}\n(the kernel gave no details: {err})"));
    RecordError::BadFilter {
        event: format.name.clone(),
        filter,
        explanation,
        fields,
    }
}

/// Read a tracefs file with one `read`: the `filter` file answers only at offset 0, so the
/// usual small first read would cut it.
fn read_once(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let n = f.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The kernel's explanation of a filter error, from a scratch instance.
pub fn kernel_filter_explanation(root: &Path, event: &EventName, filter: &str) -> Option<String> {
    use std::sync::atomic::AtomicUsize;
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "kpeek-filter-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let inst = root.join("instances").join(name);
    std::fs::create_dir(&inst).ok()?;
    let file = inst
        .join("events")
        .join(&event.system)
        .join(&event.name)
        .join("filter");
    let result = (|| {
        if std::fs::write(&file, filter).is_ok() {
            return None; // accepted here: nothing to explain
        }
        let text = read_once(&file)?;
        let text = text.trim_end();
        if !text.is_empty() && text != "none" {
            return Some(text.to_string());
        }
        let log = std::fs::read_to_string(inst.join("error_log")).ok()?;
        let last = log
            .trim_end()
            .rsplit_once("\n[")
            .map_or(log.trim_end(), |(_, l)| l);
        Some(last.to_string())
    })();
    let _ = std::fs::remove_dir(&inst);
    result
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
