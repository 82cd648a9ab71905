//! Maps: creation (fd-owned, never pinned) and a one-entry array mapped into user memory.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use crate::error::{Error, Result, from_ret, sys};

/// Create a map; it lives as long as the returned handle (and any program using it). Hash
/// maps are created with `BPF_F_NO_PREALLOC` on Linux 6.1+ (entries are allocated as keys
/// appear, so creating a large map costs nothing up front); older kernels warn when tracing
/// programs use such maps, so there they are preallocated.
pub fn create(
    ty: MapType,
    name: &str,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
) -> Result<MapHandle> {
    crate::prog::init();
    let no_prealloc = matches!(ty, MapType::Hash | MapType::PercpuHash) && kernel_at_least(6, 1);
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: if no_prealloc {
            libbpf_sys::BPF_F_NO_PREALLOC
        } else {
            0
        },
        ..Default::default()
    };
    MapHandle::create(ty, Some(name), key_size, value_size, max_entries, &opts)
        .map_err(|e| crate::error::libbpf("creating a BPF map", e))
}

/// `bpf_map_create` returning the owned fd.
fn create_fd(
    ty: libbpf_sys::bpf_map_type,
    name: &str,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> Result<OwnedFd> {
    crate::prog::init();
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: flags,
        ..Default::default()
    };
    let cname = std::ffi::CString::new(name).unwrap_or_default();
    // SAFETY: the name and opts pointers are valid for the call; sizes are plain integers.
    let fd = unsafe {
        libbpf_sys::bpf_map_create(ty, cname.as_ptr(), key_size, value_size, max_entries, &opts)
    };
    if fd < 0 {
        return Err(from_ret("creating a BPF map", fd));
    }
    // SAFETY: bpf_map_create returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sum the per-CPU u64 slots of one key of a per-CPU map: `None` when the key is absent.
pub fn percpu_sum(map: &MapHandle, key: &[u8], slots: usize) -> Result<Option<Vec<u64>>> {
    let vals = map
        .lookup_percpu(key, MapFlags::ANY)
        .map_err(|e| crate::error::libbpf("reading a per-CPU map", e))?;
    let Some(vals) = vals else { return Ok(None) };
    let mut sum = vec![0u64; slots];
    for cpu in vals {
        for (i, s) in sum.iter_mut().enumerate() {
            if let Some(b) = cpu.get(i * 8..i * 8 + 8) {
                *s = s.wrapping_add(u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
            }
        }
    }
    Ok(Some(sum))
}

/// A one-entry `BPF_MAP_TYPE_ARRAY` created with `BPF_F_MMAPABLE` (5.5) and mapped shared into
/// this process: what a program stores in the value is read here without a system call.
#[derive(Debug)]
pub struct MmapArray {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and freed in Drop; moving it to another
// thread is fine (no thread-local state). It is not Sync: readers must not race writers.
unsafe impl Send for MmapArray {}

impl MmapArray {
    /// Create a mmapable one-entry array of `value_size` bytes (a multiple of the page size).
    pub fn new(name: &str, value_size: u32) -> Result<MmapArray> {
        let fd = match create_fd(
            libbpf_sys::BPF_MAP_TYPE_ARRAY,
            name,
            4,
            value_size,
            1,
            libbpf_sys::BPF_F_MMAPABLE,
        ) {
            Err(Error::Sys { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {
                return Err(Error::Unsupported {
                    feature: "mmapable BPF array maps (BPF_F_MMAPABLE)",
                    needs: "5.5",
                });
            }
            r => r?,
        };
        let len = value_size as usize;
        // SAFETY: mapping `len` bytes of a mmapable array map at offset 0 is what the kernel
        // supports for BPF_F_MMAPABLE; the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(sys("mapping a BPF array", std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Error::Sys {
            op: "mapping a BPF array",
            source: std::io::Error::other("mmap returned NULL"),
        })?;
        Ok(MmapArray { fd, ptr, len })
    }

    /// Copy `out.len()` bytes from the start of the value.
    pub fn copy_to(&self, out: &mut [u8]) {
        let n = out.len().min(self.len);
        // SAFETY: ptr is a live mapping of self.len bytes and n <= self.len; out is a distinct
        // Rust buffer. The kernel side writes only while a program runs, which happens inside a
        // system call of the thread holding &mut to the owner, so nothing writes concurrently.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), out.as_mut_ptr(), n) };
    }

    /// The first u64 of the value.
    pub fn read_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        self.copy_to(&mut b);
        u64::from_ne_bytes(b)
    }
}

impl AsFd for MmapArray {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for MmapArray {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly the mapping made in new(), unmapped once here.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Whether the running kernel's version is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(rel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    parse_release(&rel) >= Some((major, minor))
}

/// `6.1.0-18-amd64` -> (6, 1).
fn parse_release(rel: &str) -> Option<(u32, u32)> {
    let mut it = rel.trim().split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn releases() {
        assert_eq!(super::parse_release("6.1.0-18-amd64\n"), Some((6, 1)));
        assert_eq!(super::parse_release("5.10.209"), Some((5, 10)));
        assert_eq!(super::parse_release("6.18.44-fc-v1272"), Some((6, 18)));
        assert_eq!(super::parse_release("garbage"), None);
    }
}
