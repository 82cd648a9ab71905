//! perf events for tracepoints: `perf_event_open`, the mmap ring buffer and its records.
//!
//! One [`PerfEvent`] is one `perf_event_open` file descriptor (one tracepoint on one CPU, or on
//! one thread). A [`Ring`] maps an event's ring buffer and reads it with the protocol documented
//! in `include/uapi/linux/perf_event.h`: load-acquire `data_head`, read the records up to it,
//! store-release `data_tail`. Several events on the same CPU share one ring
//! ([`PerfEvent::set_output`]), so each ring is a single time-ordered stream; the
//! `PERF_SAMPLE_IDENTIFIER` word at the front of every sample tells the events apart.
//!
//! `perf_event_attr` is defined here rather than generated: the layout is stable ABI, its size
//! is given to the kernel in `size`, and a test checks every offset against the uapi header.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// `PERF_TYPE_TRACEPOINT`: `config` is the tracepoint id from tracefs (`events/<sys>/<name>/id`).
pub const PERF_TYPE_TRACEPOINT: u32 = 2;

/// `PERF_SAMPLE_*` bits used by kpeek.
pub mod sample {
    pub const TID: u64 = 1 << 1;
    pub const TIME: u64 = 1 << 2;
    pub const CALLCHAIN: u64 = 1 << 5;
    pub const ID: u64 = 1 << 6;
    pub const CPU: u64 = 1 << 7;
    pub const PERIOD: u64 = 1 << 8;
    pub const STREAM_ID: u64 = 1 << 9;
    pub const RAW: u64 = 1 << 10;
    pub const IDENTIFIER: u64 = 1 << 16;
}

/// `perf_event_attr` flag bits (the C bitfield, in declaration order).
pub mod flag {
    pub const DISABLED: u64 = 1 << 0;
    pub const INHERIT: u64 = 1 << 1;
    pub const EXCLUDE_HV: u64 = 1 << 6;
    pub const WATERMARK: u64 = 1 << 14;
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    pub const EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
    pub const USE_CLOCKID: u64 = 1 << 25;
}

/// `PERF_RECORD_*` record types read from the ring.
pub mod record_type {
    pub const LOST: u32 = 2;
    pub const THROTTLE: u32 = 5;
    pub const UNTHROTTLE: u32 = 6;
    pub const SAMPLE: u32 = 9;
}

/// `PERF_FORMAT_*` bits for counting mode reads.
pub mod read_format {
    pub const TOTAL_TIME_ENABLED: u64 = 1 << 0;
    pub const TOTAL_TIME_RUNNING: u64 = 1 << 1;
    /// Samples this event lost because its ring was full (Linux 6.0+).
    pub const LOST: u64 = 1 << 4;
}

// ioctl numbers: _IO('$', n), _IOW('$', n, T), _IOR('$', n, T) on x86-64/arm64 encodings.
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const IOC_SET_FILTER: libc::c_ulong = 0x4008_2406;
const IOC_ID: libc::c_ulong = 0x8008_2407;

