//! Raw system calls for the programs that must send what no client would (the fuzzers) or
//! read the kernel's shared memory directly (ring-stress, the bench's perf ring): open, ioctl
//! with any argument, mmap with RAII unmapping, dropping privileges, a seeded generator.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The calling thread's errno after a failed call.
pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `open(path, flags)`.
pub fn open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid NUL-terminated path; the returned fd is owned by nobody else.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(fd, cmd, arg)` with an arbitrary argument value: Ok(return value) or Err(errno).
///
/// # Safety
/// When `arg` is a pointer into this process's memory, the kernel may write up to the size the
/// command encodes (or more, for commands that take a user pointer inside the struct) there: the
/// caller must make sure that memory may be overwritten.
pub unsafe fn ioctl(fd: RawFd, cmd: u32, arg: u64) -> Result<i32, i32> {
    // SAFETY: forwarded to the caller.
    let r = unsafe { libc::ioctl(fd, cmd as _, arg as usize) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// A shared or anonymous mapping, unmapped on drop.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; users synchronise through atomics inside it.
unsafe impl Send for Mapping {}
// SAFETY: as above; the type hands out raw pointers only.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(NULL, len, prot, flags, fd, off)`.
    pub fn new(len: usize, prot: i32, flags: i32, fd: Option<RawFd>, off: u64) -> io::Result<Self> {
        let off = libc::off64_t::try_from(off)
            .map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: a fresh mapping chosen by the kernel; nothing else refers to it. mmap64: a 64-bit
        // offset whatever the guest's off_t (the fuzzer also passes ones above 4 GiB).
        let p = unsafe {
            libc::mmap64(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                fd.unwrap_or(-1),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    /// Anonymous private read-write memory.
    pub fn anon(len: usize) -> io::Result<Self> {
        Self::new(
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            None,
            0,
        )
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// Change the protection of `[off, off + len)`.
    pub fn protect(&self, off: usize, len: usize, prot: i32) -> io::Result<()> {
        assert!(off + len <= self.len);
        // SAFETY: inside our own mapping.
        if unsafe { libc::mprotect(self.ptr.add(off).cast(), len, prot) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own the mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

pub fn geteuid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

/// Become `uid`/`gid` `uid` with no supplementary groups and hence no capabilities (like
/// vmtest's runas), keeping the files already open: the kernel must check privileges at each
/// call, not only at open.
pub fn drop_privileges(uid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls; the process is single-threaded when this is called.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(uid, uid, uid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    if geteuid() != uid {
        return Err(io::Error::other("still privileged after setresuid"));
    }
    Ok(())
}

/// Pin the calling thread to one CPU (best effort: an error is returned, not fatal).
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu < CPU_SETSIZE is checked by the caller's CPU count (tiny in the guest).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: set is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Online CPUs as the scheduler sees them.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The fd's raw number.
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

/// splitmix64: small, fast, and the same sequence for the same seed everywhere, so a printed
/// seed reproduces a fuzz run exactly.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn u32(&mut self) -> u32 {
        self.u64() as u32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.u64() % n
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    pub fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            let v = self.u64().to_ne_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A "interesting" integer: boundaries more often than uniform values.
    pub fn interesting_u32(&mut self) -> u32 {
        match self.below(8) {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => *self.pick(&[2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 64, 255, 256, 4096]),
            4 => 1 << self.below(32),
            5 => (1u32 << self.below(32)).wrapping_sub(1),
            6 => 0x8000_0000,
            _ => self.u32(),
        }
    }
}

/// A seed from the clock, for runs without `--seed`.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_spreads() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.u64()).collect()
        };
        let mut r = Rng::new(42);
        assert!(a.iter().all(|&x| x == r.u64()));
        let mut r = Rng::new(7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[r.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }
}
