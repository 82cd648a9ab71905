//! /dev/kpeek driven directly: the ioctls the ring programs need, and one CPU's event ring read
//! with the circular-buffers.rst protocol (load-acquire head, read records, store-release
//! tail). Deliberately independent of kpeek-client's ring reader, so that ring-stress checks
//! the kernel against the ABI text rather than against another implementation.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::fuzzstate::errno_name;
use crate::syscalls::{self, Mapping};
use crate::uapi::{self, *};

/// The device, opened read-write.
pub struct Dev {
    fd: OwnedFd,
}

/// What KPEEK_IOC_INFO says.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub nr_cpus: u32,
    pub counters: u32,
    pub mmap_counters_size: u32,
}

impl Dev {
    pub fn open() -> anyhow::Result<Dev> {
        let fd = syscalls::open(DEV_PATH, libc::O_RDWR)
            .map_err(|e| anyhow::anyhow!("open {DEV_PATH}: {e}"))?;
        Ok(Dev { fd })
    }

    pub fn fd(&self) -> RawFd {
        syscalls::raw(&self.fd)
    }

    fn ioctl(&self, what: &str, cmd: u32, b: &mut [u8]) -> anyhow::Result<()> {
        // SAFETY: every caller passes a buffer of the size `cmd` encodes.
        unsafe { syscalls::ioctl(self.fd(), cmd, b.as_mut_ptr() as u64) }
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{what}: {}", errno_name(Err(e))))
    }

    pub fn info(&self) -> anyhow::Result<Info> {
        let mut b = [0u8; INFO_SIZE];
        put_u32(&mut b, info::SIZE, INFO_SIZE as u32);
        self.ioctl("KPEEK_IOC_INFO", IOC_INFO, &mut b)?;
        Ok(Info {
            nr_cpus: get_u32(&b, info::NR_CPUS),
            counters: get_u32(&b, info::COUNTERS),
            mmap_counters_size: get_u32(&b, info::MMAP_COUNTERS_SIZE),
        })
    }

    /// KPEEK_IOC_PROBE_SET: `flags` 0 detaches.
    pub fn probe_set(
        &self,
        probe: u32,
        flags: u32,
        dev_filter: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut b = [0u8; PROBE_CONFIG_SIZE];
        put_u32(&mut b, uapi::probe::SIZE, PROBE_CONFIG_SIZE as u32);
        put_u32(&mut b, uapi::probe::PROBE, probe);
        put_u32(&mut b, uapi::probe::FLAGS, flags);
        if let Some(d) = dev_filter {
            put_u32(&mut b, uapi::probe::FILTER, FILTER_DEV);
            put_name(&mut b, uapi::probe::DEV, 16, d);
        }
        self.ioctl(
            &format!("KPEEK_IOC_PROBE_SET probe {probe}"),
            IOC_PROBE_SET,
            &mut b,
        )
    }

    /// KPEEK_IOC_RING_SETUP.
    pub fn ring_setup(&self, data_size: u32, watermark: u32) -> anyhow::Result<()> {
        let mut b = [0u8; RING_CONFIG_SIZE];
        put_u32(&mut b, 0, RING_CONFIG_SIZE as u32);
        put_u32(&mut b, 8, data_size);
        put_u32(&mut b, 12, watermark);
        self.ioctl(
            &format!("KPEEK_IOC_RING_SETUP data_size {data_size}"),
            IOC_RING_SETUP,
            &mut b,
        )
    }

    /// Detach every probe.
    pub fn detach_all(&self) -> anyhow::Result<()> {
        for p in 1..=PROBE_MAX {
            self.probe_set(p, 0, None)?;
        }
        Ok(())
    }
}

/// One CPU's mapped ring, read by this module's own code (not `kpeek_client::ring::Ring`'s).
pub struct RawRing {
    map: Mapping,
    /// The owning device's descriptor (borrowed: the `Dev` outlives its rings), for
    /// KPEEK_IOC_RING_CONSUME.
    fd: RawFd,
    pub cpu: u32,
    pub data_size: u32,
    data_offset: usize,
}

