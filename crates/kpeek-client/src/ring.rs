//! The per-CPU event rings of `/dev/kpeek` (kmod/kpeek_ring.c): map each CPU's ring and read
//! its records with an iterator, counting every lost record.
//!
//! Protocol (Documentation/core-api/circular-buffers.rst): the kernel (one producer per CPU)
//! writes a record and then publishes `head` with `smp_store_release`; this reader loads `head`
//! with acquire ordering, copies the records between `tail` and `head`, and publishes the new
//! `tail` with release ordering so the producer may reuse the space. Records never straddle
//! the end of the data: a `KPEEK_REC_PAD` record (only its 8-byte `type`/`len` prefix is valid,
//! so it fits the 8 or 16 bytes that may be left) fills the rest and the next record starts at
//! offset 0.
//!
//! Every record carries a per-CPU `seq` that also advances for records the kernel dropped
//! (ring full), so a gap in `seq` is exactly the number of lost records: [`Records`] yields a
//! [`RingItem::Lost`] for each gap, in place, and [`RingStats`] sums them next to the ring's
//! own `lost` counter.

use std::mem::offset_of;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use kpeek_abi::dev::cstr;
use kpeek_abi::mmap::{
    REC_ALIGN, REC_BLOCK_RQ_ISSUE, REC_NETIF_RECEIVE_SKB, REC_PAD, REC_SCHED_SWITCH, RING_MAGIC,
    RecBlockRq, RecHeader, RecNetif, RecSchedSwitch, RingHeader, mmap_ring,
};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use serde::Serialize;

use crate::chardev::Device;
use crate::error::{Error, Result};

const HDR: usize = size_of::<RecHeader>();
/// `type` and `len`: all a pad record has.
const PREFIX: usize = 8;

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds: add it to a record's `ts_ns` for
/// wall-clock time.
pub fn realtime_offset_ns() -> i128 {
    use rustix::time::{ClockId, Timespec, clock_gettime};
    let ns = |t: Timespec| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    let mono = clock_gettime(ClockId::Monotonic);
    let real = clock_gettime(ClockId::Realtime);
    ns(real) - ns(mono)
}

/// What a record says, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RecordBody {
    /// net:netif_receive_skb.
    NetifReceiveSkb {
        dev: String,
        len: u32,
        protocol: u16,
    },
    /// sched:sched_switch.
    SchedSwitch {
        prev_comm: String,
        next_comm: String,
        prev_pid: i32,
        next_pid: i32,
        prev_state: i64,
    },
    /// block:block_rq_issue.
    BlockRqIssue {
        sector: u64,
        /// `new_encode_dev`-style device number.
        dev: u32,
        bytes: u32,
        rwbs: String,
    },
    /// A type this kpeek does not know (a newer module): its bytes after the header.
    Unknown { ty: u16, payload: Vec<u8> },
}

impl RecordBody {
    /// The event's name, as lttng-view prints it.
    pub fn name(&self) -> &'static str {
        match self {
            RecordBody::NetifReceiveSkb { .. } => "netif_receive_skb",
            RecordBody::SchedSwitch { .. } => "sched_switch",
            RecordBody::BlockRqIssue { .. } => "block_rq_issue",
            RecordBody::Unknown { .. } => "unknown",
        }
    }
}

/// One record from a ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// `ktime_get_ns()` when produced (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    /// Per-CPU sequence number.
    pub seq: u32,
    pub cpu: u32,
    /// The task that was running.
    pub pid: i32,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// What [`parse_record`] found at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A record and its length in bytes.
    Record(Record, usize),
    /// A pad record of this length: skip to the end of the ring data.
    Pad(usize),
}

/// Text from a fixed-size C string field, lossily (a comm may hold any bytes).
fn text(field: &[u8]) -> String {
    match cstr(field) {
        Some(s) => s.to_owned(),
        None => {
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        }
    }
}

