//! The ABI-v2 byte layouts the raw test programs need (ring-stress, the fuzzers, the bench's
//! raw paths): ioctl numbers, struct sizes and field offsets, mmap offsets and the ring and record
//! layouts of `kmod/include/uapi/kpeek.h`.
//!
//! The fuzzers must be able to send *any* bytes, so they work on byte buffers with these
//! offsets rather than on typed structs; `tests` checks every number here against kpeek-abi's
//! typed mirror (which is itself checked against the C header), so a layout change cannot leave
//! the fuzzers silently sending stale structs.

#![allow(dead_code)] // a layout table: not every program uses every row

pub const DEV_PATH: &str = "/dev/kpeek";
pub const NAME_LEN: usize = 32; // KPEEK_NAME_MAX + 1

// ---- ioctl numbers (asm-generic/ioctl.h encoding, x86_64) ----------------------------------
pub const IOC_MAGIC: u32 = 0xBE;
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | ((size & 0x3fff) << 16) | ((ty & 0xff) << 8) | (nr & 0xff)
}
const fn iowr(nr: u32, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, IOC_MAGIC, nr, size as u32)
}
const fn iow(nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE, IOC_MAGIC, nr, size as u32)
}

// struct sizes
pub const INFO_SIZE: usize = 48;
pub const COUNTER_REC_SIZE: usize = 88;
pub const COUNTER_GET_SIZE: usize = 104;
pub const COUNTERS_GET_SIZE: usize = 40;
pub const RESET_SIZE: usize = 16;
pub const CREATE_SIZE: usize = 80;
pub const DESTROY_SIZE: usize = 16;
pub const PROBE_CONFIG_SIZE: usize = 56;
pub const RING_CONFIG_SIZE: usize = 16;
pub const SNAP_HEADER_SIZE: usize = 24;

pub const IOC_INFO: u32 = iowr(0x00, INFO_SIZE);
pub const IOC_GET_COUNTER: u32 = iowr(0x01, COUNTER_GET_SIZE);
pub const IOC_GET_COUNTERS: u32 = iowr(0x02, COUNTERS_GET_SIZE);
pub const IOC_RESET: u32 = iow(0x03, RESET_SIZE);
pub const IOC_CREATE: u32 = iowr(0x04, CREATE_SIZE);
pub const IOC_DESTROY: u32 = iow(0x05, DESTROY_SIZE);
pub const IOC_PROBE_SET: u32 = iow(0x06, PROBE_CONFIG_SIZE);
pub const IOC_PROBE_GET: u32 = iowr(0x07, PROBE_CONFIG_SIZE);
pub const IOC_RING_SETUP: u32 = iow(0x08, RING_CONFIG_SIZE);
pub const IOC_MMAP_SYNC: u32 = ioc(IOC_NONE, IOC_MAGIC, 0x09, 0);
/// Highest command number in use.
/// The highest ioctl number in use (KPEEK_IOC_PEEK, which the ioctl fuzzer leaves alone: it
/// writes to a user pointer in its argument).
pub const IOC_NR_MAX: u32 = 0x0A;

/// Every command with its struct size (0: no argument) and whether it changes state (needs
/// CAP_SYS_ADMIN).
pub const IOCTLS: [(u32, usize, bool, &str); 10] = [
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
];

// struct kpeek_info offsets
pub mod info {
    pub const SIZE: usize = 0;
    pub const ABI_VERSION: usize = 4;
    pub const NR_CPUS: usize = 8;
    pub const MAX_GROUPS: usize = 12;
    pub const MAX_COUNTERS: usize = 16;
    pub const GROUPS: usize = 20;
    pub const COUNTERS: usize = 24;
    pub const MMAP_COUNTERS_SIZE: usize = 28;
    pub const GENERATION: usize = 32;
    pub const RING_DATA_SIZE: usize = 40;
    pub const RESERVED: usize = 44;
}

// struct kpeek_counter_rec offsets
pub mod rec {
    pub const ID: usize = 0;
    pub const GROUP_ID: usize = 8;
    pub const VALUE: usize = 16;
    pub const GROUP: usize = 24;
    pub const COUNTER: usize = 56;
}

