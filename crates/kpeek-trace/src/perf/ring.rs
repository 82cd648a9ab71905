//! A perf event's mmap ring buffer, read with the kernel's head/tail protocol.
//!
//! Everything the kernel's metadata page says is checked before it is used: the data area
//! (`data_offset`, `data_size`) must be a power-of-two area inside the mapping, once when the
//! ring is mapped; the read position must be 8-aligned and no more than the data area behind
//! the head, and every record's size a non-zero multiple of 8 no larger than what is pending,
//! on every record. With those checks, an 8-byte header at an 8-aligned offset of a
//! power-of-two area never straddles its end, and no read leaves the mapping.

use std::io;
use std::mem::offset_of;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use perf_event_open_sys::bindings::perf_event_mmap_page;

use super::{PerfEvent, Record, page_size};

const DATA_HEAD: usize = offset_of!(perf_event_mmap_page, data_head);
const DATA_TAIL: usize = offset_of!(perf_event_mmap_page, data_tail);
const DATA_OFFSET: usize = offset_of!(perf_event_mmap_page, data_offset);
const DATA_SIZE: usize = offset_of!(perf_event_mmap_page, data_size);

/// Mapping or reading a ring failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// The requested number of data pages is not a power of two.
    #[error("ring size must be a power of two pages, got {0}")]
    NotPowerOfTwo(usize),
    /// `mmap` of the event failed.
    #[error("mapping the perf ring")]
    Map(#[source] io::Error),
    /// The metadata page describes a data area the mapping does not hold.
    #[error(
        "the perf ring's metadata page is invalid: data_offset {offset}, data_size {size} \
         (must be a power of two inside the {map_len}-byte mapping)"
    )]
    Layout {
        /// `data_offset` as read.
        offset: u64,
        /// `data_size` as read.
        size: u64,
        /// Length of the mapping.
        map_len: usize,
    },
    /// A record header or the read position made no sense: everything pending was skipped.
    #[error(
        "corrupt perf ring at position {position}: {what}; {skipped} bytes skipped after \
         {records} records"
    )]
    Corrupt {
        /// Ring position (`data_tail` value) of the bad header.
        position: u64,
        /// What was wrong.
        what: &'static str,
        /// Bytes dropped to resynchronise at the head.
        skipped: u64,
        /// Records delivered before the bad one.
        records: usize,
    },
}

/// A shared mapping, unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly a mapping this value owns; nothing borrows it any more
        // (every borrow is tied to a `&PerfRing` or `&mut PerfRing`).
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A perf mmap ring buffer: one metadata page and 2^n data pages.
pub struct PerfRing {
    map: Mapping,
    /// Offset of the data area in the mapping (validated).
    data_offset: usize,
    /// Bytes of the data area: a power of two, `data_offset + data_size <= map.len`.
    data_size: usize,
    sample_type: u64,
    /// Records that wrap around the end of the data area are copied here (8-byte aligned).
    scratch: Vec<u64>,
}

// SAFETY: the mapping is owned by the PerfRing and only read through &self/&mut self methods; the
// kernel writes concurrently, which the head/tail protocol makes safe on any thread.
unsafe impl Send for PerfRing {}