/// Parse the record at the start of `buf` (the bytes up to the end of the readable region).
/// Checks the length (at least a header, a multiple of 8, within `buf`, large enough for its
/// type).
pub fn parse_record(buf: &[u8]) -> std::result::Result<Parsed, String> {
    if buf.len() < PREFIX {
        return Err(format!(
            "{} bytes left, less than a record's {PREFIX}-byte type and length",
            buf.len()
        ));
    }
    let ty = u16::from_ne_bytes([buf[0], buf[1]]);
    let len = usize::from(u16::from_ne_bytes([buf[2], buf[3]]));
    if ty == REC_PAD {
        if len % REC_ALIGN != 0 || len == 0 || len > buf.len() {
            return Err(format!(
                "pad record of length {len} ({} bytes left)",
                buf.len()
            ));
        }
        return Ok(Parsed::Pad(len));
    }
    if buf.len() < HDR {
        return Err(format!(
            "{} bytes left, less than a {HDR}-byte record header",
            buf.len()
        ));
    }
    let h: RecHeader = bytemuck::pod_read_unaligned(&buf[..HDR]);
    if len < HDR || len % REC_ALIGN != 0 || len > buf.len() {
        return Err(format!(
            "record type {} seq {} has length {len}: expected a multiple of {REC_ALIGN} from \
             {HDR} to {}",
            h.ty,
            h.seq,
            buf.len()
        ));
    }
    let need = |n: usize| {
        if len < n {
            Err(format!(
                "record type {} seq {} has length {len}, its type needs {n}",
                h.ty, h.seq
            ))
        } else {
            Ok(())
        }
    };
    let body = match h.ty {
        REC_NETIF_RECEIVE_SKB => {
            need(size_of::<RecNetif>())?;
            let r: RecNetif = bytemuck::pod_read_unaligned(&buf[..size_of::<RecNetif>()]);
            RecordBody::NetifReceiveSkb {
                dev: text(&r.dev),
                len: r.len,
                protocol: r.protocol,
            }
        }
        REC_SCHED_SWITCH => {
            need(size_of::<RecSchedSwitch>())?;
            let r: RecSchedSwitch =
                bytemuck::pod_read_unaligned(&buf[..size_of::<RecSchedSwitch>()]);
            RecordBody::SchedSwitch {
                prev_comm: text(&r.prev_comm),
                next_comm: text(&r.next_comm),
                prev_pid: r.prev_pid,
                next_pid: r.next_pid,
                prev_state: r.prev_state,
            }
        }
        REC_BLOCK_RQ_ISSUE => {
            need(size_of::<RecBlockRq>())?;
            let r: RecBlockRq = bytemuck::pod_read_unaligned(&buf[..size_of::<RecBlockRq>()]);
            RecordBody::BlockRqIssue {
                sector: r.sector,
                dev: r.dev,
                bytes: r.bytes,
                rwbs: text(&r.rwbs),
            }
        }
        ty => RecordBody::Unknown {
            ty,
            payload: buf[HDR..len].to_vec(),
        },
    };
    Ok(Parsed::Record(
        Record {
            ts_ns: h.ts_ns,
            seq: h.seq,
            cpu: h.cpu,
            pid: h.pid,
            body,
        },
        len,
    ))
}

/// What a ring reader yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingItem {
    /// A record.
    Record(Record),
    /// `count` records of `cpu` were lost before the next record (a seq gap).
    Lost { cpu: u32, count: u64 },
}

/// Counts kept by a ring reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RingStats {
    /// Records read.
    pub records: u64,
    /// Pad records skipped.
    pub pads: u64,
    /// Records missing according to seq gaps.
    pub seq_lost: u64,
    /// Records whose seq was not above the previous one (duplicate or reorder: a bug).
    pub seq_backwards: u64,
    /// Malformed records (the reader skipped to `head`).
    pub corrupt: u64,
}

/// Tracks one CPU's sequence numbers: gaps are lost records, anything else out of order is
/// counted as backwards.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    next: Option<u32>,
}

impl SeqTracker {
    /// Account `seq`; returns how many records were lost right before it.
    pub fn see(&mut self, seq: u32, stats: &mut RingStats) -> u64 {
        let lost = match self.next {
            None => 0,
            Some(n) => {
                let d = seq.wrapping_sub(n) as i32;
                if d < 0 {
                    stats.seq_backwards += 1;
                    return 0;
                }
                d as u64
            }
        };
        self.next = Some(seq.wrapping_add(1));
        stats.seq_lost += lost;
        lost
    }
}

/// One CPU's ring, mapped.
#[derive(Debug)]
pub struct Ring {
    ptr: NonNull<u8>,
    map_len: usize,
    data_off: usize,
    size: usize,
    cpu: u32,
    tail: u64,
    seq: SeqTracker,
    stats: RingStats,
    lost_at_open: u64,
}

