//! What a session delivers to its outputs: decoded events, lost-record notices, the summary,
//! and the [`Sink`] every output implements. Outputs depend on this module, not on the session.

use std::io;
use std::time::Duration;

use crate::clock::WallClock;
use crate::format::EventFormat;

/// One recorded event, borrowed from the session's buffers.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// Perf clock (`CLOCK_MONOTONIC`) nanoseconds.
    pub time: u64,
    /// The CPU it happened on.
    pub cpu: u32,
    /// The process (thread group) id, in the recording process's pid namespace.
    pub pid: u32,
    /// The thread id, in the recording process's pid namespace.
    pub tid: u32,
    /// Index of the event in [`Session::formats`](crate::record::Session::formats).
    pub index: usize,
    /// The event's layout.
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
    /// Perf clock nanoseconds of the notice.
    pub time: u64,
    /// The CPU whose ring overflowed.
    pub cpu: u32,
    /// How many records were dropped.
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
    /// Events delivered, per event (same order as [`Session::formats`](crate::record::Session::formats)).
    pub per_event: Vec<u64>,
    /// `PERF_RECORD_THROTTLE` records seen.
    pub throttled: u64,
    /// Other record types, samples of unknown ids, unparsable records.
    pub unknown_records: u64,
    /// How long the session recorded.
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
    /// The events, in index order.
    pub formats: &'a [EventFormat],
    /// The CPUs recorded on.
    pub cpus: &'a [i32],
    /// How to turn perf clock times into wall-clock times.
    pub clock: WallClock,
    /// The perf clock at the start of recording.
    pub start_ns: u64,
}

/// Where recorded events go (text, JSON, trace files, counting...).
pub trait Sink {
    /// Called once before any other method, with what is being recorded.
    fn begin(&mut self, _info: &SessionInfo<'_>) -> io::Result<()> {
        Ok(())
    }
    /// Called once every event is enabled: from here on, every hit is recorded. A caller that
    /// generates the events itself (a test) starts here instead of guessing with a sleep.
    fn enabled(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// One event, in time order across CPUs.
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()>;
    /// Records lost, in place among the events.
    fn lost(&mut self, lost: &Lost) -> io::Result<()>;
    /// Called after each read round that delivered something, so output reaches a terminal
    /// or a pipe promptly (once per ring wakeup at high rates, so it costs nothing there).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end, with the session's summary.
    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}