/// The kernel's `struct perf_event_attr` (PERF_ATTR_SIZE_VER8, 136 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfEventAttr {
    pub type_: u32,
    pub size: u32,
    pub config: u64,
    /// `sample_period` or `sample_freq` (with the `freq` flag).
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    /// The C bitfield `disabled:1, inherit:1, ...`: see [`flag`].
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` (bytes) with [`flag::WATERMARK`].
    pub wakeup: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved_2: u16,
    pub aux_sample_size: u32,
    pub reserved_3: u32,
    pub sig_data: u64,
    pub config3: u64,
}

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
    /// The `sample_type` kpeek requests: the layout [`Sample::parse`] expects.
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
    pub fn attr(&self) -> PerfEventAttr {
        let mut attr = PerfEventAttr {
            type_: PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: self.id,
            flags: flag::DISABLED | flag::EXCLUDE_HV,
            ..Default::default()
        };
        if self.inherit {
            attr.flags |= flag::INHERIT;
        }
        if self.sampling {
            attr.sample_period = 1;
            attr.sample_type = self.sample_type();
            attr.flags |= flag::SAMPLE_ID_ALL | flag::USE_CLOCKID;
            attr.clockid = libc::CLOCK_MONOTONIC;
            if self.wakeup_bytes > 0 {
                attr.flags |= flag::WATERMARK;
                attr.wakeup = self.wakeup_bytes;
            } else {
                attr.wakeup = 1;
            }
            if self.callchain {
                attr.flags |= flag::EXCLUDE_CALLCHAIN_USER;
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
pub struct Count {
    pub value: u64,
    pub time_enabled: u64,
    pub time_running: u64,
    /// Samples lost because the ring was full (`None` before Linux 6.0).
    pub lost: Option<u64>,
}

impl PerfEvent {
    /// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`. `pid` -1 with a CPU traces
    /// everything on that CPU; a pid with `cpu` -1 follows a thread everywhere.
    pub fn open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> io::Result<PerfEvent> {
        const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
        // SAFETY: attr points to a live, correctly sized perf_event_attr; the other arguments
        // are plain integers. The kernel copies attr and does not keep the pointer.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr as *const PerfEventAttr,
                pid as libc::c_long,
                cpu as libc::c_long,
                -1 as libc::c_long,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new file descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(PerfEvent {
            fd,
            cpu,
            has_lost: attr.read_format & read_format::LOST != 0,
        })
    }

    /// Open a tracepoint on `cpu` (all tasks when `pid` is `None`).
    pub fn tracepoint(config: &TracepointConfig, pid: Option<i32>, cpu: i32) -> io::Result<Self> {
        let mut attr = config.attr();
        match PerfEvent::open(&attr, pid.unwrap_or(-1), cpu) {
            // Kernels before 6.0 do not know PERF_FORMAT_LOST.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                attr.read_format &= !read_format::LOST;
                PerfEvent::open(&attr, pid.unwrap_or(-1), cpu)
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
        // SAFETY: PERF_EVENT_IOC_ID writes one u64 through the pointer, which is valid.
        self.ioctl(IOC_ID, &mut id as *mut u64 as libc::c_ulong)?;
        Ok(id)
    }

    /// Send this event's records to `target`'s ring (same CPU): `PERF_EVENT_IOC_SET_OUTPUT`.
    pub fn set_output(&self, target: &PerfEvent) -> io::Result<()> {
        self.ioctl(IOC_SET_OUTPUT, target.fd.as_raw_fd() as libc::c_ulong)
    }

    /// Install a filter in the kernel's syntax: `PERF_EVENT_IOC_SET_FILTER`. The kernel answers
    /// EINVAL for a filter it cannot parse; its explanation is only readable through tracefs.
    pub fn set_filter(&self, filter: &CStr) -> io::Result<()> {
        self.ioctl(IOC_SET_FILTER, filter.as_ptr() as libc::c_ulong)
    }

    pub fn enable(&self) -> io::Result<()> {
        self.ioctl(IOC_ENABLE, 0)
    }

    pub fn disable(&self) -> io::Result<()> {
        self.ioctl(IOC_DISABLE, 0)
    }

    /// Read the counter: the sum of the counts of every hit that passed the filter (1 per hit
    /// for most tracepoints), and the samples lost to a full ring when the kernel tells.
    pub fn read_count(&self) -> io::Result<Count> {
        let mut buf = [0u64; 4];
        let want = if self.has_lost { 32 } else { 24 };
        // SAFETY: buf is 32 writable bytes and want <= 32.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("perf counter read returned {n} bytes, expected {want}"),
            ));
        }
        Ok(Count {
            value: buf[0],
            time_enabled: buf[1],
            time_running: buf[2],
            lost: self.has_lost.then_some(buf[3]),
        })
    }

    fn ioctl(&self, request: libc::c_ulong, arg: libc::c_ulong) -> io::Result<()> {
        // SAFETY: the perf ioctls used here take an integer or a pointer that the caller made
        // valid for the request.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), request as _, arg) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

impl AsFd for PerfEvent {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Offsets in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const DATA_OFFSET: usize = 1040;
const DATA_SIZE: usize = 1048;

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// A perf mmap ring buffer: one metadata page and 2^n data pages.
pub struct Ring {
    base: NonNull<u8>,
    map_len: usize,
    data: *const u8,
    data_size: usize,
    sample_type: u64,
    /// Records that wrap around the end of the data area are copied here (8-byte aligned).
    scratch: Vec<u64>,
}

// SAFETY: the mapping is owned by the Ring and only read through &mut self methods; the kernel
// writes concurrently, which the head/tail protocol makes safe.
unsafe impl Send for Ring {}

impl Ring {
    /// Map `event`'s ring with `data_pages` data pages (a power of two).
    pub fn map(event: &PerfEvent, data_pages: usize, sample_type: u64) -> io::Result<Ring> {
        if !data_pages.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ring size must be a power of two pages, got {data_pages}"),
            ));
        }
        let page = page_size();
        let map_len = (1 + data_pages) * page;
        // SAFETY: a fresh shared mapping of the perf fd; the kernel checks the size.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                event.fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap returned a non-null mapping");
        // SAFETY: the metadata page is mapped; data_offset/data_size are plain u64 fields set
        // by the kernel before mmap returns (zero on kernels before 4.1).
        let (mut off, mut size) = unsafe {
            (
                std::ptr::read_volatile(base.as_ptr().add(DATA_OFFSET).cast::<u64>()) as usize,
                std::ptr::read_volatile(base.as_ptr().add(DATA_SIZE).cast::<u64>()) as usize,
            )
        };
        if off == 0 || size == 0 {
            off = page;
            size = data_pages * page;
        }
        // SAFETY: off + size lies within the mapping.
        let data = unsafe { base.as_ptr().add(off) };
        Ok(Ring {
            base,
            map_len,
            data,
            data_size: size,
            sample_type,
            scratch: Vec::new(),
        })
    }

    /// Bytes of the data area.
    pub fn data_size(&self) -> usize {
        self.data_size
    }

    fn head(&self) -> &AtomicU64 {
        // SAFETY: data_head is an aligned u64 in the mapped metadata page, written by the
        // kernel; reading it atomically is what the protocol asks for.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(DATA_HEAD).cast::<u64>()) }
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: as for head; data_tail is written only by us.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(DATA_TAIL).cast::<u64>()) }
    }

    /// Bytes written by the kernel and not yet consumed.
    pub fn pending(&self) -> u64 {
        let head = self.head().load(Ordering::Acquire);
        head.wrapping_sub(self.tail().load(Ordering::Relaxed))
    }

    /// Read every record available now, calling `f` for each, then release the space to the
    /// kernel. Returns the number of records read.
    pub fn read(&mut self, mut f: impl FnMut(Record<'_>)) -> usize {
        // Load-acquire data_head: everything before it is fully written.
        let head = self.head().load(Ordering::Acquire);
        let mut tail = self.tail().load(Ordering::Relaxed);
        let mask = (self.data_size - 1) as u64;
        let mut n = 0;
        while tail < head {
            let off = (tail & mask) as usize;
            // SAFETY: the header is 8 bytes at an 8-aligned offset inside the data area
            // (records are multiples of 8 bytes and the area is a multiple of the page size).
            let header = unsafe { std::ptr::read(self.data.add(off).cast::<[u8; 8]>()) };
            let rtype = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
            let size = u16::from_ne_bytes([header[6], header[7]]) as usize;
            if size < 8 || (size as u64) > head - tail {
                // A corrupt header: drop what is left rather than loop forever.
                tail = head;
                break;
            }
            let bytes: &[u8] = if off + size <= self.data_size {
                // SAFETY: the record lies inside the data area and the kernel will not touch
                // it until we advance data_tail past it.
                unsafe { std::slice::from_raw_parts(self.data.add(off), size) }
            } else {
                // The record wraps: copy both parts into the aligned scratch buffer.
                let words = size.div_ceil(8);
                if self.scratch.len() < words {
                    self.scratch.resize(words, 0);
                }
                let first = self.data_size - off;
                let dst = self.scratch.as_mut_ptr().cast::<u8>();
                // SAFETY: both source ranges are inside the data area, the destination holds
                // `size` bytes, and they do not overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(self.data.add(off), dst, first);
                    std::ptr::copy_nonoverlapping(self.data, dst.add(first), size - first);
                    std::slice::from_raw_parts(dst, size)
                }
            };
            f(Record::parse(rtype, bytes, self.sample_type));
            n += 1;
            tail += size as u64;
        }
        // Store-release data_tail: our reads of the records happen before the kernel reuses
        // the space.
        self.tail().store(tail, Ordering::Release);
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping created in Ring::map.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.map_len);
        }
    }
}

