//! The per-CPU event rings of `/dev/kpeek` (kmod/kpeek_ring.c): map each CPU's ring and read
//! its records with an iterator, counting every lost record.
//!
//! Protocol (Documentation/core-api/circular-buffers.rst): the kernel (one producer per CPU)
//! writes a record and then publishes `head` with `smp_store_release`; this reader loads `head`
//! with acquire ordering, copies the records between `tail` and `head`, and hands the new `tail`
//! back with `KPEEK_IOC_RING_CONSUME` so the producer may reuse the space (the mapping is
//! read-only, and only the open file that set the rings up may map them: ABI 4). Records never
//! straddle
//! the end of the data: a `KPEEK_REC_PAD` record (only its 8-byte `type`/`len` prefix is valid,
//! so it fits the 8 or 16 bytes that may be left) fills the rest and the next record starts at
//! offset 0.
//!
//! Every record carries a per-CPU `seq` that also advances for records the kernel dropped
//! (ring full), so a gap in `seq` is exactly the number of lost records: [`Records`] yields a
//! [`RingItem::Lost`] for each gap, in place, and [`RingStats`] sums them next to the ring's
//! own `lost` counter.

mod error;
mod record;
mod seq;
mod set;
#[cfg(test)]
mod tests;

use std::mem::offset_of;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kpeek_abi::mmap::{RING_MAGIC, RingHeader, mmap_ring};
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};

use crate::chardev::Device;
use crate::error::{Error, Result};

pub use error::{RingError, RingFault};
use record::PREFIX;
pub use record::{
    BadRecord, Parsed, Record, RecordBody, RingItem, parse_record, realtime_offset_ns,
};
pub use seq::{RingStats, SeqTracker};
pub use set::RingSet;

/// Where a ring's consumed `tail` goes.
#[derive(Debug)]
enum TailSink {
    /// `KPEEK_IOC_RING_CONSUME` on this descriptor (a duplicate of the owning device's).
    Device(OwnedFd),
    /// The tests' fake rings: a writable header in anonymous memory.
    #[cfg(test)]
    Header,
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
    /// The tail the kernel last accepted.
    published: u64,
    sink: TailSink,
    /// A `KPEEK_IOC_RING_CONSUME` that failed (errno), until [`Ring::take_consume_error`].
    consume_err: Option<i32>,
    seq: SeqTracker,
    stats: RingStats,
    lost_at_open: u64,
}

// SAFETY: the shared words are only accessed atomically; record bytes only between tail and
// head, which the producer does not touch until tail is published.
unsafe impl Send for Ring {}

