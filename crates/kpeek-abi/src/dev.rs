//! `/dev/kpeek` (kmod/kpeek_chardev.c): the `read()` snapshot and the ioctl structs and numbers.
//!
//! Every struct is `#[repr(C)]`, has no implicit padding (so it is [`bytemuck::Pod`] and can be
//! read from any bytes) and starts with `size` where the kernel accepts a grown ABI. Names are
//! NUL-terminated `[u8; NAME_MAX + 1]`; [`cstr`] reads them back.

use bytemuck::{Pod, Zeroable};

use crate::NAME_MAX;

/// `KPEEK_DEV_PATH`: the misc device.
pub const DEV_PATH: &str = "/dev/kpeek";
/// `KPEEK_DEV_NAME`: its name under /dev and in /sys/class/misc.
pub const DEV_NAME: &str = "kpeek";

/// A name field: `KPEEK_NAME_MAX` bytes and a NUL.
pub type NameBuf = [u8; NAME_MAX + 1];

/// The text before the first NUL of a fixed-size C string field (the whole field when it has no
/// NUL); `None` when that is not UTF-8.
pub fn cstr(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end]).ok()
}

/// `name` copied into a zeroed fixed-size field; `None` when it does not fit with its NUL or
/// holds a NUL itself.
pub fn to_cbuf<const N: usize>(name: &str) -> Option<[u8; N]> {
    if name.len() >= N || name.as_bytes().contains(&0) {
        return None;
    }
    let mut out = [0u8; N];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Some(out)
}

/// `KPEEK_SNAP_MAGIC`: "KPSN", the first word of a `read()` snapshot.
pub const SNAP_MAGIC: u32 = 0x4b50_534e;

/// `struct kpeek_snap_header`: the start of a `read()` snapshot; `count` [`CounterRec`]s follow.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct SnapHeader {
    /// [`SNAP_MAGIC`].
    pub magic: u32,
    /// `KPEEK_ABI_VERSION` of the module.
    pub abi_version: u16,
    /// `sizeof(struct kpeek_snap_header)` as the module built it.
    pub header_size: u16,
    /// `sizeof(struct kpeek_counter_rec)` as the module built it.
    pub record_size: u32,
    /// Records that follow.
    pub count: u32,
    /// Bumped on every group/counter create or destroy.
    pub generation: u64,
}

/// `struct kpeek_counter_rec`: one counter, in `read()` snapshots and the GET ioctls.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct CounterRec {
    /// Counter id, unique for the module's lifetime.
    pub id: u64,
    /// Its group's id.
    pub group_id: u64,
    /// Summed over CPUs.
    pub value: u64,
    /// Group name, NUL-terminated.
    pub group: NameBuf,
    /// Counter name, NUL-terminated.
    pub counter: NameBuf,
}

/// `KPEEK_IOC_MAGIC`: the ioctl letter (not in ioctl-number.rst).
pub const IOC_MAGIC: u8 = 0xBE;

/// `struct kpeek_info` (`KPEEK_IOC_INFO`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Info {
    /// In: `size_of::<Info>()`.
    pub size: u32,
    pub abi_version: u32,
    /// `nr_cpu_ids`: rings are indexed `0..nr_cpus`.
    pub nr_cpus: u32,
    pub max_groups: u32,
    pub max_counters: u32,
    /// Live groups.
    pub groups: u32,
    /// Live counters.
    pub counters: u32,
    /// Bytes to map at [`crate::mmap::MMAP_COUNTERS`].
    pub mmap_counters_size: u32,
    pub generation: u64,
    /// Bytes of ring data per CPU (0: rings not set up).
    pub ring_data_size: u32,
    pub reserved: u32,
}

/// `struct kpeek_counter_get` (`KPEEK_IOC_GET_COUNTER`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct CounterGet {
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// In: counter id.
    pub id: u64,
    /// Out.
    pub rec: CounterRec,
}