// struct kpeek_counters_get offsets
pub mod counters_get {
    pub const SIZE: usize = 0;
    pub const FLAGS: usize = 4;
    pub const RECS: usize = 8;
    pub const CAPACITY: usize = 16;
    pub const COUNT: usize = 20;
    pub const START: usize = 24;
    pub const TOTAL: usize = 28;
    pub const GENERATION: usize = 32;
}

pub const TARGET_ALL: u32 = 0;
pub const TARGET_GROUP: u32 = 1;
pub const TARGET_COUNTER: u32 = 2;

// struct kpeek_create offsets
pub mod create {
    pub const SIZE: usize = 0;
    pub const TARGET: usize = 4;
    pub const GROUP: usize = 8;
    pub const COUNTER: usize = 40;
    pub const ID: usize = 72;
}

// struct kpeek_probe_config offsets
pub mod probe {
    pub const SIZE: usize = 0;
    pub const PROBE: usize = 4;
    pub const FLAGS: usize = 8;
    pub const FILTER: usize = 12;
    pub const PID: usize = 16;
    pub const MIN_LEN: usize = 20;
    pub const DEV: usize = 24;
    pub const HITS: usize = 40;
    pub const MATCHED: usize = 48;
}

pub const PROBE_NETIF_RECEIVE_SKB: u32 = 1;
pub const PROBE_SCHED_SWITCH: u32 = 2;
pub const PROBE_BLOCK_RQ_ISSUE: u32 = 3;
pub const PROBE_MAX: u32 = 3;
pub const PROBE_F_ENABLE: u32 = 1;
pub const PROBE_F_RING: u32 = 2;
pub const FILTER_DEV: u32 = 1;
pub const FILTER_PID: u32 = 2;
pub const FILTER_MINLEN: u32 = 4;

// ---- mmap ------------------------------------------------------------------------------------
pub const MMAP_COUNTERS: u64 = 0;
pub const fn mmap_ring(cpu: u32) -> u64 {
    (cpu as u64 + 1) << 32
}
pub const MMAP_MAGIC: u32 = 0x4b50_4d43;
pub const MMAP_HEADER_SIZE: usize = 32;
pub const MMAP_SLOT_SIZE: usize = 80;
pub mod mmap_hdr {
    pub const MAGIC: usize = 0;
    pub const SEQ: usize = 4;
    pub const COUNT: usize = 8;
    pub const CAPACITY: usize = 12;
    pub const GENERATION: usize = 16;
    pub const REFRESH_NS: usize = 24;
}

pub const RING_MAGIC: u32 = 0x4b50_5247;
pub const RING_HEADER_SIZE: usize = 192;
pub mod ring_hdr {
    pub const MAGIC: usize = 0;
    pub const CPU: usize = 4;
    pub const DATA_OFFSET: usize = 8;
    pub const DATA_SIZE: usize = 12;
    pub const LOST: usize = 16;
    pub const WRITTEN: usize = 24;
    pub const WATERMARK: usize = 32;
    pub const HEAD: usize = 64;
    pub const TAIL: usize = 128;
}

pub const REC_PAD: u16 = 0;
pub const REC_NETIF_RECEIVE_SKB: u16 = 1;
pub const REC_SCHED_SWITCH: u16 = 2;
pub const REC_BLOCK_RQ_ISSUE: u16 = 3;
pub const REC_HEADER_SIZE: usize = 24;
pub const REC_NETIF_SIZE: usize = 48;
pub const REC_SCHED_SWITCH_SIZE: usize = 72;
pub const REC_BLOCK_RQ_SIZE: usize = 48;
/// `struct kpeek_rec_header` as K-DEV reordered it (abi-v2-changes.md): type and len first, so
/// that a PAD record can be 8 or 16 bytes (only type and len are meaningful in a PAD; PAD
/// records take no seq number).
pub mod rec_hdr {
    pub const TYPE: usize = 0;
    pub const LEN: usize = 2;
    pub const SEQ: usize = 4;
    pub const TS_NS: usize = 8;
    pub const CPU: usize = 16;
    pub const PID: usize = 20;
}
/// `struct kpeek_rec_netif` payload offsets (after the header).
pub mod rec_netif {
    pub const DEV: usize = 24;
    pub const LEN: usize = 40;
    pub const PROTOCOL: usize = 44;
}
/// `struct kpeek_rec_sched_switch` payload offsets.
pub mod rec_sched {
    pub const PREV_COMM: usize = 24;
    pub const NEXT_COMM: usize = 40;
    pub const PREV_PID: usize = 56;
    pub const NEXT_PID: usize = 60;
    pub const PREV_STATE: usize = 64;
}