/// One record, copied out of the ring.
#[derive(Clone, Copy)]
pub struct Rec {
    pub ty: u16,
    pub len: u16,
    pub bytes: [u8; 128],
}

impl Rec {
    pub fn seq(&self) -> u32 {
        get_u32(&self.bytes, rec_hdr::SEQ)
    }
    pub fn cpu(&self) -> u32 {
        get_u32(&self.bytes, rec_hdr::CPU)
    }
}

/// What the reader found wrong in the ring's framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Ok,
    Bad(String),
}

impl RawRing {
    pub fn map(dev: &Dev, cpu: u32, data_size: u32) -> anyhow::Result<RawRing> {
        let ps = syscalls::page_size();
        let map = Mapping::new(
            ps + data_size as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            Some(dev.fd()),
            mmap_ring(cpu),
        )
        .map_err(|e| anyhow::anyhow!("mmap ring of CPU {cpu}: {e}"))?;
        let r = RawRing {
            map,
            fd: dev.fd(),
            cpu,
            data_size,
            data_offset: ps,
        };
        let (magic, hcpu, off, size) = (
            r.word32(ring_hdr::MAGIC),
            r.word32(ring_hdr::CPU),
            r.word32(ring_hdr::DATA_OFFSET),
            r.word32(ring_hdr::DATA_SIZE),
        );
        if magic != RING_MAGIC || hcpu != cpu || off as usize != ps || size != data_size {
            anyhow::bail!(
                "ring of CPU {cpu}: header magic {magic:#x} cpu {hcpu} data_offset {off} data_size {size}, want {RING_MAGIC:#x} {cpu} {ps} {data_size}"
            );
        }
        Ok(r)
    }

    /// A header field. Never a `&[u8]` over the header: the kernel writes in that page while we
    /// read it (head, lost, written), so every read of it is an atomic load.
    fn word32(&self, off: usize) -> u32 {
        debug_assert!(off + 4 <= RING_HEADER_SIZE);
        self.atomic32(off).load(Ordering::Relaxed)
    }

    fn atomic(&self, off: usize) -> &AtomicU64 {
        // SAFETY: an 8-byte aligned u64 inside the mapping, shared with the kernel.
        unsafe { &*(self.map.ptr().add(off) as *const AtomicU64) }
    }

