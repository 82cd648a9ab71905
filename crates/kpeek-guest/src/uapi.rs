//! The ABI-v2 byte layouts the raw test programs need (ring-stress, the fuzzers, the bench's
//! raw paths): ioctl numbers, struct sizes and field offsets, mmap offsets and the ring and record
//! layouts of `kmod/include/uapi/kpeek.h`.
//!
//! The fuzzers must be able to send *any* bytes, so they work on byte buffers with these
//! offsets rather than on typed structs. Every number here is derived from kpeek-abi's typed
//! mirror (itself checked against the C header): there is no third copy to keep in step, so
//! a layout change cannot leave the fuzzers silently sending stale structs.

#![allow(dead_code)] // a layout table: not every program uses every row

use std::mem::{offset_of, size_of};

use kpeek_abi::dev as d;
use kpeek_abi::genl::{attr as a, cmd as c};
use kpeek_abi::mmap as m;

pub const DEV_PATH: &str = d::DEV_PATH;
pub const NAME_LEN: usize = size_of::<d::NameBuf>(); // KPEEK_NAME_MAX + 1

// ---- ioctl numbers (asm-generic/ioctl.h encoding, x86_64) ----------------------------------
pub const IOC_MAGIC: u32 = d::IOC_MAGIC as u32;

/// `_IOC(dir, type, nr, size)`, for numbers the fuzzers make up.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | ((size & 0x3fff) << 16) | ((ty & 0xff) << 8) | (nr & 0xff)
}

// struct sizes
pub const INFO_SIZE: usize = size_of::<d::Info>();
pub const COUNTER_REC_SIZE: usize = size_of::<d::CounterRec>();
pub const COUNTER_GET_SIZE: usize = size_of::<d::CounterGet>();
pub const COUNTERS_GET_SIZE: usize = size_of::<d::CountersGet>();
pub const RESET_SIZE: usize = size_of::<d::Reset>();
pub const CREATE_SIZE: usize = size_of::<d::Create>();
pub const DESTROY_SIZE: usize = size_of::<d::Destroy>();
pub const PROBE_CONFIG_SIZE: usize = size_of::<d::ProbeConfig>();
pub const RING_CONFIG_SIZE: usize = size_of::<d::RingConfig>();
pub const RING_CONSUME_SIZE: usize = size_of::<d::RingConsume>();
pub const SNAP_HEADER_SIZE: usize = size_of::<d::SnapHeader>();

pub const IOC_INFO: u32 = d::IOC_INFO;
pub const IOC_GET_COUNTER: u32 = d::IOC_GET_COUNTER;
pub const IOC_GET_COUNTERS: u32 = d::IOC_GET_COUNTERS;
pub const IOC_RESET: u32 = d::IOC_RESET;
pub const IOC_CREATE: u32 = d::IOC_CREATE;
pub const IOC_DESTROY: u32 = d::IOC_DESTROY;
pub const IOC_PROBE_SET: u32 = d::IOC_PROBE_SET;
pub const IOC_PROBE_GET: u32 = d::IOC_PROBE_GET;
pub const IOC_RING_SETUP: u32 = d::IOC_RING_SETUP;
pub const IOC_MMAP_SYNC: u32 = d::IOC_MMAP_SYNC;
pub const IOC_RING_CONSUME: u32 = d::IOC_RING_CONSUME;
/// The highest ioctl number in use (KPEEK_IOC_RING_CONSUME; KPEEK_IOC_PEEK, 0x0A, is left alone
/// by the ioctl fuzzer: it writes to a user pointer in its argument).
pub const IOC_NR_MAX: u32 = d::IOC_RING_CONSUME & 0xff;

/// Every command with its struct size (0: no argument) and whether it changes state (needs
/// CAP_SYS_ADMIN).
pub const IOCTLS: [(u32, usize, bool, &str); 11] = [
    (IOC_INFO, INFO_SIZE, false, "INFO"),
    (IOC_GET_COUNTER, COUNTER_GET_SIZE, false, "GET_COUNTER"),
    (IOC_GET_COUNTERS, COUNTERS_GET_SIZE, false, "GET_COUNTERS"),
    (IOC_RESET, RESET_SIZE, true, "RESET"),
    (IOC_CREATE, CREATE_SIZE, true, "CREATE"),
    (IOC_DESTROY, DESTROY_SIZE, true, "DESTROY"),
    (IOC_PROBE_SET, PROBE_CONFIG_SIZE, true, "PROBE_SET"),
    (IOC_PROBE_GET, PROBE_CONFIG_SIZE, false, "PROBE_GET"),
    (IOC_RING_SETUP, RING_CONFIG_SIZE, true, "RING_SETUP"),
    (IOC_MMAP_SYNC, 0, false, "MMAP_SYNC"),
    // No capability: only the rings' owner may (EBUSY for others).
    (IOC_RING_CONSUME, RING_CONSUME_SIZE, false, "RING_CONSUME"),
];