/// One record from a ring.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    Sample(Sample<'a>),
    /// `PERF_RECORD_LOST`: the kernel dropped `lost` records for event `id` (ring full).
    Lost {
        id: u64,
        lost: u64,
        time: u64,
        cpu: u32,
    },
    /// `PERF_RECORD_THROTTLE` / `UNTHROTTLE`: sampling was (un)throttled for event `id`.
    Throttle {
        id: u64,
        time: u64,
        unthrottle: bool,
    },
    /// Any other record type (or a sample too short to parse), kept so nothing is silent.
    Other {
        rtype: u32,
    },
}

/// A `PERF_RECORD_SAMPLE` in kpeek's layout: IDENTIFIER, TID, TIME, CPU, [CALLCHAIN], RAW.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    pub id: u64,
    pub pid: u32,
    pub tid: u32,
    pub time: u64,
    pub cpu: u32,
    /// The hit's count (1 for most tracepoints; `__perf_count()` ones such as
    /// sched_stat_runtime carry an amount).
    pub period: u64,
    /// Kernel return addresses, native-endian u64s (with PERF_CONTEXT_* markers), raw bytes.
    pub callchain: &'a [u8],
    /// The tracepoint record: common fields first, as described by the format file.
    pub raw: &'a [u8],
}

impl Sample<'_> {
    /// Iterate the callchain's addresses, skipping the `PERF_CONTEXT_*` markers.
    pub fn callchain_ips(&self) -> impl Iterator<Item = u64> + '_ {
        const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;
        self.callchain
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8-byte chunk")))
            .filter(|&ip| ip < PERF_CONTEXT_MAX)
    }
}

