//! A perf tracepoint ring, the way `perf record -e net:netif_receive_skb` sets one up: one
//! `perf_event_open(PERF_TYPE_TRACEPOINT)` per CPU, sample period 1, raw tracepoint data, a
//! mapped ring of 1 + 2^n pages read with the data_head/data_tail protocol. The bench runs it
//! on the same workload as kpeek's ring.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::syscalls::{self, Mapping};

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_SAMPLE_TID: u64 = 1 << 1;
const PERF_SAMPLE_TIME: u64 = 1 << 2;
const PERF_SAMPLE_CPU: u64 = 1 << 7;
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 0)`, `_IO('$', 1)`, `_IOW('$', 6, char *)`.
const PERF_EVENT_IOC_ENABLE: u32 = 0x2400;
const PERF_EVENT_IOC_DISABLE: u32 = 0x2401;
/// `_IOW` encodes the argument's size: `sizeof(char *)` is 4 on a 32-bit kernel (0x4004_2406
/// there; the 64-bit number is refused with ENOTTY).
const PERF_EVENT_IOC_SET_FILTER: u32 =
    0x4000_2406 | ((std::mem::size_of::<*const u8>() as u32) << 16);
/// PERF_ATTR_SIZE_VER5.
const ATTR_SIZE: usize = 112;

/// The tracepoint's id from tracefs (mounting tracefs when nothing provides it).
pub fn tracepoint_id(system: &str, event: &str) -> anyhow::Result<u64> {
    let rel = format!("events/{system}/{event}/id");
    let dirs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    for d in dirs {
        if let Ok(s) = std::fs::read_to_string(format!("{d}/{rel}")) {
            return Ok(s.trim().parse()?);
        }
    }
    // SAFETY: plain mount(2) of tracefs on its usual directory.
    let r = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r == 0
        && let Ok(s) = std::fs::read_to_string(format!("{}/{rel}", dirs[0]))
    {
        return Ok(s.trim().parse()?);
    }
    anyhow::bail!(
        "tracepoint {system}:{event}: no id in tracefs ({} and {}, mount failed)",
        dirs[0],
        dirs[1]
    )
}

/// One CPU's perf ring.
pub struct PerfRing {
    fd: OwnedFd,
    map: Mapping,
    data_size: u64,
}

/// What a reader counted.
#[derive(Default, Debug, Clone, Copy)]
pub struct PerfCount {
    pub samples: u64,
    pub lost: u64,
}

impl PerfRing {
    /// Open the tracepoint on `cpu` (all tasks) with a data area of `data_size` bytes (a power
    /// of two multiple of the page size), optionally with an ftrace filter; disabled until
    /// [`enable`](Self::enable).
    pub fn open(
        tp_id: u64,
        cpu: u32,
        data_size: usize,
        filter: Option<&str>,
    ) -> anyhow::Result<PerfRing> {
        let mut attr = [0u8; ATTR_SIZE];
        let put32 = |a: &mut [u8], o: usize, v: u32| a[o..o + 4].copy_from_slice(&v.to_ne_bytes());
        let put64 = |a: &mut [u8], o: usize, v: u64| a[o..o + 8].copy_from_slice(&v.to_ne_bytes());
        put32(&mut attr, 0, PERF_TYPE_TRACEPOINT);
        put32(&mut attr, 4, ATTR_SIZE as u32);
        put64(&mut attr, 8, tp_id);
        put64(&mut attr, 16, 1); // sample_period
        put64(
            &mut attr,
            24,
            PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW,
        );
        put64(&mut attr, 40, 1); // disabled
        put32(&mut attr, 48, 1); // wakeup_events
        // SAFETY: attr is a valid perf_event_attr of the size it declares.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                -1 as libc::pid_t,
                cpu as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            anyhow::bail!(
                "perf_event_open(tracepoint {tp_id}, cpu {cpu}): {}",
                std::io::Error::last_os_error()
            );
        }
        // SAFETY: fd was just returned by perf_event_open.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        if let Some(f) = filter {
            let c = std::ffi::CString::new(f)?;
            // SAFETY: a NUL-terminated filter string.
            if let Err(e) = unsafe {
                syscalls::ioctl(
                    syscalls::raw(&fd),
                    PERF_EVENT_IOC_SET_FILTER,
                    c.as_ptr() as u64,
                )
            } {
                anyhow::bail!("perf filter {f:?}: errno {e}");
            }
        }
        let ps = syscalls::page_size();
        let map = Mapping::new(
            ps + data_size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            Some(syscalls::raw(&fd)),
            0,
        )
        .map_err(|e| anyhow::anyhow!("mmap perf ring of cpu {cpu}: {e}"))?;
        Ok(PerfRing {
            fd,
            map,
            data_size: data_size as u64,
        })
    }

    pub fn enable(&self) -> anyhow::Result<()> {
        // SAFETY: no argument.
        unsafe { syscalls::ioctl(syscalls::raw(&self.fd), PERF_EVENT_IOC_ENABLE, 0) }
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("PERF_EVENT_IOC_ENABLE: errno {e}"))
    }

    pub fn disable(&self) {
        // SAFETY: no argument.
        let _ = unsafe { syscalls::ioctl(syscalls::raw(&self.fd), PERF_EVENT_IOC_DISABLE, 0) };
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: data_head (1024) and data_tail (1032) are aligned u64s of the control page.
        unsafe { &*(self.map.ptr().add(off) as *const AtomicU64) }
    }

    /// Consume everything between data_tail and data_head; count samples and lost records.
    pub fn consume(&self, c: &mut PerfCount) {
        let head = self.word(1024).load(Ordering::Acquire);
        let mut tail = self.word(1032).load(Ordering::Relaxed);
        let ps = syscalls::page_size();
        // SAFETY: the data area follows the control page.
        let data = unsafe { self.map.ptr().add(ps) };
        let byte = |pos: u64| -> u8 {
            // SAFETY: masked into the data area.
            unsafe { *data.add((pos & (self.data_size - 1)) as usize) }
        };
        while tail < head {
            let mut h = [0u8; 16];
            for (i, b) in h.iter_mut().enumerate() {
                *b = byte(tail + i as u64);
            }
            let ty = u32::from_ne_bytes(h[0..4].try_into().unwrap());
            let size = u16::from_ne_bytes(h[6..8].try_into().unwrap()) as u64;
            if size < 8 {
                break; // corrupt: stop rather than loop
            }
            match ty {
                PERF_RECORD_SAMPLE => c.samples += 1,
                PERF_RECORD_LOST => {
                    let mut l = [0u8; 8];
                    for (i, b) in l.iter_mut().enumerate() {
                        *b = byte(tail + 16 + i as u64);
                    }
                    c.lost += u64::from_ne_bytes(l);
                }
                _ => {}
            }
            tail += size;
        }
        self.word(1032).store(tail, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_filter_ioctl_number_encodes_this_targets_pointer_size() {
        // _IOW('$', 6, char *): direction write (1 << 30), size in bits 16..29, type '$', nr 6.
        let want: u32 = if cfg!(target_pointer_width = "64") {
            0x4008_2406
        } else {
            0x4004_2406
        };
        assert_eq!(
            PERF_EVENT_IOC_SET_FILTER, want,
            "{PERF_EVENT_IOC_SET_FILTER:#x}"
        );
    }
}