    fn atomic32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: a 4-byte aligned u32 inside the mapping, shared with the kernel.
        unsafe { &*(self.map.ptr().add(off) as *const AtomicU32) }
    }

    /// `head` (a u32 since ABI 3, so that 32-bit machines can load-acquire it). The mapping
    /// is read-only (ABI 4): a relaxed load and an acquire fence.
    pub fn head(&self) -> u64 {
        let h = self.atomic32(ring_hdr::HEAD).load(Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Acquire);
        u64::from(h)
    }

    pub fn tail(&self) -> u64 {
        u64::from(self.atomic32(ring_hdr::TAIL).load(Ordering::Relaxed))
    }

    /// Hand `t` to the kernel with KPEEK_IOC_RING_CONSUME (< data_size <= 16 MiB: a u32).
    pub fn set_tail(&self, t: u64) -> Result<(), String> {
        let t = u32::try_from(t).map_err(|_| format!("tail {t} does not fit a u32"))?;
        let mut b = [0u8; RING_CONSUME_SIZE];
        put_u32(&mut b, 0, RING_CONSUME_SIZE as u32);
        put_u32(&mut b, 4, self.cpu);
        put_u32(&mut b, 8, t);
        // SAFETY: b has the size the command encodes.
        unsafe { syscalls::ioctl(self.fd, IOC_RING_CONSUME, b.as_mut_ptr() as u64) }
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "KPEEK_IOC_RING_CONSUME cpu {} tail {t}: {}",
                    self.cpu,
                    errno_name(Err(e))
                )
            })
    }

    pub fn lost(&self) -> u64 {
        self.atomic(ring_hdr::LOST).load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.atomic(ring_hdr::WRITTEN).load(Ordering::Relaxed)
    }

    /// Read every record between tail and head, then publish the new tail. PAD records are
    /// consumed without being passed to `f`. Returns the framing verdict (on a bad frame the
    /// reader stops and does not move tail past it).
    pub fn consume(&self, mut f: impl FnMut(&Rec)) -> Framing {
        let size = self.data_size as u64;
        let head = self.head();
        let mut tail = self.tail();
        if head >= size || tail >= size || !head.is_multiple_of(8) {
            return Framing::Bad(format!(
                "head {head} / tail {tail} outside the ring of {size}"
            ));
        }
        // SAFETY: the data area follows the header page and is data_size bytes long.
        let data = unsafe { self.map.ptr().add(self.data_offset) };
        while tail != head {
            let room = (size - tail) as usize;
            if room < 8 {
                return Framing::Bad(format!("tail {tail}: less than 8 bytes before the end"));
            }
            let mut rec = Rec {
                ty: 0,
                len: 0,
                bytes: [0; 128],
            };
            // SAFETY: 8 bytes at tail are inside the data area.
            unsafe {
                std::ptr::copy_nonoverlapping(data.add(tail as usize), rec.bytes.as_mut_ptr(), 8)
            };
            rec.ty = get_u16(&rec.bytes, rec_hdr::TYPE);
            rec.len = get_u16(&rec.bytes, rec_hdr::LEN);
            let len = rec.len as usize;
            if len < 8 || !len.is_multiple_of(8) || len > room {
                return Framing::Bad(format!(
                    "record at {tail}: type {} len {len} ({room} bytes to the end)",
                    rec.ty
                ));
            }
            if rec.ty == REC_PAD {
                if len != room {
                    return Framing::Bad(format!(
                        "PAD at {tail} of len {len} does not end at the ring's end ({room} left)"
                    ));
                }
                tail = 0;
                continue;
            }
            if len < REC_HEADER_SIZE || len > rec.bytes.len() {
                return Framing::Bad(format!("record at {tail}: type {} len {len}", rec.ty));
            }
            // SAFETY: len bytes at tail are inside the data area (checked above).
            unsafe {
                std::ptr::copy_nonoverlapping(data.add(tail as usize), rec.bytes.as_mut_ptr(), len)
            };
            f(&rec);
            tail += len as u64;
            if tail == size {
                tail = 0;
            }
        }
        if let Err(e) = self.set_tail(tail) {
            return Framing::Bad(e);
        }
        Framing::Ok
    }
}

/// Per-CPU sequence checker: no duplicate, no step back, gaps summed.
#[derive(Default, Debug, Clone)]
pub struct SeqCheck {
    pub last: Option<u32>,
    pub records: u64,
    pub gaps: u64,
    pub dups: u64,
    pub backwards: u64,
    pub first_bad: Option<String>,
}

impl SeqCheck {
    pub fn see(&mut self, seq: u32) {
        self.records += 1;
        if let Some(last) = self.last {
            let d = seq.wrapping_sub(last);
            if d == 0 {
                self.dups += 1;
                self.first_bad
                    .get_or_insert_with(|| format!("seq {seq} twice"));
                return;
            }
            if d >= 1 << 31 {
                self.backwards += 1;
                self.first_bad
                    .get_or_insert_with(|| format!("seq {seq} after {last}"));
                return;
            }
            self.gaps += (d - 1) as u64;
        }
        self.last = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_check_counts_gaps_dups_and_reorders() {
        let mut s = SeqCheck::default();
        for q in [5, 6, 9, 10, 10, 8, 11, u32::MAX] {
            s.see(q);
        }
        assert_eq!(s.records, 8);
        assert_eq!(s.dups, 1);
        assert_eq!(s.backwards, 2); // 8 after 10, and u32::MAX after 11 (a step back of 12)
        assert_eq!(s.gaps, 2); // 7 and 8 missing between 6 and 9
        let mut w = SeqCheck::default();
        for q in [u32::MAX - 1, u32::MAX, 0, 2] {
            w.see(q);
        }
        assert_eq!((w.gaps, w.dups, w.backwards), (1, 0, 0), "wraps around");
    }
}