impl Ring {
    /// Map `cpu`'s ring, read-only: one header page plus `data_size` bytes (from
    /// `KPEEK_IOC_INFO`). `dev` must own the rings (it set them up): `EBUSY` otherwise.
    pub fn map(dev: &Device, cpu: u32, data_size: u32) -> Result<Ring> {
        let page = rustix::param::page_size();
        let map_len = page + data_size as usize;
        let bad = |fault: RingFault| Error::Binary {
            path: dev.path().to_path_buf(),
            offset: 0,
            fault: Box::new(crate::BinaryFault::Ring { cpu, fault }),
        };
        if !data_size.is_power_of_two() {
            return Err(bad(RingFault::SizeNotPowerOfTwo { size: data_size }));
        }
        // SAFETY: a fresh shared mapping of the device, unmapped on drop; the kernel and this
        // reader share it only through the protocol above.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                map_len,
                ProtFlags::READ,
                MapFlags::SHARED,
                dev.as_fd(),
                mmap_ring(cpu),
            )
        }
        .map_err(|e| {
            let hint = (e == rustix::io::Errno::BUSY).then(|| crate::ioctl::RINGS_BUSY.into());
            Error::kernel(
                &format!("mmap of the ring of CPU {cpu}"),
                dev.path().to_path_buf(),
                e.raw_os_error(),
                hint,
            )
        })?;
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| bad(RingFault::NullMapping))?;
        let fd = dev.as_fd().try_clone_to_owned();
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                // SAFETY: just mapped above, nothing refers into it yet.
                let _ = unsafe { munmap(p, map_len) };
                return Err(Error::kernel(
                    "dup of the device descriptor for the ring",
                    dev.path().to_path_buf(),
                    e.raw_os_error().unwrap_or(0),
                    None,
                ));
            }
        };
        let mut ring = Ring {
            ptr,
            map_len,
            data_off: page,
            size: data_size as usize,
            cpu,
            tail: 0,
            published: 0,
            sink: TailSink::Device(fd),
            consume_err: None,
            seq: SeqTracker::default(),
            stats: RingStats::default(),
            lost_at_open: 0,
        };
        // SAFETY: the header page is mapped; these fields are written once by the kernel at
        // setup, read here with plain loads through atomics.
        let seen = SeenHeader {
            magic: ring.word32(offset_of!(RingHeader, magic)),
            cpu: ring.word32(offset_of!(RingHeader, cpu)),
            data_offset: ring.word32(offset_of!(RingHeader, data_offset)),
            data_size: ring.word32(offset_of!(RingHeader, data_size)),
            tail: ring
                .atomic32(offset_of!(RingHeader, tail))
                .load(Ordering::Relaxed),
        };
        seen.check(cpu, page, data_size).map_err(bad)?;
        ring.tail = u64::from(seen.tail);
        ring.published = ring.tail;
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
        // The mapping is read-only: a relaxed load (allowed on read-only memory) and an acquire
        // fence, which pairs with the kernel's smp_store_release(head) like an acquire load.
        let head = self
            .atomic32(offset_of!(RingHeader, head))
            .load(Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Acquire);
        u64::from(head)
    }

    /// Hand the space before `tail` back to the producer, if it moved.
    fn publish_tail(&mut self) {
        if self.tail == self.published {
            return;
        }
        // tail < data_size <= RING_MAX_SIZE (16 MiB): it fits.
        let tail = self.tail as u32;
        match &self.sink {
            TailSink::Device(fd) => match crate::ioctl::ring_consume(fd.as_fd(), self.cpu, tail) {
                Ok(()) => self.published = self.tail,
                // Kept for the caller: Drop cannot return it.
                Err(e) => self.consume_err = Some(e.raw_os_error()),
            },
            #[cfg(test)]
            TailSink::Header => {
                self.atomic32(offset_of!(RingHeader, tail))
                    .store(tail, Ordering::Release);
                self.published = self.tail;
            }
        }
    }

    /// The errno of a `KPEEK_IOC_RING_CONSUME` that failed since the last call, if any (the
    /// space stays unreleased, so the producer will drop records once the ring is full).
    pub fn take_consume_error(&mut self) -> Option<i32> {
        self.consume_err.take()
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

/// The header fields [`Ring::map`] checks, as read from the mapping.
#[derive(Debug, Clone, Copy)]
struct SeenHeader {
    magic: u32,
    cpu: u32,
    data_offset: u32,
    data_size: u32,
    tail: u32,
}

impl SeenHeader {
    /// The header of `cpu`'s ring, its data one `page` in and `data_size` long, with the
    /// consumer's `tail` inside the data.
    fn check(&self, cpu: u32, page: usize, data_size: u32) -> std::result::Result<(), RingFault> {
        if self.magic != RING_MAGIC {
            return Err(RingFault::Magic { found: self.magic });
        }
        if self.cpu != cpu || self.data_offset as usize != page || self.data_size != data_size {
            return Err(RingFault::Header {
                cpu: self.cpu,
                data_offset: self.data_offset,
                data_size: self.data_size,
                expected_cpu: cpu,
                expected_offset: page,
                expected_size: data_size,
            });
        }
        if self.tail >= data_size || !self.tail.is_multiple_of(8) {
            return Err(RingFault::TailOutside {
                tail: u64::from(self.tail),
                size: u64::from(data_size),
            });
        }
        Ok(())
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
                let e = RingError::new(
                    self.ring.cpu,
                    tail,
                    RingFault::HeadOutside {
                        head: self.head,
                        size,
                    },
                );
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
                Err(bad) => {
                    self.ring.stats.corrupt += 1;
                    self.ring.tail = self.head;
                    self.done = true;
                    return Some(Err(RingError::new(self.ring.cpu, tail, bad.into())));
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
