//! perf events for tracepoints: `perf_event_open`, the mmap ring buffer and its records.
//!
//! One [`PerfEvent`] is one `perf_event_open` file descriptor (one tracepoint on one CPU, or on
//! one thread). A [`PerfRing`] maps an event's ring buffer and reads it with the protocol documented
//! in `include/uapi/linux/perf_event.h`: load-acquire `data_head`, read the records up to it,
//! store-release `data_tail`. Several events on the same CPU share one ring
//! ([`PerfEvent::set_output`]), so each ring is a single time-ordered stream; the
//! `PERF_SAMPLE_IDENTIFIER` word at the front of every sample tells the events apart.
//!
//! The ABI (the attribute struct, its constants, the ioctls, the mmap page layout) comes from
//! the `perf-event-open-sys` bindings; system calls other than `perf_event_open` and its
//! ioctls go through rustix.

mod event;
mod record;
mod ring;

use std::io;
use std::os::fd::BorrowedFd;

use perf_event_open_sys::bindings as sys;

pub use event::{Count, PerfEvent, TracepointConfig};
pub use record::{Record, Sample};
pub use ring::{PerfRing, RingError};

/// `PERF_SAMPLE_*` bits used by kpeek.
pub mod sample {
    use super::sys;
    /// `PERF_SAMPLE_TID`.
    pub const TID: u64 = sys::PERF_SAMPLE_TID as u64;
    /// `PERF_SAMPLE_TIME`.
    pub const TIME: u64 = sys::PERF_SAMPLE_TIME as u64;
    /// `PERF_SAMPLE_CALLCHAIN`.
    pub const CALLCHAIN: u64 = sys::PERF_SAMPLE_CALLCHAIN as u64;
    /// `PERF_SAMPLE_ID`.
    pub const ID: u64 = sys::PERF_SAMPLE_ID as u64;
    /// `PERF_SAMPLE_CPU`.
    pub const CPU: u64 = sys::PERF_SAMPLE_CPU as u64;
    /// `PERF_SAMPLE_PERIOD`.
    pub const PERIOD: u64 = sys::PERF_SAMPLE_PERIOD as u64;
    /// `PERF_SAMPLE_STREAM_ID`.
    pub const STREAM_ID: u64 = sys::PERF_SAMPLE_STREAM_ID as u64;
    /// `PERF_SAMPLE_RAW`.
    pub const RAW: u64 = sys::PERF_SAMPLE_RAW as u64;
    /// `PERF_SAMPLE_IDENTIFIER`.
    pub const IDENTIFIER: u64 = sys::PERF_SAMPLE_IDENTIFIER as u64;
}

/// `PERF_RECORD_*` record types read from the ring.
pub mod record_type {
    use super::sys;
    /// `PERF_RECORD_LOST`.
    pub const LOST: u32 = sys::PERF_RECORD_LOST;
    /// `PERF_RECORD_THROTTLE`.
    pub const THROTTLE: u32 = sys::PERF_RECORD_THROTTLE;
    /// `PERF_RECORD_UNTHROTTLE`.
    pub const UNTHROTTLE: u32 = sys::PERF_RECORD_UNTHROTTLE;
    /// `PERF_RECORD_SAMPLE`.
    pub const SAMPLE: u32 = sys::PERF_RECORD_SAMPLE;
}

/// `PERF_FORMAT_*` bits for counting mode reads.
pub mod read_format {
    use super::sys;
    /// `PERF_FORMAT_TOTAL_TIME_ENABLED`.
    pub const TOTAL_TIME_ENABLED: u64 = sys::PERF_FORMAT_TOTAL_TIME_ENABLED as u64;
    /// `PERF_FORMAT_TOTAL_TIME_RUNNING`.
    pub const TOTAL_TIME_RUNNING: u64 = sys::PERF_FORMAT_TOTAL_TIME_RUNNING as u64;
    /// Samples this event lost because its ring was full (Linux 6.0+).
    pub const LOST: u64 = sys::PERF_FORMAT_LOST as u64;
}

/// The system page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// What [`poll_readable`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollResult {
    /// Descriptors with data (a ring reached its wakeup mark).
    pub readable: usize,
    /// Descriptors that hung up (the traced task exited) without data.
    pub hangups: usize,
}

/// Poll `fds` for readability (ring wakeups) for at most `timeout_ms` (-1: forever).
/// An interrupted poll (a signal) returns an empty result.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<PollResult> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut pfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    let timeout = (timeout_ms >= 0).then(|| Timespec {
        tv_sec: i64::from(timeout_ms / 1000),
        tv_nsec: i64::from(timeout_ms % 1000) * 1_000_000,
    });
    match rustix::event::poll(&mut pfds, timeout.as_ref()) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(PollResult::default()),
        Err(e) => return Err(e.into()),
    }
    let mut res = PollResult::default();
    for p in &pfds {
        let rev = p.revents();
        if rev.contains(PollFlags::IN) {
            res.readable += 1;
        } else if rev.intersects(PollFlags::HUP | PollFlags::ERR) {
            res.hangups += 1;
        }
    }
    Ok(res)
}

/// Online CPUs from `/sys/devices/system/cpu/online` (e.g. "0-3,5"), else 0..available.
pub fn online_cpus() -> Vec<i32> {
    if let Ok(s) = std::fs::read_to_string("/sys/devices/system/cpu/online")
        && let Some(cpus) = parse_cpu_list(s.trim())
    {
        return cpus;
    }
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (0..n as i32).collect()
}

/// Parse a kernel CPU list such as "0-3,5,7-8".
pub fn parse_cpu_list(s: &str) -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i32, i32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The current `/proc/sys/kernel/perf_event_paranoid` value, if readable.
pub fn perf_event_paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }
}