// SAFETY: the shared words are only accessed atomically; record bytes only between tail and
// head, which the producer does not touch until tail is published.
unsafe impl Send for Ring {}

impl Ring {
    /// Map `cpu`'s ring: one header page plus `data_size` bytes (from `KPEEK_IOC_INFO`).
    pub fn map(dev: &Device, cpu: u32, data_size: u32) -> Result<Ring> {
        let page = rustix::param::page_size();
        let map_len = page + data_size as usize;
        let bad = |msg: String| Error::Binary {
            path: dev.path().to_path_buf(),
            offset: 0,
            msg: format!("ring of CPU {cpu}: {msg}"),
        };
        if !data_size.is_power_of_two() {
            return Err(bad(format!("data size {data_size} is not a power of two")));
        }
        // SAFETY: a fresh shared mapping of the device, unmapped on drop; the kernel and this
        // reader share it only through the protocol above.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                map_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                dev.as_fd(),
                mmap_ring(cpu),
            )
        }
        .map_err(|e| {
            Error::kernel(
                &format!("mmap of the ring of CPU {cpu}"),
                dev.path().to_path_buf(),
                e.raw_os_error(),
                None,
            )
        })?;
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| bad("mmap returned NULL".into()))?;
        let mut ring = Ring {
            ptr,
            map_len,
            data_off: page,
            size: data_size as usize,
            cpu,
            tail: 0,
            seq: SeqTracker::default(),
            stats: RingStats::default(),
            lost_at_open: 0,
        };
        // SAFETY: the header page is mapped; these fields are written once by the kernel at
        // setup, read here with plain loads through atomics.
        let magic = ring.word32(offset_of!(RingHeader, magic));
        let hcpu = ring.word32(offset_of!(RingHeader, cpu));
        let doff = ring.word32(offset_of!(RingHeader, data_offset));
        let dsize = ring.word32(offset_of!(RingHeader, data_size));
        if magic != RING_MAGIC {
            return Err(bad(format!(
                "magic {magic:#010x}, expected {RING_MAGIC:#010x}"
            )));
        }
        if hcpu != cpu || doff as usize != page || dsize != data_size {
            return Err(bad(format!(
                "header says cpu {hcpu}, data at {doff} size {dsize}; expected cpu {cpu}, data \
                 at {page} size {data_size}"
            )));
        }
        ring.tail = u64::from(
            ring.atomic32(offset_of!(RingHeader, tail))
                .load(Ordering::Relaxed),
        );
        if ring.tail >= ring.size as u64 || !ring.tail.is_multiple_of(8) {
            return Err(bad(format!("tail {} is outside the data", ring.tail)));
        }
        ring.lost_at_open = ring.lost();
        Ok(ring)
    }

    fn atomic(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is a field offset inside the header page, 8-aligned.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    /// head and tail: u32 fields (ABI 3), so that 32-bit machines can load-acquire them.
    fn atomic32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is a 4-aligned field offset inside the header page.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    fn word32(&self, off: usize) -> u32 {
        // SAFETY: `off` is a 4-aligned field offset inside the header page.
        unsafe {
            std::sync::atomic::AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast())
                .load(Ordering::Relaxed)
        }
    }

    /// The CPU of this ring.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// The ring's data size in bytes.
    pub fn data_size(&self) -> usize {
        self.size
    }

    /// The kernel's count of records dropped because this ring was full (since setup).
    pub fn lost(&self) -> u64 {
        self.atomic(offset_of!(RingHeader, lost))
            .load(Ordering::Relaxed)
    }

    /// The kernel's `lost` counter minus its value when this ring was mapped.
    pub fn lost_since_open(&self) -> u64 {
        self.lost().wrapping_sub(self.lost_at_open)
    }

    /// Records the kernel wrote into this ring (since setup).
    pub fn written(&self) -> u64 {
        self.atomic(offset_of!(RingHeader, written))
            .load(Ordering::Relaxed)
    }

    /// The reader's counts.
    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// Bytes waiting to be read.
    pub fn pending(&self) -> usize {
        let head = self.head();
        (head.wrapping_sub(self.tail) as usize) & (self.size - 1)
    }

    fn head(&self) -> u64 {
        u64::from(
            self.atomic32(offset_of!(RingHeader, head))
                .load(Ordering::Acquire),
        )
    }

    fn publish_tail(&self) {
        // tail < data_size <= RING_MAX_SIZE (16 MiB): it fits.
        self.atomic32(offset_of!(RingHeader, tail))
            .store(self.tail as u32, Ordering::Release);
    }

    /// Copy `n` bytes at data offset `pos` (between tail and head: the producer leaves them).
    fn copy(&self, pos: usize, out: &mut Vec<u8>, n: usize) {
        out.clear();
        out.reserve(n);
        // SAFETY: pos + n <= size (checked by the caller), the region is owned by the reader
        // until tail is published (acquire on head ordered the producer's writes before).
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(self.data_off + pos),
                out.as_mut_ptr(),
                n,
            );
            out.set_len(n);
        }
    }

    /// Every item available now, oldest first. `tail` is published when the iterator is
    /// dropped or exhausted.
    pub fn records(&mut self) -> Records<'_> {
        let head = self.head();
        Records {
            head,
            ring: self,
            buf: Vec::with_capacity(256),
            stash: None,
            done: false,
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: exactly what `map` mapped; no reference into it outlives self.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.map_len) };
    }
}