/// `struct kpeek_counters_get` (`KPEEK_IOC_GET_COUNTERS`): a page of counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct CountersGet {
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// In: user pointer to an array of [`CounterRec`].
    pub recs: u64,
    /// In: array length.
    pub capacity: u32,
    /// Out: records written.
    pub count: u32,
    /// In: index of the first counter to return.
    pub start: u32,
    /// Out: counters that exist.
    pub total: u32,
    /// Out: compare between pages to detect changes.
    pub generation: u64,
}

/// `KPEEK_TARGET_ALL`: reset every counter.
pub const TARGET_ALL: u32 = 0;
/// `KPEEK_TARGET_GROUP`.
pub const TARGET_GROUP: u32 = 1;
/// `KPEEK_TARGET_COUNTER`.
pub const TARGET_COUNTER: u32 = 2;

/// `struct kpeek_reset` (`KPEEK_IOC_RESET`, CAP_SYS_ADMIN).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Reset {
    pub size: u32,
    /// `TARGET_*`.
    pub target: u32,
    /// Group or counter id; 0 for [`TARGET_ALL`].
    pub id: u64,
}

/// `struct kpeek_create` (`KPEEK_IOC_CREATE`, CAP_SYS_ADMIN).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Create {
    pub size: u32,
    /// [`TARGET_GROUP`] or [`TARGET_COUNTER`].
    pub target: u32,
    pub group: NameBuf,
    /// [`TARGET_COUNTER`] only; else all zero.
    pub counter: NameBuf,
    /// Out: the new object's id.
    pub id: u64,
}

/// `struct kpeek_destroy` (`KPEEK_IOC_DESTROY`, CAP_SYS_ADMIN).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Destroy {
    pub size: u32,
    /// [`TARGET_GROUP`] or [`TARGET_COUNTER`].
    pub target: u32,
    pub id: u64,
}

/// `KPEEK_PROBE_NETIF_RECEIVE_SKB`: net:netif_receive_skb.
pub const PROBE_NETIF_RECEIVE_SKB: u32 = 1;
/// `KPEEK_PROBE_SCHED_SWITCH`: sched:sched_switch.
pub const PROBE_SCHED_SWITCH: u32 = 2;
/// `KPEEK_PROBE_BLOCK_RQ_ISSUE`: block:block_rq_issue.
pub const PROBE_BLOCK_RQ_ISSUE: u32 = 3;
/// `KPEEK_PROBE_MAX`.
pub const PROBE_MAX: u32 = 3;
/// `KPEEK_RING_MAX_SIZE`: the largest ring data size per CPU.
pub const RING_MAX_SIZE: u32 = 16 << 20;

/// `KPEEK_PROBE_F_ENABLE`: attach (else detach).
pub const PROBE_F_ENABLE: u32 = 1 << 0;
/// `KPEEK_PROBE_F_RING`: also write records into the event rings.
pub const PROBE_F_RING: u32 = 1 << 1;
/// `KPEEK_FILTER_DEV`: netif: device name equals `dev`.
pub const FILTER_DEV: u32 = 1 << 0;
/// `KPEEK_FILTER_PID`: sched: prev or next pid; block: current pid.
pub const FILTER_PID: u32 = 1 << 1;
/// `KPEEK_FILTER_MINLEN`: netif: `skb->len >= min_len`; block: bytes.
pub const FILTER_MINLEN: u32 = 1 << 2;

/// `struct kpeek_probe_config` (`KPEEK_IOC_PROBE_SET`, `KPEEK_IOC_PROBE_GET`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct ProbeConfig {
    pub size: u32,
    /// `PROBE_*`.
    pub probe: u32,
    /// `PROBE_F_*`.
    pub flags: u32,
    /// `FILTER_*` bits that are set.
    pub filter: u32,
    pub pid: i32,
    pub min_len: u32,
    /// IFNAMSIZ, NUL-terminated.
    pub dev: [u8; 16],
    /// Out (PROBE_GET): events seen.
    pub hits: u64,
    /// Out (PROBE_GET): events that passed the filter.
    pub matched: u64,
}

/// `struct kpeek_ring_config` (`KPEEK_IOC_RING_SETUP`, CAP_SYS_ADMIN).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RingConfig {
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// Bytes of data per CPU: a power of two, >= PAGE_SIZE, <= [`RING_MAX_SIZE`]; 0 frees them.
    pub data_size: u32,
    /// poll() reports POLLIN when a ring holds at least this many bytes (0: any record).
    pub watermark: u32,
}