// struct kpeek_info offsets
pub mod info {
    use super::{d, offset_of};
    pub const SIZE: usize = offset_of!(d::Info, size);
    pub const ABI_VERSION: usize = offset_of!(d::Info, abi_version);
    pub const NR_CPUS: usize = offset_of!(d::Info, nr_cpus);
    pub const MAX_GROUPS: usize = offset_of!(d::Info, max_groups);
    pub const MAX_COUNTERS: usize = offset_of!(d::Info, max_counters);
    pub const GROUPS: usize = offset_of!(d::Info, groups);
    pub const COUNTERS: usize = offset_of!(d::Info, counters);
    pub const MMAP_COUNTERS_SIZE: usize = offset_of!(d::Info, mmap_counters_size);
    pub const GENERATION: usize = offset_of!(d::Info, generation);
    pub const RING_DATA_SIZE: usize = offset_of!(d::Info, ring_data_size);
    pub const RESERVED: usize = offset_of!(d::Info, reserved);
}

// struct kpeek_counter_rec offsets
pub mod rec {
    use super::{d, offset_of};
    pub const ID: usize = offset_of!(d::CounterRec, id);
    pub const GROUP_ID: usize = offset_of!(d::CounterRec, group_id);
    pub const VALUE: usize = offset_of!(d::CounterRec, value);
    pub const GROUP: usize = offset_of!(d::CounterRec, group);
    pub const COUNTER: usize = offset_of!(d::CounterRec, counter);
}

// struct kpeek_counters_get offsets
pub mod counters_get {
    use super::{d, offset_of};
    pub const SIZE: usize = offset_of!(d::CountersGet, size);
    pub const FLAGS: usize = offset_of!(d::CountersGet, flags);
    pub const RECS: usize = offset_of!(d::CountersGet, recs);
    pub const CAPACITY: usize = offset_of!(d::CountersGet, capacity);
    pub const COUNT: usize = offset_of!(d::CountersGet, count);
    pub const START: usize = offset_of!(d::CountersGet, start);
    pub const TOTAL: usize = offset_of!(d::CountersGet, total);
    pub const GENERATION: usize = offset_of!(d::CountersGet, generation);
}

pub const TARGET_ALL: u32 = d::TARGET_ALL;
pub const TARGET_GROUP: u32 = d::TARGET_GROUP;
pub const TARGET_COUNTER: u32 = d::TARGET_COUNTER;

// struct kpeek_create offsets
pub mod create {
    use super::{d, offset_of};
    pub const SIZE: usize = offset_of!(d::Create, size);
    pub const TARGET: usize = offset_of!(d::Create, target);
    pub const GROUP: usize = offset_of!(d::Create, group);
    pub const COUNTER: usize = offset_of!(d::Create, counter);
    pub const ID: usize = offset_of!(d::Create, id);
}

// struct kpeek_probe_config offsets
pub mod probe {
    use super::{d, offset_of};
    pub const SIZE: usize = offset_of!(d::ProbeConfig, size);
    pub const PROBE: usize = offset_of!(d::ProbeConfig, probe);
    pub const FLAGS: usize = offset_of!(d::ProbeConfig, flags);
    pub const FILTER: usize = offset_of!(d::ProbeConfig, filter);
    pub const PID: usize = offset_of!(d::ProbeConfig, pid);
    pub const MIN_LEN: usize = offset_of!(d::ProbeConfig, min_len);
    pub const DEV: usize = offset_of!(d::ProbeConfig, dev);
    pub const HITS: usize = offset_of!(d::ProbeConfig, hits);
    pub const MATCHED: usize = offset_of!(d::ProbeConfig, matched);
}

pub const PROBE_NETIF_RECEIVE_SKB: u32 = d::PROBE_NETIF_RECEIVE_SKB;
pub const PROBE_SCHED_SWITCH: u32 = d::PROBE_SCHED_SWITCH;
pub const PROBE_BLOCK_RQ_ISSUE: u32 = d::PROBE_BLOCK_RQ_ISSUE;
pub const PROBE_MAX: u32 = d::PROBE_MAX;
pub const PROBE_F_ENABLE: u32 = d::PROBE_F_ENABLE;
pub const PROBE_F_RING: u32 = d::PROBE_F_RING;
pub const FILTER_DEV: u32 = d::FILTER_DEV;
pub const FILTER_PID: u32 = d::FILTER_PID;
pub const FILTER_MINLEN: u32 = d::FILTER_MINLEN;