/// An error in a ring's data; the reader skipped everything up to `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingError {
    pub cpu: u32,
    /// Data offset of the bad record.
    pub offset: u64,
    pub msg: String,
}

impl std::fmt::Display for RingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ring of CPU {} at offset {}: {}",
            self.cpu, self.offset, self.msg
        )
    }
}

/// The items of one ring available when [`Ring::records`] was called.
pub struct Records<'a> {
    ring: &'a mut Ring,
    head: u64,
    buf: Vec<u8>,
    stash: Option<Record>,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = std::result::Result<RingItem, RingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(r) = self.stash.take() {
            return Some(Ok(RingItem::Record(r)));
        }
        let size = self.ring.size as u64;
        loop {
            if self.done || self.ring.tail == self.head {
                self.finish();
                return None;
            }
            let tail = self.ring.tail;
            if self.head >= size || !self.head.is_multiple_of(8) {
                let e = RingError {
                    cpu: self.ring.cpu,
                    offset: tail,
                    msg: format!("head {} is outside the data", self.head),
                };
                self.ring.stats.corrupt += 1;
                self.done = true;
                return Some(Err(e));
            }
            let to_end = size - tail;
            let avail = if self.head > tail {
                self.head - tail
            } else {
                to_end
            };
            // Copy type and length first, then only the record's own bytes.
            let pn = (avail as usize).min(PREFIX);
            self.ring.copy(tail as usize, &mut self.buf, pn);
            let want = if self.buf.len() == PREFIX {
                let len = u64::from(u16::from_ne_bytes([self.buf[2], self.buf[3]]));
                len.clamp(PREFIX as u64, avail)
            } else {
                avail
            };
            self.ring.copy(tail as usize, &mut self.buf, want as usize);
            match parse_record(&self.buf) {
                Ok(Parsed::Pad(len)) => {
                    self.ring.stats.pads += 1;
                    self.ring.tail = (tail + len as u64) % size;
                }
                Ok(Parsed::Record(r, len)) => {
                    self.ring.tail = (tail + len as u64) % size;
                    self.ring.stats.records += 1;
                    let lost = self.ring.seq.see(r.seq, &mut self.ring.stats);
                    if lost > 0 {
                        let cpu = r.cpu;
                        self.stash = Some(r);
                        return Some(Ok(RingItem::Lost { cpu, count: lost }));
                    }
                    return Some(Ok(RingItem::Record(r)));
                }
                Err(msg) => {
                    self.ring.stats.corrupt += 1;
                    self.ring.tail = self.head;
                    self.done = true;
                    return Some(Err(RingError {
                        cpu: self.ring.cpu,
                        offset: tail,
                        msg,
                    }));
                }
            }
        }
    }
}

impl Records<'_> {
    fn finish(&mut self) {
        self.ring.publish_tail();
    }
}

impl Drop for Records<'_> {
    fn drop(&mut self) {
        self.ring.publish_tail();
    }
}

/// Every CPU's ring plus the device to poll.
#[derive(Debug)]
pub struct RingSet {
    dev: Device,
    rings: Vec<Ring>,
}