/// `struct kpeek_ring_consume` (`KPEEK_IOC_RING_CONSUME`, the rings' owner only): the reader is
/// done with every byte of `cpu`'s ring before `tail`. The ring mapping is read-only (ABI 4), so
/// this ioctl is how a consumer hands space back to the producer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RingConsume {
    pub size: u32,
    pub cpu: u32,
    /// The new tail: a multiple of 8 between the ring's current tail and head.
    pub tail: u32,
    /// Must be 0.
    pub flags: u32,
}

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)` of asm-generic/ioctl.h (x86, arm64, riscv: 2 direction bits,
/// 14 size bits, 8 type bits, 8 number bits).
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1 << 14));
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
}

const fn io(nr: u8) -> u32 {
    ioc(IOC_NONE, IOC_MAGIC, nr, 0)
}
const fn iow<T>(nr: u8) -> u32 {
    ioc(IOC_WRITE, IOC_MAGIC, nr, size_of::<T>())
}
const fn iowr<T>(nr: u8) -> u32 {
    ioc(IOC_READ | IOC_WRITE, IOC_MAGIC, nr, size_of::<T>())
}

/// `KPEEK_IOC_INFO`: `_IOWR(0xBE, 0x00, struct kpeek_info)`.
pub const IOC_INFO: u32 = iowr::<Info>(0x00);
/// `KPEEK_IOC_GET_COUNTER`.
pub const IOC_GET_COUNTER: u32 = iowr::<CounterGet>(0x01);
/// `KPEEK_IOC_GET_COUNTERS`.
pub const IOC_GET_COUNTERS: u32 = iowr::<CountersGet>(0x02);
/// `KPEEK_IOC_RESET`.
pub const IOC_RESET: u32 = iow::<Reset>(0x03);
/// `KPEEK_IOC_CREATE`.
pub const IOC_CREATE: u32 = iowr::<Create>(0x04);
/// `KPEEK_IOC_DESTROY`.
pub const IOC_DESTROY: u32 = iow::<Destroy>(0x05);
/// `KPEEK_IOC_PROBE_SET`.
pub const IOC_PROBE_SET: u32 = iow::<ProbeConfig>(0x06);
/// `KPEEK_IOC_PROBE_GET`.
pub const IOC_PROBE_GET: u32 = iowr::<ProbeConfig>(0x07);
/// `KPEEK_IOC_RING_SETUP`.
pub const IOC_RING_SETUP: u32 = iow::<RingConfig>(0x08);
/// `KPEEK_IOC_MMAP_SYNC`: refresh the counter mapping now.
pub const IOC_MMAP_SYNC: u32 = io(0x09);
/// `KPEEK_IOC_RING_CONSUME`: `_IOW(0xBE, 0x0B, struct kpeek_ring_consume)`.
pub const IOC_RING_CONSUME: u32 = iow::<RingConsume>(0x0B);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_follow_asm_generic() {
        // _IOWR('T'... style by hand: dir 3, size 48, type 0xBE, nr 0.
        assert_eq!(IOC_INFO, (3 << 30) | (48 << 16) | (0xBE << 8));
        assert_eq!(IOC_MMAP_SYNC, 0xBE09);
        assert_eq!(
            IOC_RING_CONSUME,
            (1 << 30) | (16 << 16) | (0xBE << 8) | 0x0B
        );
        assert_eq!(IOC_RESET >> 30, 1);
    }

    #[test]
    fn cstr_fields() {
        let b: NameBuf = to_cbuf("abc").unwrap();
        assert_eq!(cstr(&b), Some("abc"));
        assert_eq!(cstr(b"no nul"), Some("no nul"));
        assert_eq!(cstr(b"\xff\0"), None);
        assert!(to_cbuf::<4>("abcd").is_none());
        assert!(to_cbuf::<8>("a\0b").is_none());
        assert_eq!(to_cbuf::<4>("abc"), Some(*b"abc\0"));
    }
}