impl PerfRing {
    /// Map `event`'s ring with `data_pages` data pages (a power of two).
    pub fn map(
        event: &PerfEvent,
        data_pages: usize,
        sample_type: u64,
    ) -> Result<PerfRing, RingError> {
        use rustix::mm::{MapFlags, ProtFlags};
        if !data_pages.is_power_of_two() {
            return Err(RingError::NotPowerOfTwo(data_pages));
        }
        let len = (1 + data_pages) * page_size();
        // SAFETY: a fresh shared mapping of the perf fd at a kernel-chosen address, so no
        // existing memory is affected; the kernel checks the size.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                event.as_fd(),
                0,
            )
        }
        .map_err(|e| RingError::Map(e.into()))?;
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(RingError::Map(io::Error::other(
            "mmap returned a null mapping",
        )))?;
        PerfRing::from_mapping(Mapping { base, len }, data_pages, sample_type)
    }

    /// Validate the metadata page of `map` and make it a ring. Kernels before 4.1 leave
    /// `data_offset`/`data_size` zero: the data area is then the pages after the first.
    fn from_mapping(
        map: Mapping,
        data_pages: usize,
        sample_type: u64,
    ) -> Result<PerfRing, RingError> {
        let page = page_size();
        // SAFETY: the metadata page is mapped (len >= one page), the fields are aligned u64s,
        // and the kernel sets them before mmap returns and never changes them.
        let (offset, size) = unsafe {
            (
                std::ptr::read_volatile(map.base.as_ptr().add(DATA_OFFSET).cast::<u64>()),
                std::ptr::read_volatile(map.base.as_ptr().add(DATA_SIZE).cast::<u64>()),
            )
        };
        let (offset, size) = if offset == 0 && size == 0 {
            (page as u64, (data_pages * page) as u64)
        } else {
            (offset, size)
        };
        let valid = size.is_power_of_two()
            && size >= 8
            && offset.is_multiple_of(8)
            && offset >= std::mem::size_of::<perf_event_mmap_page>() as u64
            && offset
                .checked_add(size)
                .is_some_and(|end| end <= map.len as u64);
        if !valid {
            return Err(RingError::Layout {
                offset,
                size,
                map_len: map.len,
            });
        }
        Ok(PerfRing {
            map,
            data_offset: offset as usize,
            data_size: size as usize,
            sample_type,
            scratch: Vec::new(),
        })
    }

    /// Bytes of the data area.
    pub fn data_size(&self) -> usize {
        self.data_size
    }

    fn data(&self) -> *const u8 {
        // SAFETY: data_offset + data_size <= the mapping's length (checked in from_mapping).
        unsafe { self.map.base.as_ptr().add(self.data_offset) }
    }

    fn head(&self) -> &AtomicU64 {
        // SAFETY: data_head is an aligned u64 in the mapped metadata page that lives as long
        // as self; the kernel writes it only with atomic stores (smp_store_release).
        unsafe { AtomicU64::from_ptr(self.map.base.as_ptr().add(DATA_HEAD).cast::<u64>()) }
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: as for head; data_tail is written only by this reader, atomically.
        unsafe { AtomicU64::from_ptr(self.map.base.as_ptr().add(DATA_TAIL).cast::<u64>()) }
    }

    /// Bytes written by the kernel and not yet consumed.
    pub fn pending(&self) -> u64 {
        let head = self.head().load(Ordering::Acquire);
        head.wrapping_sub(self.tail().load(Ordering::Relaxed))
    }

    /// Read every record available now, calling `f` for each, then release the space to the
    /// kernel. Returns the number of records read. A corrupt header skips everything pending
    /// (so the ring keeps working) and is reported as [`RingError::Corrupt`].
    pub fn read(&mut self, mut f: impl FnMut(Record<'_>)) -> Result<usize, RingError> {
        // Load-acquire data_head: everything before it is fully written.
        let head = self.head().load(Ordering::Acquire);
        let mut tail = self.tail().load(Ordering::Relaxed);
        let size_mask = (self.data_size - 1) as u64;
        let data = self.data();
        let mut records = 0;
        let mut corrupt = None;
        while tail != head {
            let pending = head.wrapping_sub(tail);
            let bad = if pending > self.data_size as u64 {
                Some("the head is more than the data area ahead of the tail")
            } else if !tail.is_multiple_of(8) || pending < 8 {
                Some("the read position is not on an 8-byte record boundary")
            } else {
                None
            };
            if let Some(what) = bad {
                corrupt = Some((tail, what, pending));
                break;
            }
            let off = (tail & size_mask) as usize;
            // SAFETY: off is 8-aligned and data_size is a power of two >= 8, so the 8-byte
            // header lies inside the data area; it is before head, so fully written.
            let header = unsafe { std::ptr::read(data.add(off).cast::<[u8; 8]>()) };
            let rtype = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
            let size = u16::from_ne_bytes([header[6], header[7]]) as usize;
            if size < 8 || !size.is_multiple_of(8) || size as u64 > pending {
                corrupt = Some((
                    tail,
                    "a record size is not a multiple of 8 within the data",
                    pending,
                ));
                break;
            }
            let bytes: &[u8] = if off + size <= self.data_size {
                // SAFETY: the record lies inside the data area and the kernel will not touch
                // it until we advance data_tail past it.
                unsafe { std::slice::from_raw_parts(data.add(off), size) }
            } else {
                // The record wraps: copy both parts into the aligned scratch buffer.
                let words = size.div_ceil(8);
                if self.scratch.len() < words {
                    self.scratch.resize(words, 0);
                }
                let first = self.data_size - off;
                let dst = self.scratch.as_mut_ptr().cast::<u8>();
                // SAFETY: both source ranges are inside the data area (first < size <=
                // pending <= data_size), the destination holds `size` bytes, and they do not
                // overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(data.add(off), dst, first);
                    std::ptr::copy_nonoverlapping(data, dst.add(first), size - first);
                    std::slice::from_raw_parts(dst, size)
                }
            };
            f(Record::parse(rtype, bytes, self.sample_type));
            records += 1;
            tail = tail.wrapping_add(size as u64);
        }
        let result = match corrupt {
            None => Ok(records),
            Some((position, what, skipped)) => {
                tail = head;
                Err(RingError::Corrupt {
                    position,
                    what,
                    skipped,
                    records,
                })
            }
        };
        // Store-release data_tail: our reads of the records happen before the kernel reuses
        // the space.
        self.tail().store(tail, Ordering::Release);
        result
    }
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
