//! One perf event: what to open ([`TracepointConfig`]), the open descriptor ([`PerfEvent`]) and
//! its counter ([`Count`]).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use perf_event_open_sys::bindings as sys;
use perf_event_open_sys::ioctls;

use super::{read_format, sample};

/// What to open: a tracepoint, sampled into a ring or only counted.
#[derive(Clone, Debug)]
pub struct TracepointConfig {
    /// The tracepoint id (`events/<sys>/<name>/id`).
    pub id: u64,
    /// Sample every hit into a ring (`true`), or only count hits (`false`, `kpeek trace stat`).
    pub sampling: bool,
    /// Add kernel call stacks (`PERF_SAMPLE_CALLCHAIN`, user stacks excluded).
    pub callchain: bool,
    /// Wake the reader once this many bytes are in the ring (0: on every record).
    pub wakeup_bytes: u32,
    /// Follow children of the traced thread (`inherit`), only meaningful with a pid.
    pub inherit: bool,
}

impl TracepointConfig {
    /// The `sample_type` kpeek requests: the layout [`super::Sample::parse`] expects.
    pub fn sample_type(&self) -> u64 {
        // PERIOD matters beyond its value: without it the kernel turns a tracepoint hit with a
        // count above 1 (`__perf_count()`, e.g. sched_stat_runtime's runtime in ns) into that
        // many samples, which then get throttled. With it, one hit is one sample.
        let mut t = sample::IDENTIFIER
            | sample::TID
            | sample::TIME
            | sample::CPU
            | sample::PERIOD
            | sample::RAW;
        if self.callchain {
            t |= sample::CALLCHAIN;
        }
        t
    }

    /// The `perf_event_attr` for this configuration. Events start disabled; timestamps come
    /// from `CLOCK_MONOTONIC` so they can be turned into wall-clock time.
    fn attr(&self) -> sys::perf_event_attr {
        let mut attr = sys::perf_event_attr {
            type_: sys::PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<sys::perf_event_attr>() as u32,
            config: self.id,
            ..Default::default()
        };
        attr.set_disabled(1);
        attr.set_exclude_hv(1);
        if self.inherit {
            attr.set_inherit(1);
        }
        if self.sampling {
            attr.__bindgen_anon_1.sample_period = 1;
            attr.sample_type = self.sample_type();
            attr.set_sample_id_all(1);
            attr.set_use_clockid(1);
            attr.clockid = rustix::time::ClockId::Monotonic as i32;
            if self.wakeup_bytes > 0 {
                attr.set_watermark(1);
                attr.__bindgen_anon_2.wakeup_watermark = self.wakeup_bytes;
            } else {
                attr.__bindgen_anon_2.wakeup_events = 1;
            }
            if self.callchain {
                attr.set_exclude_callchain_user(1);
            }
        }
        // Sampling events count too: at the end the count tells how many hits there were, so
        // lost records the kernel never got to report are still accounted for.
        attr.read_format =
            read_format::TOTAL_TIME_ENABLED | read_format::TOTAL_TIME_RUNNING | read_format::LOST;
        attr
    }
}

/// One open perf event (one `perf_event_open` file descriptor).
#[derive(Debug)]
pub struct PerfEvent {
    fd: OwnedFd,
    cpu: i32,
    /// `read` returns the lost-sample count too (`PERF_FORMAT_LOST`).
    has_lost: bool,
}

/// A counter value read in counting mode, with the times the event was enabled and running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Count {
    /// Hits that passed the filter (the sum of their counts).
    pub value: u64,
    /// Nanoseconds the event was enabled.
    pub time_enabled: u64,
    /// Nanoseconds the event was running (equal to enabled for tracepoints).
    pub time_running: u64,
    /// Samples lost because the ring was full (`None` before Linux 6.0).
    pub lost: Option<u64>,
}