impl RingSet {
    /// Map the ring of every CPU (`KPEEK_IOC_INFO` says how many and how large). Fails when the
    /// rings are not set up (`KPEEK_IOC_RING_SETUP`).
    pub fn open(dev: Device) -> Result<RingSet> {
        let info = dev.info()?;
        if info.ring_data_size == 0 {
            return Err(Error::kernel(
                "mapping the event rings",
                dev.path().to_path_buf(),
                19,
                Some(
                    "the rings are not set up (KPEEK_IOC_RING_SETUP; `kpeek mod events` does it)"
                        .into(),
                ),
            ));
        }
        let mut rings = Vec::new();
        for cpu in 0..info.nr_cpus {
            match Ring::map(&dev, cpu, info.ring_data_size) {
                Ok(r) => rings.push(r),
                // A possible but absent CPU has no ring.
                Err(e) if matches!(e.errno(), Some(6 | 19)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(RingSet { dev, rings })
    }

    /// The rings, by CPU.
    pub fn rings(&mut self) -> &mut [Ring] {
        &mut self.rings
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Sleep in `poll()` until a ring reaches its watermark or `timeout` passes; true when
    /// woken for data.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let mut fds = [PollFd::new(&self.dev, PollFlags::IN)];
        match poll(&mut fds, ts.as_ref()) {
            // POLLERR: the rings were freed under us; waiting again would spin.
            Ok(n) if n > 0 && fds[0].revents().contains(PollFlags::ERR) => Err(Error::kernel(
                "poll",
                self.dev.path().to_path_buf(),
                19,
                Some(
                    "the event rings are gone (freed by KPEEK_IOC_RING_SETUP with size 0?)".into(),
                ),
            )),
            Ok(n) => Ok(n > 0 && fds[0].revents().contains(PollFlags::IN)),
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(e) => Err(Error::kernel(
                "poll",
                self.dev.path().to_path_buf(),
                e.raw_os_error(),
                None,
            )),
        }
    }

    /// Drain every ring once; items of all CPUs sorted by timestamp (lost markers stay right
    /// before the record that revealed them).
    pub fn drain(&mut self) -> (Vec<RingItem>, Vec<RingError>) {
        let mut items: Vec<(u64, RingItem)> = Vec::new();
        let mut errors = Vec::new();
        for ring in &mut self.rings {
            let mut pending_lost: Vec<RingItem> = Vec::new();
            for it in ring.records() {
                match it {
                    Ok(RingItem::Record(r)) => {
                        let ts = r.ts_ns;
                        items.extend(pending_lost.drain(..).map(|l| (ts, l)));
                        items.push((ts, RingItem::Record(r)));
                    }
                    Ok(lost) => pending_lost.push(lost),
                    Err(e) => errors.push(e),
                }
            }
        }
        items.sort_by_key(|(ts, _)| *ts);
        (items.into_iter().map(|(_, i)| i).collect(), errors)
    }

    /// Throw away every record already in the rings (written before this reader started) and
    /// restart the seq, loss and reader counts from here. Returns how many records were dropped.
    pub fn discard(&mut self) -> u64 {
        let mut n = 0;
        for ring in &mut self.rings {
            n += ring
                .records()
                .filter(|r| matches!(r, Ok(RingItem::Record(_))))
                .count() as u64;
            ring.seq = SeqTracker::default();
            ring.stats = RingStats::default();
            ring.lost_at_open = ring.lost();
        }
        n
    }

    /// Sum of every ring's reader counts.
    pub fn stats(&self) -> RingStats {
        self.rings.iter().fold(RingStats::default(), |mut a, r| {
            let s = r.stats();
            a.records += s.records;
            a.pads += s.pads;
            a.seq_lost += s.seq_lost;
            a.seq_backwards += s.seq_backwards;
            a.corrupt += s.corrupt;
            a
        })
    }

    /// Sum of the kernel's `lost` counters since the rings were mapped.
    pub fn lost_since_open(&self) -> u64 {
        self.rings.iter().map(Ring::lost_since_open).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn netif(seq: u32, dev: &str, len: u32) -> Vec<u8> {
        let r = RecNetif {
            hdr: RecHeader {
                ts_ns: 1000 + u64::from(seq),
                seq,
                ty: REC_NETIF_RECEIVE_SKB,
                len: size_of::<RecNetif>() as u16,
                cpu: 1,
                pid: 0,
            },
            dev: kpeek_abi::dev::to_cbuf(dev).unwrap(),
            len,
            protocol: 0x800,
            reserved: 0,
        };
        bytemuck::bytes_of(&r).to_vec()
    }

    #[test]
    fn parses_each_record_type() {
        let b = netif(3, "lo", 84);
        let Parsed::Record(r, n) = parse_record(&b).unwrap() else {
            panic!()
        };
        assert_eq!(n, 48);
        assert_eq!((r.seq, r.cpu, r.ts_ns), (3, 1, 1003));
        assert_eq!(
            r.body,
            RecordBody::NetifReceiveSkb {
                dev: "lo".into(),
                len: 84,
                protocol: 0x800
            }
        );
        let s = RecSchedSwitch {
            hdr: RecHeader {
                ts_ns: 5,
                seq: 0,
                ty: REC_SCHED_SWITCH,
                len: 72,
                cpu: 0,
                pid: 9,
            },
            prev_comm: *b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            next_comm: *b"swapper/0\0\0\0\0\0\0\0",
            prev_pid: 9,
            next_pid: 0,
            prev_state: 1,
        };
        let Parsed::Record(r, 72) = parse_record(bytemuck::bytes_of(&s)).unwrap() else {
            panic!()
        };
        assert_eq!(r.body.name(), "sched_switch");
        let mut pad = vec![0u8; 64];
        pad[2] = 64;
        assert_eq!(parse_record(&pad).unwrap(), Parsed::Pad(64));
        // A pad needs only its type and length: 8 bytes left before the end.
        assert_eq!(
            parse_record(&[0, 0, 8, 0, 9, 9, 9, 9]).unwrap(),
            Parsed::Pad(8)
        );
        assert!(parse_record(&[0, 0, 16, 0, 9, 9, 9, 9]).is_err());
        // An unknown type keeps its payload.
        let mut u = netif(0, "x", 1);
        u[0] = 77;
        let Parsed::Record(r, 48) = parse_record(&u).unwrap() else {
            panic!()
        };
        assert!(
            matches!(r.body, RecordBody::Unknown { ty: 77, ref payload } if payload.len() == 24)
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        let b = netif(3, "lo", 84);
        for (len, want) in [
            (0u16, "length 0"),
            (20, "length 20"),
            (44, "length 44"),
            (56, "length 56"),
            (40, "its type needs 48"),
        ] {
            let mut m = b.clone();
            m[2..4].copy_from_slice(&len.to_ne_bytes());
            let e = parse_record(&m).unwrap_err();
            assert!(e.contains(want), "{len}: {e}");
        }
        assert!(
            parse_record(&b[..10])
                .unwrap_err()
                .contains("less than a 24-byte")
        );
    }

    #[test]
    fn records_serialize_flat() {
        let Parsed::Record(r, _) = parse_record(&netif(3, "lo", 84)).unwrap() else {
            panic!()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ts_ns":1003,"seq":3,"cpu":1,"pid":0,"event":"netif_receive_skb","dev":"lo","len":84,"protocol":2048}"#
        );
    }

    #[test]
    fn seq_gaps_are_lost_records() {
        let mut st = RingStats::default();
        let mut t = SeqTracker::default();
        assert_eq!(t.see(10, &mut st), 0);
        assert_eq!(t.see(11, &mut st), 0);
        assert_eq!(t.see(15, &mut st), 3);
        assert_eq!(t.see(15, &mut st), 0);
        assert_eq!(st.seq_backwards, 1);
        assert_eq!(t.see(16, &mut st), 0);
        // Wrapping at 2^32 is not a gap.
        let mut t = SeqTracker::default();
        t.see(u32::MAX, &mut st);
        assert_eq!(t.see(0, &mut st), 0);
        assert_eq!(st.seq_lost, 3);
    }

    /// The kernel's side of the protocol over an anonymous mapping laid out like a ring
    /// mapping: writes records (with pads at the end), drops and counts what does not fit.
    struct Producer {
        base: *mut u8,
        page: usize,
        size: u64,
        head: u64,
        seq: u32,
        lost: u64,
    }

    impl Producer {
        fn word(&self, off: usize) -> &AtomicU64 {
            unsafe { AtomicU64::from_ptr(self.base.add(off).cast()) }
        }

        fn word32(&self, off: usize) -> &AtomicU32 {
            unsafe { AtomicU32::from_ptr(self.base.add(off).cast()) }
        }

        fn write(&self, at: u64, bytes: &[u8]) {
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    self.base.add(self.page + at as usize),
                    bytes.len(),
                )
            }
        }

        /// Produce one netif record of `len` bytes (>= 48); false when it was lost.
        fn produce(&mut self, len: usize) -> bool {
            let seq = self.seq;
            self.seq += 1;
            let tail = u64::from(
                self.word32(offset_of!(RingHeader, tail))
                    .load(Ordering::Acquire),
            );
            let free = tail.wrapping_sub(self.head + 8) & (self.size - 1);
            let to_end = self.size - self.head;
            let need = if len as u64 > to_end {
                to_end + len as u64
            } else {
                len as u64
            };
            if need > free {
                self.lost += 1;
                self.word(offset_of!(RingHeader, lost))
                    .store(self.lost, Ordering::Relaxed);
                return false;
            }
            if len as u64 > to_end {
                let mut pad = vec![0u8; to_end as usize];
                pad[2..4].copy_from_slice(&(to_end as u16).to_ne_bytes());
                self.write(self.head, &pad);
                self.head = 0;
            }
            let mut rec = netif(seq, "lo", len as u32);
            rec[2..4].copy_from_slice(&(len as u16).to_ne_bytes());
            rec.resize(len, 0xab);
            self.write(self.head, &rec);
            self.head = (self.head + len as u64) % self.size;
            self.word32(offset_of!(RingHeader, head))
                .store(self.head as u32, Ordering::Release);
            true
        }
    }

    /// A ring over anonymous memory plus its producer.
    fn fake_ring(data_size: u32) -> (Ring, Producer) {
        let page = rustix::param::page_size();
        let len = page + data_size as usize;
        let p = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .unwrap()
        .cast::<u8>();
        let h = RingHeader {
            magic: RING_MAGIC,
            cpu: 1,
            data_offset: page as u32,
            data_size,
            ..bytemuck::Zeroable::zeroed()
        };
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytemuck::bytes_of(&h).as_ptr(),
                p,
                size_of::<RingHeader>(),
            )
        };
        let ring = Ring {
            ptr: NonNull::new(p).unwrap(),
            map_len: len,
            data_off: page,
            size: data_size as usize,
            cpu: 1,
            tail: 0,
            seq: SeqTracker::default(),
            stats: RingStats::default(),
            lost_at_open: 0,
        };
        let prod = Producer {
            base: p,
            page,
            size: u64::from(data_size),
            head: 0,
            seq: 0,
            lost: 0,
        };
        (ring, prod)
    }

    fn read_all(ring: &mut Ring) -> Vec<RingItem> {
        ring.records().map(|r| r.unwrap()).collect()
    }

    /// The protocol with a real concurrent producer: one thread produces records of varying
    /// lengths (wrapping, padding, dropping when full) while this one reads. Every record comes
    /// out whole and in order, exactly once; lost ones are accounted for.
    #[test]
    fn a_concurrent_producer_and_reader_agree() {
        struct SendProducer(Producer);
        // SAFETY: the producer's pointer is into a mapping that outlives the thread (the ring,
        // dropped after the join); the protocol shares it with the reader through atomics.
        unsafe impl Send for SendProducer {}

        const N: u32 = 100_000;
        let (mut ring, p) = fake_ring(8192);
        let p = SendProducer(p);
        let producer = std::thread::spawn(move || {
            let mut p = p;
            let mut lost = 0u64;
            for i in 0..N {
                if !p.0.produce(48 + 8 * (i % 9) as usize) {
                    lost += 1;
                }
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
            }
            lost
        });
        let (mut records, mut reported_lost, mut next_seq) = (0u64, 0u64, 0u32);
        let mut take = |ring: &mut Ring| {
            for item in ring.records() {
                match item.expect("a torn or misframed record") {
                    RingItem::Record(r) => {
                        assert!(r.seq >= next_seq, "seq {} after {next_seq}", r.seq);
                        next_seq = r.seq + 1;
                        records += 1;
                    }
                    RingItem::Lost { count, .. } => reported_lost += count,
                }
            }
        };
        while !producer.is_finished() {
            take(&mut ring);
        }
        let lost = producer.join().unwrap();
        take(&mut ring);
        assert_eq!(ring.pending(), 0);
        assert_eq!(
            records + lost,
            u64::from(N),
            "every record read once or counted lost"
        );
        assert!(
            reported_lost <= lost,
            "{reported_lost} reported lost, {lost} dropped"
        );
        assert_eq!(ring.lost(), lost);
        assert_eq!(ring.stats().seq_backwards, 0);
    }

    #[test]
    fn wraps_with_pads_and_reports_lost_records_in_place() {
        let (mut ring, mut p) = fake_ring(4096);
        // 4096 / 72 = 56 records fill it up to 4032; the 8-byte slot stays empty.
        let written = (0..60).filter(|_| p.produce(72)).count();
        assert_eq!(written, 56);
        assert_eq!(ring.lost(), 4);
        let items = read_all(&mut ring);
        assert_eq!(items.len(), 56);
        assert_eq!(ring.pending(), 0);
        // After the reader published tail, the producer wraps with a pad (4096 - 4032 = 64).
        assert!(p.produce(72));
        assert!(p.produce(48));
        let items = read_all(&mut ring);
        assert_eq!(
            items
                .iter()
                .map(|i| match i {
                    RingItem::Record(r) => format!("r{}", r.seq),
                    RingItem::Lost { count, .. } => format!("lost{count}"),
                })
                .collect::<Vec<_>>(),
            ["lost4", "r60", "r61"]
        );
        let st = ring.stats();
        assert_eq!(
            (st.records, st.pads, st.seq_lost, st.seq_backwards),
            (58, 1, 4, 0)
        );
        assert_eq!(ring.lost_since_open(), st.seq_lost);
    }

    #[test]
    fn a_corrupt_length_is_reported_and_skipped() {
        let (mut ring, mut p) = fake_ring(4096);
        p.produce(48);
        p.write(0, &[1, 0, 44, 0]);
        let got: Vec<_> = ring.records().collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().unwrap_err().msg.contains("length 44"));
        assert_eq!(ring.stats().corrupt, 1);
        assert_eq!(ring.pending(), 0);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_record(&b);
        }

