//! `fuzz-ioctl`'s other calls on the device: read() and lseek, and mmap of the rings and the
//! counter mapping.

use super::*;

impl Fuzzer<'_> {
    /// read() and lseek on the device with random sizes, offsets and buffers.
    pub(super) fn one_read(&mut self, i: u64) {
        let fd = self.fd;
        let off = match self.rng.below(4) {
            0 => 0,
            1 => self.rng.below(200) as i64,
            2 => self.rng.u64() as i64,
            _ => -(self.rng.below(100) as i64),
        };
        let whence = *self
            .rng
            .pick(&[libc::SEEK_SET, libc::SEEK_CUR, libc::SEEK_END, 7]);
        // SAFETY: lseek64 has no memory arguments. (lseek64: a 64-bit offset on i686 guests too)
        let s = unsafe { libc::lseek64(fd, off, whence) };
        if s < 0 {
            let e = syscalls::errno();
            self.tally("lseek", Err(e));
            if !plausible_errno(e) {
                self.problem(i, format!("lseek({off}, {whence}): implausible errno {e}"));
            }
        } else {
            self.tally("lseek", Ok(0));
        }
        let len = match self.rng.below(4) {
            0 => self.rng.below(24) as usize,
            1 => self.rng.below(4096) as usize,
            2 => self.arena.good,
            _ => 88,
        };
        let (ptr, bad) = match self.rng.below(6) {
            0 => (*self.rng.pick(&BAD_PTRS), true),
            1 => (self.arena.end_good() - 8, false), // short: the kernel must stop at the fault
            _ => (self.arena.base() + self.rng.below(8), false),
        };
        let len = if bad {
            len.max(1)
        } else {
            len.min(self.arena.good - 8)
        };
        // SAFETY: the buffer is in the arena (or inaccessible).
        let r = unsafe { libc::read(fd, ptr as *mut libc::c_void, len) };
        let res = if r < 0 {
            Err(syscalls::errno())
        } else {
            Ok(r as i32)
        };
        self.tally("read", res);
        match res {
            Err(e) if !plausible_errno(e) => {
                self.problem(i, format!("read: implausible errno {e}"))
            }
            Ok(n) if bad && n > 0 => {
                self.problem(i, format!("read into bad pointer {ptr:#x} returned {n}"))
            }
            Ok(n) if n as usize > len => self.problem(i, format!("read of {len} returned {n}")),
            _ => {}
        }
    }

    /// The ring data size the module has now (0: no rings).
    pub(super) fn ring_size(&self) -> u64 {
        let mut b = [0u8; INFO_SIZE];
        put_u32(&mut b, 0, INFO_SIZE as u32);
        // SAFETY: b has the size the command encodes.
        match unsafe { syscalls::ioctl(self.fd, IOC_INFO, b.as_mut_ptr() as u64) } {
            Ok(_) => get_u32(&b, info::RING_DATA_SIZE) as u64,
            Err(_) => 0,
        }
    }

    /// mmap with random offsets, lengths and protections; touch what was mapped. A ring must
    /// never be granted writable (ABI 4: only RING_CONSUME moves its tail).
    pub(super) fn one_mmap(&mut self, i: u64) {
        let ps = syscalls::page_size() as u64;
        let exact_ring = self.rng.one_in(3);
        let off = match self.rng.below(6) {
            _ if exact_ring => uapi::mmap_ring(self.rng.below(3) as u32),
            0 => uapi::MMAP_COUNTERS,
            1 => uapi::mmap_ring(self.rng.below(4) as u32),
            2 => uapi::mmap_ring(self.rng.interesting_u32()),
            3 => ps * self.rng.below(8),
            _ => self.rng.u64() & !(ps - 1),
        };
        let len = match self.rng.below(4) {
            _ if exact_ring => ps + self.ring_size(),
            0 => ps,
            1 => ps * (1 + self.rng.below(40)),
            2 => 1 + self.rng.below(3 * ps),
            _ => ps << self.rng.below(14),
        } as usize;
        let prot = if exact_ring {
            *self.rng.pick(&[
                libc::PROT_READ,
                libc::PROT_READ,
                libc::PROT_READ | libc::PROT_WRITE,
            ])
        } else {
            *self.rng.pick(&[
                libc::PROT_READ,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::PROT_WRITE,
                libc::PROT_READ | libc::PROT_EXEC,
            ])
        };
        let flags = if exact_ring {
            libc::MAP_SHARED
        } else {
            *self.rng.pick(&[libc::MAP_SHARED, libc::MAP_PRIVATE])
        };
        match Mapping::new(len, prot, flags, Some(self.fd), off) {
            Ok(m) => {
                self.tally("mmap", Ok(0));
                if !self.root && prot & libc::PROT_WRITE != 0 && off == uapi::MMAP_COUNTERS {
                    self.problem(i, "non-root writable counter mapping granted".into());
                }
                if prot & libc::PROT_READ != 0 {
                    // Touch every page: a mapping the kernel cannot back must have been refused
                    // (else SIGBUS here).
                    let mut sum = 0u8;
                    for p in (0..m.len()).step_by(ps as usize) {
                        // SAFETY: inside the mapping, which is readable.
                        sum ^= unsafe { std::ptr::read_volatile(m.ptr().add(p)) };
                    }
                    std::hint::black_box(sum);
                }
                if off != uapi::MMAP_COUNTERS && prot & libc::PROT_WRITE != 0 {
                    self.problem(
                        i,
                        format!("writable mapping of ring offset {off:#x} granted"),
                    );
                }
            }
            Err(e) => {
                let e = e.raw_os_error().unwrap_or(0);
                self.tally("mmap", Err(e));
                if !plausible_errno(e) {
                    self.problem(i, format!("mmap: implausible errno {e}"));
                }
            }
        }
    }
}