// ---- mmap ------------------------------------------------------------------------------------
pub const MMAP_COUNTERS: u64 = m::MMAP_COUNTERS;
pub const fn mmap_ring(cpu: u32) -> u64 {
    m::mmap_ring(cpu)
}
pub const MMAP_MAGIC: u32 = m::MMAP_MAGIC;
pub const MMAP_HEADER_SIZE: usize = size_of::<m::MmapCounters>();
pub const MMAP_SLOT_SIZE: usize = size_of::<m::MmapSlot>();
pub mod mmap_hdr {
    use super::{m, offset_of};
    pub const MAGIC: usize = offset_of!(m::MmapCounters, magic);
    pub const SEQ: usize = offset_of!(m::MmapCounters, seq);
    pub const COUNT: usize = offset_of!(m::MmapCounters, count);
    pub const CAPACITY: usize = offset_of!(m::MmapCounters, capacity);
    pub const GENERATION: usize = offset_of!(m::MmapCounters, generation);
    pub const REFRESH_NS: usize = offset_of!(m::MmapCounters, refresh_ns);
}

pub const RING_MAGIC: u32 = m::RING_MAGIC;
pub const RING_HEADER_SIZE: usize = size_of::<m::RingHeader>();
pub mod ring_hdr {
    use super::{m, offset_of};
    pub const MAGIC: usize = offset_of!(m::RingHeader, magic);
    pub const CPU: usize = offset_of!(m::RingHeader, cpu);
    pub const DATA_OFFSET: usize = offset_of!(m::RingHeader, data_offset);
    pub const DATA_SIZE: usize = offset_of!(m::RingHeader, data_size);
    pub const LOST: usize = offset_of!(m::RingHeader, lost);
    pub const WRITTEN: usize = offset_of!(m::RingHeader, written);
    pub const WATERMARK: usize = offset_of!(m::RingHeader, watermark);
    /// A u32 since ABI 3.
    pub const HEAD: usize = offset_of!(m::RingHeader, head);
    /// A u32 since ABI 3.
    pub const TAIL: usize = offset_of!(m::RingHeader, tail);
}

pub const REC_PAD: u16 = m::REC_PAD;
pub const REC_NETIF_RECEIVE_SKB: u16 = m::REC_NETIF_RECEIVE_SKB;
pub const REC_SCHED_SWITCH: u16 = m::REC_SCHED_SWITCH;
pub const REC_BLOCK_RQ_ISSUE: u16 = m::REC_BLOCK_RQ_ISSUE;
pub const REC_HEADER_SIZE: usize = size_of::<m::RecHeader>();
pub const REC_NETIF_SIZE: usize = size_of::<m::RecNetif>();
pub const REC_SCHED_SWITCH_SIZE: usize = size_of::<m::RecSchedSwitch>();
pub const REC_BLOCK_RQ_SIZE: usize = size_of::<m::RecBlockRq>();
/// `struct kpeek_rec_header`: type and len first, so that a PAD record can be 8 or 16 bytes
/// (only type and len are meaningful in a PAD; PAD records take no seq number).
pub mod rec_hdr {
    use super::{m, offset_of};
    pub const TYPE: usize = offset_of!(m::RecHeader, ty);
    pub const LEN: usize = offset_of!(m::RecHeader, len);
    pub const SEQ: usize = offset_of!(m::RecHeader, seq);
    pub const TS_NS: usize = offset_of!(m::RecHeader, ts_ns);
    pub const CPU: usize = offset_of!(m::RecHeader, cpu);
    pub const PID: usize = offset_of!(m::RecHeader, pid);
}
/// `struct kpeek_rec_netif` payload offsets (from the record's start).
pub mod rec_netif {
    use super::{m, offset_of};
    pub const DEV: usize = offset_of!(m::RecNetif, dev);
    pub const LEN: usize = offset_of!(m::RecNetif, len);
    pub const PROTOCOL: usize = offset_of!(m::RecNetif, protocol);
}
/// `struct kpeek_rec_sched_switch` payload offsets.
pub mod rec_sched {
    use super::{m, offset_of};
    pub const PREV_COMM: usize = offset_of!(m::RecSchedSwitch, prev_comm);
    pub const NEXT_COMM: usize = offset_of!(m::RecSchedSwitch, next_comm);
    pub const PREV_PID: usize = offset_of!(m::RecSchedSwitch, prev_pid);
    pub const NEXT_PID: usize = offset_of!(m::RecSchedSwitch, next_pid);
    pub const PREV_STATE: usize = offset_of!(m::RecSchedSwitch, prev_state);
}

// ---- generic netlink -------------------------------------------------------------------------
pub const GENL_NAME: &str = kpeek_abi::genl::GENL_NAME;
pub const GENL_VERSION: u8 = kpeek_abi::genl::GENL_VERSION;
pub const GENL_MCGRP_EVENTS: &str = kpeek_abi::genl::GENL_MCGRP_EVENTS;