        /// Any interleaving of produce and consume: every record arrives once, in order, and
        /// the lost markers add up to the producer's lost counter.
        #[test]
        fn reader_sees_every_record_once_and_every_loss(
            ops in proptest::collection::vec((0usize..6, any::<bool>()), 1..300))
        {
            let (mut ring, mut p) = fake_ring(4096);
            let mut want = Vec::new();
            let mut got = Vec::new();
            let mut lost_seen = 0;
            for (kind, consume) in ops {
                let len = [48, 56, 72, 120, 504, 1024][kind];
                if p.produce(len) {
                    want.push(p.seq - 1);
                }
                if consume {
                    for it in read_all(&mut ring) {
                        match it {
                            RingItem::Record(r) => got.push(r.seq),
                            RingItem::Lost { count, .. } => lost_seen += count,
                        }
                    }
                }
            }
            for it in read_all(&mut ring) {
                match it {
                    RingItem::Record(r) => got.push(r.seq),
                    RingItem::Lost { count, .. } => lost_seen += count,
                }
            }
            prop_assert_eq!(&got, &want);
            // Losses after the last record read show up only in the kernel counter.
            let trailing = u64::from(p.seq) - 1 - u64::from(*want.last().unwrap_or(&0));
            let leading = u64::from(*want.first().unwrap_or(&0));
            prop_assert_eq!(lost_seen + trailing * u64::from(!want.is_empty()) + leading, p.lost);
            prop_assert_eq!(ring.stats().seq_backwards, 0);
            prop_assert_eq!(ring.stats().corrupt, 0);
        }

        #[test]
        fn never_panics_with_a_plausible_header(mut b in proptest::collection::vec(any::<u8>(), 24..200), ty in 0u16..5, len in 0u16..256) {
            b[0..2].copy_from_slice(&ty.to_ne_bytes());
            b[2..4].copy_from_slice(&len.to_ne_bytes());
            if let Ok(Parsed::Record(_, n)) | Ok(Parsed::Pad(n)) = parse_record(&b) {
                prop_assert!(n <= b.len() && n % 8 == 0);
            }
        }
    }
}