#[inline]
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

#[inline]
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl<'a> Record<'a> {
    /// Parse a whole record (`bytes` includes the 8-byte header).
    pub fn parse(rtype: u32, bytes: &'a [u8], sample_type: u64) -> Record<'a> {
        let parsed = match rtype {
            record_type::SAMPLE => Sample::parse(bytes, sample_type).map(Record::Sample),
            record_type::LOST => (|| {
                let id = u64_at(bytes, 8)?;
                let lost = u64_at(bytes, 16)?;
                let (time, cpu) = sample_id(bytes, 24, sample_type);
                Some(Record::Lost {
                    id,
                    lost,
                    time,
                    cpu,
                })
            })(),
            record_type::THROTTLE | record_type::UNTHROTTLE => (|| {
                Some(Record::Throttle {
                    time: u64_at(bytes, 8)?,
                    id: u64_at(bytes, 16)?,
                    unthrottle: rtype == record_type::UNTHROTTLE,
                })
            })(),
            _ => None,
        };
        parsed.unwrap_or(Record::Other { rtype })
    }
}

/// The `sample_id` trailer of a non-sample record (with `sample_id_all`): (time, cpu).
fn sample_id(b: &[u8], mut off: usize, sample_type: u64) -> (u64, u32) {
    let (mut time, mut cpu) = (0, u32::MAX);
    if sample_type & sample::TID != 0 {
        off += 8;
    }
    if sample_type & sample::TIME != 0 {
        time = u64_at(b, off).unwrap_or(0);
        off += 8;
    }
    if sample_type & sample::ID != 0 {
        off += 8;
    }
    if sample_type & sample::STREAM_ID != 0 {
        off += 8;
    }
    if sample_type & sample::CPU != 0 {
        cpu = u32_at(b, off).unwrap_or(u32::MAX);
    }
    (time, cpu)
}

impl<'a> Sample<'a> {
    /// Parse a sample record laid out by [`TracepointConfig::sample_type`].
    #[inline]
    pub fn parse(b: &'a [u8], sample_type: u64) -> Option<Sample<'a>> {
        // IDENTIFIER(8) TID(4+4) TIME(8) CPU(4+4) [PERIOD(8)] after the 8-byte header.
        let id = u64_at(b, 8)?;
        let pid = u32_at(b, 16)?;
        let tid = u32_at(b, 20)?;
        let time = u64_at(b, 24)?;
        let cpu = u32_at(b, 32)?;
        let mut off = 40;
        let mut period = 1;
        if sample_type & sample::PERIOD != 0 {
            period = u64_at(b, off)?;
            off += 8;
        }
        let mut callchain: &[u8] = &[];
        if sample_type & sample::CALLCHAIN != 0 {
            let nr = u64_at(b, off)? as usize;
            let len = nr.checked_mul(8)?;
            callchain = b.get(off + 8..(off + 8).checked_add(len)?)?;
            off += 8 + len;
        }
        let raw_size = u32_at(b, off)? as usize;
        let raw = b.get(off + 4..(off + 4).checked_add(raw_size)?)?;
        Some(Sample {
            id,
            pid,
            tid,
            time,
            cpu,
            period,
            callchain,
            raw,
        })
    }
}

/// What [`poll_readable`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollResult {
    /// Descriptors with data (a ring reached its wakeup mark).
    pub readable: usize,
    /// Descriptors that hung up (the traced task exited) without data.
    pub hangups: usize,
}

/// Poll `fds` for readability (ring wakeups) for at most `timeout_ms` (-1: forever).
/// An interrupted poll (a signal) returns an empty result.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<PollResult> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a valid array of pollfd of the given length.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(PollResult::default());
        }
        return Err(e);
    }
    let mut res = PollResult::default();
    for p in &pfds {
        if p.revents & libc::POLLIN != 0 {
            res.readable += 1;
        } else if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
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
    use std::mem::offset_of;

    #[test]
    fn attr_layout_matches_uapi() {
        // Offsets from include/uapi/linux/perf_event.h (PERF_ATTR_SIZE_VER8 = 136).
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 136);
        assert_eq!(offset_of!(PerfEventAttr, config), 8);
        assert_eq!(offset_of!(PerfEventAttr, sample_period), 16);
        assert_eq!(offset_of!(PerfEventAttr, sample_type), 24);
        assert_eq!(offset_of!(PerfEventAttr, read_format), 32);
        assert_eq!(offset_of!(PerfEventAttr, flags), 40);
        assert_eq!(offset_of!(PerfEventAttr, wakeup), 48);
        assert_eq!(offset_of!(PerfEventAttr, config1), 56);
        assert_eq!(offset_of!(PerfEventAttr, config2), 64);
        assert_eq!(offset_of!(PerfEventAttr, branch_sample_type), 72);
        assert_eq!(offset_of!(PerfEventAttr, sample_regs_user), 80);
        assert_eq!(offset_of!(PerfEventAttr, sample_stack_user), 88);
        assert_eq!(offset_of!(PerfEventAttr, clockid), 92);
        assert_eq!(offset_of!(PerfEventAttr, sample_regs_intr), 96);
        assert_eq!(offset_of!(PerfEventAttr, aux_watermark), 104);
        assert_eq!(offset_of!(PerfEventAttr, sample_max_stack), 108);
        assert_eq!(offset_of!(PerfEventAttr, aux_sample_size), 112);
        assert_eq!(offset_of!(PerfEventAttr, sig_data), 120);
        assert_eq!(offset_of!(PerfEventAttr, config3), 128);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }

    fn sample_bytes(raw: &[u8], callchain: &[u64]) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.extend(7u64.to_ne_bytes()); // identifier
        b.extend(10u32.to_ne_bytes());
        b.extend(11u32.to_ne_bytes());
        b.extend(123u64.to_ne_bytes());
        b.extend(1u32.to_ne_bytes());
        b.extend(0u32.to_ne_bytes());
        b.extend(5000u64.to_ne_bytes()); // period
        if !callchain.is_empty() {
            b.extend((callchain.len() as u64).to_ne_bytes());
            for ip in callchain {
                b.extend(ip.to_ne_bytes());
            }
        }
        b.extend((raw.len() as u32).to_ne_bytes());
        b.extend(raw);
        b
    }

    #[test]
    fn parses_samples_and_rejects_truncated_ones() {
        let b = sample_bytes(&[1, 2, 3, 4], &[]);
        let st = TracepointConfig {
            id: 1,
            sampling: true,
            callchain: false,
            wakeup_bytes: 0,
            inherit: false,
        }
        .sample_type();
        let s = Sample::parse(&b, st).unwrap();
        assert_eq!((s.id, s.pid, s.tid, s.time, s.cpu), (7, 10, 11, 123, 1));
        assert_eq!(s.period, 5000);
        assert_eq!(s.raw, &[1, 2, 3, 4]);
        for cut in 0..b.len() {
            assert!(Sample::parse(&b[..cut], st).is_none(), "cut at {cut}");
        }
        let b = sample_bytes(&[9], &[u64::MAX - 127, 0xffff_ffff_8100_0000]);
        let s = Sample::parse(&b, st | sample::CALLCHAIN).unwrap();
        assert_eq!(
            s.callchain_ips().collect::<Vec<_>>(),
            vec![0xffff_ffff_8100_0000]
        );
        assert_eq!(s.raw, &[9]);
    }

    /// A ring over an anonymous mapping, laid out like the kernel's: a metadata page, then
    /// `pages` data pages.
    fn fake_ring(pages: usize, sample_type: u64) -> Ring {
        let page = page_size();
        let map_len = (1 + pages) * page;
        // SAFETY: a fresh private anonymous mapping, owned (and unmapped) by the Ring.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let base = NonNull::new(ptr.cast::<u8>()).unwrap();
        Ring {
            base,
            map_len,
            // SAFETY: the data area starts one page in.
            data: unsafe { base.as_ptr().add(page) },
            data_size: pages * page,
            sample_type,
            scratch: Vec::new(),
        }
    }

    /// Write `rec` at ring position `pos` the way the kernel does: split at the end.
    fn put(ring: &Ring, pos: u64, rec: &[u8]) {
        let data = ring.data as *mut u8;
        for (i, b) in rec.iter().enumerate() {
            let at = ((pos + i as u64) & (ring.data_size as u64 - 1)) as usize;
            // SAFETY: at < data_size, inside the mapping.
            unsafe { *data.add(at) = *b };
        }
    }

    fn sample_record(tid: u32, raw_len: usize) -> Vec<u8> {
        let raw: Vec<u8> = (0..raw_len).map(|i| (i as u8) ^ (tid as u8)).collect();
        let mut b = sample_bytes(&raw, &[]);
        b[8..16].copy_from_slice(&9u64.to_ne_bytes());
        b[20..24].copy_from_slice(&tid.to_ne_bytes());
        // header: type, misc, size; records are 8-byte multiples like the kernel's.
        b.resize(b.len().div_ceil(8) * 8, 0);
        let size = b.len() as u16;
        b[0..4].copy_from_slice(&record_type::SAMPLE.to_ne_bytes());
        b[6..8].copy_from_slice(&size.to_ne_bytes());
        b
    }

    proptest::proptest! {
        /// Records come out intact wherever they sit, including across the end of the data
        /// area, and data_tail ends at data_head.
        #[test]
        fn ring_reads_records_across_the_wrap(
            start in 0u64..40_000,
            raws in proptest::collection::vec(0usize..300, 1..40),
        ) {
            let st = TracepointConfig {
                id: 1,
                sampling: true,
                callchain: false,
                wakeup_bytes: 0,
                inherit: false,
            }
            .sample_type();
            let mut ring = fake_ring(1, st);
            let start = start & !7;
            ring.tail().store(start, Ordering::Relaxed);
            let mut pos = start;
            let mut want = Vec::new();
            for (i, &n) in raws.iter().enumerate() {
                let rec = sample_record(i as u32, n);
                if pos + rec.len() as u64 - ring.tail().load(Ordering::Relaxed)
                    > ring.data_size() as u64
                {
                    break; // the kernel never overwrites unread data
                }
                put(&ring, pos, &rec);
                pos += rec.len() as u64;
                want.push((i as u32, rec[52..52 + n].to_vec()));
            }
            ring.head().store(pos, Ordering::Release);
            let mut got = Vec::new();
            let n = ring.read(|r| match r {
                Record::Sample(s) => got.push((s.tid, s.raw.to_vec())),
                other => panic!("{other:?}"),
            });
            proptest::prop_assert_eq!(n, want.len());
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(ring.tail().load(Ordering::Relaxed), pos);
            proptest::prop_assert_eq!(ring.pending(), 0);
        }

        #[test]
        fn record_parse_never_panics(rtype in 0u32..16, bytes in proptest::collection::vec(0u8.., 0..200)) {
            let _ = Record::parse(rtype, &bytes, sample::IDENTIFIER | sample::TID | sample::TIME
                | sample::CPU | sample::CALLCHAIN | sample::RAW);
        }
    }
}