pub const CMD_GET_INFO: u8 = c::GET_INFO;
pub const CMD_GET_COUNTER: u8 = c::GET_COUNTER;
pub const CMD_GET_COUNTERS: u8 = c::GET_COUNTERS;
pub const CMD_RESET: u8 = c::RESET;
pub const CMD_CREATE: u8 = c::CREATE;
pub const CMD_DESTROY: u8 = c::DESTROY;
pub const CMD_SET_THRESHOLD: u8 = c::SET_THRESHOLD;
pub const CMD_PROBE_SET: u8 = c::PROBE_SET;
pub const CMD_EVENT: u8 = c::EVENT;
/// Reads kernel memory (CAP_SYS_RAWIO); the fuzzers reach it through `CMD_MAX`.
pub const CMD_PEEK: u8 = c::PEEK;
pub const CMD_MAX: u8 = c::MAX;
/// Commands that change state (CAP_SYS_ADMIN).
pub const MUTATING_CMDS: [u8; 5] = [
    CMD_RESET,
    CMD_CREATE,
    CMD_DESTROY,
    CMD_SET_THRESHOLD,
    CMD_PROBE_SET,
];

pub const A_PAD: u16 = a::PAD;
pub const A_ABI_VERSION: u16 = a::ABI_VERSION;
pub const A_GROUPS: u16 = a::GROUPS;
pub const A_COUNTERS: u16 = a::COUNTERS;
pub const A_GENERATION: u16 = a::GENERATION;
pub const A_TARGET: u16 = a::TARGET;
pub const A_ID: u16 = a::ID;
pub const A_GROUP_ID: u16 = a::GROUP_ID;
pub const A_GROUP: u16 = a::GROUP;
pub const A_COUNTER: u16 = a::COUNTER;
pub const A_VALUE: u16 = a::VALUE;
pub const A_THRESHOLD: u16 = a::THRESHOLD;
pub const A_EVENT: u16 = a::EVENT;
pub const A_PROBE: u16 = a::PROBE;
pub const A_PROBE_FLAGS: u16 = a::PROBE_FLAGS;
pub const A_FILTER_DEV: u16 = a::FILTER_DEV;
pub const A_FILTER_PID: u16 = a::FILTER_PID;
pub const A_FILTER_MINLEN: u16 = a::FILTER_MINLEN;
pub const A_PEEK_NAME: u16 = a::PEEK_NAME;
pub const A_PEEK_ADDR: u16 = a::PEEK_ADDR;
pub const A_PEEK_OFFSET: u16 = a::PEEK_OFFSET;
pub const A_PEEK_LEN: u16 = a::PEEK_LEN;
pub const A_PEEK_SIZE: u16 = a::PEEK_SIZE;
pub const A_PEEK_DATA: u16 = a::PEEK_DATA;
pub const A_MAX: u16 = a::MAX;

// ---- byte helpers ----------------------------------------------------------------------------
pub fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}
pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}
pub fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}
pub fn get_u16(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(b[off..off + 2].try_into().unwrap())
}
pub fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}
pub fn get_u64(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().unwrap())
}
/// A NUL-terminated name field: the text before the first NUL.
pub fn get_name(b: &[u8], off: usize, len: usize) -> String {
    let f = &b[off..off + len];
    let end = f.iter().position(|&c| c == 0).unwrap_or(len);
    String::from_utf8_lossy(&f[..end]).into_owned()
}
/// Copy `name` into a zeroed field of `len` bytes (truncated to leave the NUL).
pub fn put_name(b: &mut [u8], off: usize, len: usize, name: &str) {
    b[off..off + len].fill(0);
    let n = name.len().min(len - 1);
    b[off..off + n].copy_from_slice(&name.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    //! The numbers above are derived from kpeek-abi's typed mirror (itself checked against the
    //! C header by kpeek-abi's abi_vs_c test). What is left to check here is what the raw
    //! programs add on their own: the ioctl encoding they use for made-up numbers, and a few
    //! known answers of the layout they depend on most.
    use super::*;

    #[test]
    fn the_raw_ioctl_encoding_matches_the_typed_one() {
        for (cmd, size, _, name) in IOCTLS {
            let dir = cmd >> 30;
            assert_eq!(ioc(dir, IOC_MAGIC, cmd & 0xff, size as u32), cmd, "{name}");
        }
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            (INFO_SIZE, COUNTER_REC_SIZE, RING_HEADER_SIZE),
            (48, 88, 192)
        );
        assert_eq!((ring_hdr::HEAD, ring_hdr::TAIL), (64, 128));
        assert_eq!((rec_hdr::TYPE, rec_hdr::LEN, REC_HEADER_SIZE), (0, 2, 24));
        assert_eq!((IOC_NR_MAX, CMD_MAX, A_MAX), (0x0B, 10, 24));
    }
}