/// Converts the `-1`-and-errno convention of the perf ioctls into a `Result`.
fn check(r: i32) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl PerfEvent {
    /// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`. `pid` -1 with a CPU traces
    /// everything on that CPU; a pid with `cpu` -1 follows a thread everywhere.
    fn open(attr: &mut sys::perf_event_attr, pid: i32, cpu: i32) -> io::Result<PerfEvent> {
        // SAFETY: attr points to a live, fully initialised perf_event_attr whose `size` is its
        // own size; it requests only a tracepoint (no user memory is sampled). The kernel
        // copies it and keeps no pointer.
        let fd = check(unsafe {
            perf_event_open_sys::perf_event_open(
                attr,
                pid,
                cpu,
                -1,
                sys::PERF_FLAG_FD_CLOEXEC.into(),
            )
        })?;
        // SAFETY: the system call returned a new file descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PerfEvent {
            fd,
            cpu,
            has_lost: attr.read_format & read_format::LOST != 0,
        })
    }

    /// Open a tracepoint on `cpu` (all tasks when `pid` is `None`).
    pub fn tracepoint(config: &TracepointConfig, pid: Option<i32>, cpu: i32) -> io::Result<Self> {
        let mut attr = config.attr();
        match PerfEvent::open(&mut attr, pid.unwrap_or(-1), cpu) {
            // Kernels before 6.0 do not know PERF_FORMAT_LOST.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                attr.read_format &= !read_format::LOST;
                PerfEvent::open(&mut attr, pid.unwrap_or(-1), cpu)
            }
            r => r,
        }
    }

    /// The CPU this event was opened on (-1: any).
    pub fn cpu(&self) -> i32 {
        self.cpu
    }

    /// The kernel's id for this event: the `PERF_SAMPLE_IDENTIFIER` value of its samples.
    pub fn id(&self) -> io::Result<u64> {
        let mut id = 0u64;
        // SAFETY: PERF_EVENT_IOC_ID writes one u64 through the pointer, which points to `id`.
        check(unsafe { ioctls::ID(self.fd.as_raw_fd(), &mut id) })?;
        Ok(id)
    }

    /// Send this event's records to `target`'s ring (same CPU): `PERF_EVENT_IOC_SET_OUTPUT`.
    pub fn set_output(&self, target: &PerfEvent) -> io::Result<()> {
        // SAFETY: the argument is a file descriptor number, which the kernel validates.
        check(unsafe { ioctls::SET_OUTPUT(self.fd.as_raw_fd(), target.fd.as_raw_fd()) })?;
        Ok(())
    }

    /// Install a filter in the kernel's syntax: `PERF_EVENT_IOC_SET_FILTER`. The kernel answers
    /// EINVAL for a filter it cannot parse; its explanation is only readable through tracefs.
    pub fn set_filter(&self, filter: &CStr) -> io::Result<()> {
        // SAFETY: the kernel reads the NUL-terminated string (strndup_user) and never writes
        // through the pointer, so passing a pointer derived from `&CStr` as `*mut` is sound.
        check(unsafe { ioctls::SET_FILTER(self.fd.as_raw_fd(), filter.as_ptr().cast_mut()) })?;
        Ok(())
    }

    /// Start counting/sampling (`PERF_EVENT_IOC_ENABLE`).
    pub fn enable(&self) -> io::Result<()> {
        // SAFETY: ENABLE takes an integer flag (0: this event only).
        check(unsafe { ioctls::ENABLE(self.fd.as_raw_fd(), 0) })?;
        Ok(())
    }

    /// Stop counting/sampling (`PERF_EVENT_IOC_DISABLE`).
    pub fn disable(&self) -> io::Result<()> {
        // SAFETY: DISABLE takes an integer flag (0: this event only).
        check(unsafe { ioctls::DISABLE(self.fd.as_raw_fd(), 0) })?;
        Ok(())
    }

    /// Read the counter: the sum of the counts of every hit that passed the filter (1 per hit
    /// for most tracepoints), and the samples lost to a full ring when the kernel tells.
    pub fn read_count(&self) -> io::Result<Count> {
        let mut buf = [0u8; 32];
        let want = if self.has_lost { 32 } else { 24 };
        let n = rustix::io::read(&self.fd, &mut buf[..want])?;
        if n != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("perf counter read returned {n} bytes, expected {want}"),
            ));
        }
        let word = |i: usize| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8"));
        Ok(Count {
            value: word(0),
            time_enabled: word(1),
            time_running: word(2),
            lost: self.has_lost.then(|| word(3)),
        })
    }
}

impl AsFd for PerfEvent {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_requests_what_the_sample_parser_expects() {
        let c = TracepointConfig {
            id: 42,
            sampling: true,
            callchain: true,
            wakeup_bytes: 4096,
            inherit: true,
        };
        let a = c.attr();
        assert_eq!(a.type_, sys::PERF_TYPE_TRACEPOINT);
        assert_eq!(a.config, 42);
        assert_eq!(a.sample_type, c.sample_type());
        assert_eq!(
            (a.disabled(), a.inherit(), a.watermark(), a.use_clockid()),
            (1, 1, 1, 1)
        );
        assert_eq!(a.exclude_callchain_user(), 1);
        // SAFETY: reading the union members the attribute set above.
        let (period, watermark) = unsafe {
            (
                a.__bindgen_anon_1.sample_period,
                a.__bindgen_anon_2.wakeup_watermark,
            )
        };
        assert_eq!((period, watermark), (1, 4096));
        let counting = TracepointConfig {
            sampling: false,
            ..c
        }
        .attr();
        assert_eq!(counting.sample_type, 0);
        assert_eq!(counting.use_clockid(), 0);
    }
}
