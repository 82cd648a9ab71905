//! `mmap` of `/dev/kpeek` (kmod/kpeek_mmap.c, kmod/kpeek_ring.c): the counter mapping with its
//! seqcount, the per-CPU event rings and the records in them.

use bytemuck::{Pod, Zeroable};

use crate::dev::NameBuf;

/// `KPEEK_MMAP_COUNTERS`: the offset that maps the counter values (read-only).
pub const MMAP_COUNTERS: u64 = 0;

/// `KPEEK_MMAP_RING_BASE`: the offset of CPU 0's ring.
pub const MMAP_RING_BASE: u64 = 0x4000_0000;

/// `KPEEK_MMAP_RING_SHIFT`: the rings of consecutive CPUs are `1 << MMAP_RING_SHIFT` bytes
/// (64 KiB) apart as offsets.
pub const MMAP_RING_SHIFT: u32 = 16;

/// `KPEEK_MMAP_RING_MAX_CPUS`: the CPUs that have a ring offset (all offsets below 2 GiB).
pub const MMAP_RING_MAX_CPUS: u32 = 1 << 14;

/// `KPEEK_MMAP_RING(cpu)`: the offset that maps `cpu`'s event ring, read-only, for the open
/// file that owns the rings (others get `EBUSY`). Below 2 GiB for every CPU below [`MMAP_RING_MAX_CPUS`], so it fits a
/// 32-bit kernel's limit and a 32-bit `off_t`.
pub const fn mmap_ring(cpu: u32) -> u64 {
    MMAP_RING_BASE + ((cpu as u64) << MMAP_RING_SHIFT)
}

/// `KPEEK_MMAP_MAGIC`: "KPMC", the first word of the counter mapping.
pub const MMAP_MAGIC: u32 = 0x4b50_4d43;

/// `struct kpeek_mmap_counters`: the head of the counter mapping; `capacity` [`MmapSlot`]s
/// follow, the first `count` in use. Readers follow the seqcount protocol: `seq` odd means the
/// kernel is writing; a copy is consistent when `seq` was even and unchanged around it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct MmapCounters {
    /// [`MMAP_MAGIC`].
    pub magic: u32,
    /// Seqcount: odd while the kernel writes.
    pub seq: u32,
    /// Slots in use, from slot 0.
    pub count: u32,
    /// Slots that fit in the mapping.
    pub capacity: u32,
    /// As in [`crate::dev::Info::generation`].
    pub generation: u64,
    /// `ktime_get_ns()` of the last refresh.
    pub refresh_ns: u64,
}

/// `struct kpeek_mmap_slot`: one counter in the mapping.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct MmapSlot {
    pub id: u64,
    pub value: u64,
    pub group: NameBuf,
    pub counter: NameBuf,
}

/// `KPEEK_RING_MAGIC`: "KPRG", the first word of a ring mapping.
pub const RING_MAGIC: u32 = 0x4b50_5247;

/// `struct kpeek_ring_header`: the first page of a ring mapping (read-only). `head` and `tail`
/// are byte offsets into the data, each on its own cache line; the consumer moves `tail` with
/// `KPEEK_IOC_RING_CONSUME` and the kernel mirrors it here.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RingHeader {
    /// [`RING_MAGIC`].
    pub magic: u32,
    pub cpu: u32,
    /// From the start of the mapping: PAGE_SIZE.
    pub data_offset: u32,
    pub data_size: u32,
    /// Records dropped because the ring was full.
    pub lost: u64,
    /// Records written.
    pub written: u64,
    pub watermark: u32,
    pub reserved0: u32,
    pub pad0: [u8; 24],
    /// Producer (kernel): where the next record goes. 32 bits (ABI 3) so that 32-bit
    /// machines can load-acquire it.
    pub head: u32,
    pub reserved1: u32,
    pub pad1: [u8; 56],
    /// The first unread byte, as `KPEEK_IOC_RING_CONSUME` last set it.
    pub tail: u32,
    pub reserved2: u32,
    pub pad2: [u8; 56],
}

/// `KPEEK_REC_PAD`: fills the ring up to its end; skip it.
pub const REC_PAD: u16 = 0;
/// `KPEEK_REC_NETIF_RECEIVE_SKB`: a [`RecNetif`].
pub const REC_NETIF_RECEIVE_SKB: u16 = 1;
/// `KPEEK_REC_SCHED_SWITCH`: a [`RecSchedSwitch`].
pub const REC_SCHED_SWITCH: u16 = 2;
/// `KPEEK_REC_BLOCK_RQ_ISSUE`: a [`RecBlockRq`].
pub const REC_BLOCK_RQ_ISSUE: u16 = 3;

/// `KPEEK_REC_ALIGN`: every record's length is a multiple of this.
pub const REC_ALIGN: usize = 8;

/// `struct kpeek_rec_header`: the start of every record. `ty` and `len` come first so a
/// [`REC_PAD`] record needs only 8 bytes (of a pad record nothing else is valid; pads take no
/// seq number).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RecHeader {
    /// `REC_*`.
    pub ty: u16,
    /// The whole record including this header, a multiple of [`REC_ALIGN`].
    pub len: u16,
    /// Per CPU, +1 per record produced or lost.
    pub seq: u32,
    /// `ktime_get_ns()` (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    pub cpu: u32,
    /// `current->pid` when produced: an init-namespace pid.
    pub pid: i32,
}

/// `struct kpeek_rec_netif`: net:netif_receive_skb.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RecNetif {
    pub hdr: RecHeader,
    pub dev: [u8; 16],
    /// `skb->len`.
    pub len: u32,
    /// `ntohs(skb->protocol)`.
    pub protocol: u16,
    pub reserved: u16,
}

/// `struct kpeek_rec_sched_switch`: sched:sched_switch.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RecSchedSwitch {
    pub hdr: RecHeader,
    pub prev_comm: [u8; 16],
    pub next_comm: [u8; 16],
    pub prev_pid: i32,
    pub next_pid: i32,
    pub prev_state: i64,
}

/// `struct kpeek_rec_block_rq`: block:block_rq_issue.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RecBlockRq {
    pub hdr: RecHeader,
    pub sector: u64,
    /// `new_encode_dev`-style major:minor.
    pub dev: u32,
    pub bytes: u32,
    /// `blk_fill_rwbs()` text, NUL-terminated (`RWBS_LEN` is 8, or 10 from 7.x).
    pub rwbs: [u8; 16],
}