// ---- generic netlink -------------------------------------------------------------------------
pub const GENL_NAME: &str = "kpeek";
pub const GENL_VERSION: u8 = 1;
pub const GENL_MCGRP_EVENTS: &str = "events";

pub const CMD_GET_INFO: u8 = 1;
pub const CMD_GET_COUNTER: u8 = 2;
pub const CMD_GET_COUNTERS: u8 = 3;
pub const CMD_RESET: u8 = 4;
pub const CMD_CREATE: u8 = 5;
pub const CMD_DESTROY: u8 = 6;
pub const CMD_SET_THRESHOLD: u8 = 7;
pub const CMD_PROBE_SET: u8 = 8;
pub const CMD_EVENT: u8 = 9;
/// Reads kernel memory (CAP_SYS_RAWIO); the fuzzers reach it through `CMD_MAX`.
pub const CMD_PEEK: u8 = 10;
pub const CMD_MAX: u8 = 10;
/// Commands that change state (CAP_SYS_ADMIN).
pub const MUTATING_CMDS: [u8; 5] = [
    CMD_RESET,
    CMD_CREATE,
    CMD_DESTROY,
    CMD_SET_THRESHOLD,
    CMD_PROBE_SET,
];

pub const A_PAD: u16 = 1;
pub const A_ABI_VERSION: u16 = 2;
pub const A_GROUPS: u16 = 3;
pub const A_COUNTERS: u16 = 4;
pub const A_GENERATION: u16 = 5;
pub const A_TARGET: u16 = 6;
pub const A_ID: u16 = 7;
pub const A_GROUP_ID: u16 = 8;
pub const A_GROUP: u16 = 9;
pub const A_COUNTER: u16 = 10;
pub const A_VALUE: u16 = 11;
pub const A_THRESHOLD: u16 = 12;
pub const A_EVENT: u16 = 13;
pub const A_PROBE: u16 = 14;
pub const A_PROBE_FLAGS: u16 = 15;
pub const A_FILTER_DEV: u16 = 16;
pub const A_FILTER_PID: u16 = 17;
pub const A_FILTER_MINLEN: u16 = 18;
pub const A_PEEK_NAME: u16 = 19;
pub const A_PEEK_ADDR: u16 = 20;
pub const A_PEEK_OFFSET: u16 = 21;
pub const A_PEEK_LEN: u16 = 22;
pub const A_PEEK_SIZE: u16 = 23;
pub const A_PEEK_DATA: u16 = 24;
pub const A_MAX: u16 = 24;

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
    //! Every number above against kpeek-abi's typed mirror (itself checked against the C header
    //! by kpeek-abi's abi_vs_c test): a layout change cannot leave the raw programs behind.
    use std::mem::{offset_of, size_of};

    use kpeek_abi::{dev as d, genl as g, mmap as m};

    use super::*;

    #[test]
    fn sizes_match_the_typed_mirror() {
        assert_eq!(INFO_SIZE, size_of::<d::Info>());
        assert_eq!(COUNTER_REC_SIZE, size_of::<d::CounterRec>());
        assert_eq!(COUNTER_GET_SIZE, size_of::<d::CounterGet>());
        assert_eq!(COUNTERS_GET_SIZE, size_of::<d::CountersGet>());
        assert_eq!(RESET_SIZE, size_of::<d::Reset>());
        assert_eq!(CREATE_SIZE, size_of::<d::Create>());
        assert_eq!(DESTROY_SIZE, size_of::<d::Destroy>());
        assert_eq!(PROBE_CONFIG_SIZE, size_of::<d::ProbeConfig>());
        assert_eq!(RING_CONFIG_SIZE, size_of::<d::RingConfig>());
        assert_eq!(SNAP_HEADER_SIZE, size_of::<d::SnapHeader>());
        assert_eq!(NAME_LEN, size_of::<d::NameBuf>());
        assert_eq!(MMAP_HEADER_SIZE, size_of::<m::MmapCounters>());
        assert_eq!(MMAP_SLOT_SIZE, size_of::<m::MmapSlot>());
        assert_eq!(RING_HEADER_SIZE, size_of::<m::RingHeader>());
        assert_eq!(REC_HEADER_SIZE, size_of::<m::RecHeader>());
        assert_eq!(REC_NETIF_SIZE, size_of::<m::RecNetif>());
        assert_eq!(REC_SCHED_SWITCH_SIZE, size_of::<m::RecSchedSwitch>());
        assert_eq!(REC_BLOCK_RQ_SIZE, size_of::<m::RecBlockRq>());
    }

    #[test]
    fn offsets_match_the_typed_mirror() {
        assert_eq!(info::NR_CPUS, offset_of!(d::Info, nr_cpus));
        assert_eq!(info::GROUPS, offset_of!(d::Info, groups));
        assert_eq!(info::COUNTERS, offset_of!(d::Info, counters));
        assert_eq!(
            info::MMAP_COUNTERS_SIZE,
            offset_of!(d::Info, mmap_counters_size)
        );
        assert_eq!(info::GENERATION, offset_of!(d::Info, generation));
        assert_eq!(info::RING_DATA_SIZE, offset_of!(d::Info, ring_data_size));
        assert_eq!(info::RESERVED, offset_of!(d::Info, reserved));
        assert_eq!(rec::GROUP_ID, offset_of!(d::CounterRec, group_id));
        assert_eq!(rec::VALUE, offset_of!(d::CounterRec, value));
        assert_eq!(rec::GROUP, offset_of!(d::CounterRec, group));
        assert_eq!(rec::COUNTER, offset_of!(d::CounterRec, counter));
        assert_eq!(counters_get::RECS, offset_of!(d::CountersGet, recs));
        assert_eq!(counters_get::CAPACITY, offset_of!(d::CountersGet, capacity));
        assert_eq!(counters_get::COUNT, offset_of!(d::CountersGet, count));
        assert_eq!(counters_get::START, offset_of!(d::CountersGet, start));
        assert_eq!(counters_get::TOTAL, offset_of!(d::CountersGet, total));
        assert_eq!(
            counters_get::GENERATION,
            offset_of!(d::CountersGet, generation)
        );
        assert_eq!(create::TARGET, offset_of!(d::Create, target));
        assert_eq!(create::GROUP, offset_of!(d::Create, group));
        assert_eq!(create::COUNTER, offset_of!(d::Create, counter));
        assert_eq!(create::ID, offset_of!(d::Create, id));
        assert_eq!(8, offset_of!(d::Reset, id));
        assert_eq!(8, offset_of!(d::Destroy, id));
        assert_eq!(probe::FLAGS, offset_of!(d::ProbeConfig, flags));
        assert_eq!(probe::FILTER, offset_of!(d::ProbeConfig, filter));
        assert_eq!(probe::PID, offset_of!(d::ProbeConfig, pid));
        assert_eq!(probe::MIN_LEN, offset_of!(d::ProbeConfig, min_len));
        assert_eq!(probe::DEV, offset_of!(d::ProbeConfig, dev));
        assert_eq!(probe::HITS, offset_of!(d::ProbeConfig, hits));
        assert_eq!(probe::MATCHED, offset_of!(d::ProbeConfig, matched));
        assert_eq!(8, offset_of!(d::RingConfig, data_size));
        assert_eq!(12, offset_of!(d::RingConfig, watermark));
        assert_eq!(mmap_hdr::SEQ, offset_of!(m::MmapCounters, seq));
        assert_eq!(mmap_hdr::COUNT, offset_of!(m::MmapCounters, count));
        assert_eq!(
            mmap_hdr::GENERATION,
            offset_of!(m::MmapCounters, generation)
        );
        assert_eq!(8, offset_of!(m::MmapSlot, value));
        assert_eq!(16, offset_of!(m::MmapSlot, group));
        assert_eq!(ring_hdr::CPU, offset_of!(m::RingHeader, cpu));
        assert_eq!(
            ring_hdr::DATA_OFFSET,
            offset_of!(m::RingHeader, data_offset)
        );
        assert_eq!(ring_hdr::DATA_SIZE, offset_of!(m::RingHeader, data_size));
        assert_eq!(ring_hdr::LOST, offset_of!(m::RingHeader, lost));
        assert_eq!(ring_hdr::WRITTEN, offset_of!(m::RingHeader, written));
        assert_eq!(ring_hdr::WATERMARK, offset_of!(m::RingHeader, watermark));
        assert_eq!(ring_hdr::HEAD, offset_of!(m::RingHeader, head));
        assert_eq!(ring_hdr::TAIL, offset_of!(m::RingHeader, tail));
        assert_eq!(rec_hdr::TYPE, offset_of!(m::RecHeader, ty));
        assert_eq!(rec_hdr::LEN, offset_of!(m::RecHeader, len));
        assert_eq!(rec_hdr::SEQ, offset_of!(m::RecHeader, seq));
        assert_eq!(rec_hdr::TS_NS, offset_of!(m::RecHeader, ts_ns));
        assert_eq!(rec_hdr::CPU, offset_of!(m::RecHeader, cpu));
        assert_eq!(rec_hdr::PID, offset_of!(m::RecHeader, pid));
        assert_eq!(rec_netif::DEV, offset_of!(m::RecNetif, dev));
        assert_eq!(rec_netif::LEN, offset_of!(m::RecNetif, len));
        assert_eq!(rec_netif::PROTOCOL, offset_of!(m::RecNetif, protocol));
        assert_eq!(
            rec_sched::PREV_COMM,
            offset_of!(m::RecSchedSwitch, prev_comm)
        );
        assert_eq!(
            rec_sched::NEXT_COMM,
            offset_of!(m::RecSchedSwitch, next_comm)
        );
        assert_eq!(rec_sched::PREV_PID, offset_of!(m::RecSchedSwitch, prev_pid));
        assert_eq!(rec_sched::NEXT_PID, offset_of!(m::RecSchedSwitch, next_pid));
        assert_eq!(
            rec_sched::PREV_STATE,
            offset_of!(m::RecSchedSwitch, prev_state)
        );
    }

    #[test]
    fn numbers_match_the_typed_mirror() {
        assert_eq!(DEV_PATH, d::DEV_PATH);
        assert_eq!(IOC_MAGIC, d::IOC_MAGIC as u32);
        let ours = [
            IOC_INFO,
            IOC_GET_COUNTER,
            IOC_GET_COUNTERS,
            IOC_RESET,
            IOC_CREATE,
            IOC_DESTROY,
            IOC_PROBE_SET,
            IOC_PROBE_GET,
            IOC_RING_SETUP,
            IOC_MMAP_SYNC,
        ];
        let theirs = [
            d::IOC_INFO,
            d::IOC_GET_COUNTER,
            d::IOC_GET_COUNTERS,
            d::IOC_RESET,
            d::IOC_CREATE,
            d::IOC_DESTROY,
            d::IOC_PROBE_SET,
            d::IOC_PROBE_GET,
            d::IOC_RING_SETUP,
            d::IOC_MMAP_SYNC,
        ];
        assert_eq!(ours, theirs);
        assert_eq!(IOCTLS.map(|x| x.0), theirs);
        assert_eq!(IOC_NR_MAX, kpeek_abi::peek::IOC_PEEK & 0xff);
        assert_eq!(
            (TARGET_ALL, TARGET_GROUP, TARGET_COUNTER),
            (d::TARGET_ALL, d::TARGET_GROUP, d::TARGET_COUNTER)
        );
        assert_eq!(
            [
                PROBE_NETIF_RECEIVE_SKB,
                PROBE_SCHED_SWITCH,
                PROBE_BLOCK_RQ_ISSUE,
                PROBE_MAX
            ],
            [
                d::PROBE_NETIF_RECEIVE_SKB,
                d::PROBE_SCHED_SWITCH,
                d::PROBE_BLOCK_RQ_ISSUE,
                d::PROBE_MAX
            ]
        );
        assert_eq!(
            [
                PROBE_F_ENABLE,
                PROBE_F_RING,
                FILTER_DEV,
                FILTER_PID,
                FILTER_MINLEN
            ],
            [
                d::PROBE_F_ENABLE,
                d::PROBE_F_RING,
                d::FILTER_DEV,
                d::FILTER_PID,
                d::FILTER_MINLEN
            ]
        );
        assert_eq!(MMAP_COUNTERS, m::MMAP_COUNTERS);
        assert_eq!(mmap_ring(3), m::mmap_ring(3));
        assert_eq!([MMAP_MAGIC, RING_MAGIC], [m::MMAP_MAGIC, m::RING_MAGIC]);
        assert_eq!(
            [
                REC_PAD,
                REC_NETIF_RECEIVE_SKB,
                REC_SCHED_SWITCH,
                REC_BLOCK_RQ_ISSUE
            ],
            [
                m::REC_PAD,
                m::REC_NETIF_RECEIVE_SKB,
                m::REC_SCHED_SWITCH,
                m::REC_BLOCK_RQ_ISSUE
            ]
        );
        assert_eq!((GENL_NAME, GENL_VERSION), (g::GENL_NAME, g::GENL_VERSION));
        assert_eq!(
            [
                CMD_GET_INFO,
                CMD_GET_COUNTER,
                CMD_GET_COUNTERS,
                CMD_RESET,
                CMD_CREATE,
                CMD_DESTROY,
                CMD_SET_THRESHOLD,
                CMD_PROBE_SET,
                CMD_EVENT,
                CMD_PEEK,
                CMD_MAX
            ],
            [
                g::cmd::GET_INFO,
                g::cmd::GET_COUNTER,
                g::cmd::GET_COUNTERS,
                g::cmd::RESET,
                g::cmd::CREATE,
                g::cmd::DESTROY,
                g::cmd::SET_THRESHOLD,
                g::cmd::PROBE_SET,
                g::cmd::EVENT,
                g::cmd::PEEK,
                g::cmd::MAX
            ]
        );
        assert_eq!(
            [
                A_PAD,
                A_ABI_VERSION,
                A_GROUPS,
                A_COUNTERS,
                A_GENERATION,
                A_TARGET,
                A_ID,
                A_GROUP_ID,
                A_GROUP,
                A_COUNTER,
                A_VALUE,
                A_THRESHOLD,
                A_EVENT,
                A_PROBE,
                A_PROBE_FLAGS,
                A_FILTER_DEV,
                A_FILTER_PID,
                A_FILTER_MINLEN,
                A_PEEK_NAME,
                A_PEEK_ADDR,
                A_PEEK_OFFSET,
                A_PEEK_LEN,
                A_PEEK_SIZE,
                A_PEEK_DATA,
                A_MAX
            ],
            [
                g::attr::PAD,
                g::attr::ABI_VERSION,
                g::attr::GROUPS,
                g::attr::COUNTERS,
                g::attr::GENERATION,
                g::attr::TARGET,
                g::attr::ID,
                g::attr::GROUP_ID,
                g::attr::GROUP,
                g::attr::COUNTER,
                g::attr::VALUE,
                g::attr::THRESHOLD,
                g::attr::EVENT,
                g::attr::PROBE,
                g::attr::PROBE_FLAGS,
                g::attr::FILTER_DEV,
                g::attr::FILTER_PID,
                g::attr::FILTER_MINLEN,
                g::attr::PEEK_NAME,
                g::attr::PEEK_ADDR,
                g::attr::PEEK_OFFSET,
                g::attr::PEEK_LEN,
                g::attr::PEEK_SIZE,
                g::attr::PEEK_DATA,
                g::attr::MAX
            ]
        );
    }
}
