//! The generic netlink family `kpeek` (kmod/kpeek_netlink.c): commands, attributes and the
//! events of the `events` multicast group.

/// `KPEEK_GENL_NAME`: the family name to resolve.
pub const GENL_NAME: &str = "kpeek";
/// `KPEEK_GENL_VERSION`.
pub const GENL_VERSION: u8 = 1;
/// `KPEEK_GENL_MCGRP_EVENTS`: the multicast group of notifications.
pub const GENL_MCGRP_EVENTS: &str = "events";

/// `enum kpeek_genl_cmd`.
pub mod cmd {
    /// Not a command (the kernel rejects it).
    pub const UNSPEC: u8 = 0;
    /// -> ABI_VERSION, GROUPS, COUNTERS, GENERATION.
    pub const GET_INFO: u8 = 1;
    /// ID, or GROUP+COUNTER -> one counter.
    pub const GET_COUNTER: u8 = 2;
    /// NLM_F_DUMP: one message per counter; NLM_F_DUMP_INTR when the generation changed.
    pub const GET_COUNTERS: u8 = 3;
    /// CAP_SYS_ADMIN: ID (+ TARGET), none = all.
    pub const RESET: u8 = 4;
    /// CAP_SYS_ADMIN: GROUP [+ COUNTER] -> ID.
    pub const CREATE: u8 = 5;
    /// CAP_SYS_ADMIN: TARGET + ID.
    pub const DESTROY: u8 = 6;
    /// CAP_SYS_ADMIN: ID + THRESHOLD (0 clears).
    pub const SET_THRESHOLD: u8 = 7;
    /// CAP_SYS_ADMIN: PROBE, PROBE_FLAGS, FILTER_*.
    pub const PROBE_SET: u8 = 8;
    /// Multicast notification (kernel -> user only).
    pub const EVENT: u8 = 9;
    /// CAP_SYS_RAWIO: PEEK_NAME and/or PEEK_ADDR, PEEK_OFFSET, PEEK_LEN -> PEEK_ADDR,
    /// PEEK_SIZE, PEEK_DATA (see [`crate::peek`]).
    pub const PEEK: u8 = 10;
    /// `KPEEK_CMD_MAX`.
    pub const MAX: u8 = 10;
}

/// `enum kpeek_genl_attr`.
pub mod attr {
    /// Not an attribute (the kernel rejects it).
    pub const UNSPEC: u16 = 0;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 1;
    /// u32.
    pub const ABI_VERSION: u16 = 2;
    /// u32.
    pub const GROUPS: u16 = 3;
    /// u32.
    pub const COUNTERS: u16 = 4;
    /// u64.
    pub const GENERATION: u16 = 5;
    /// u32: `TARGET_*`.
    pub const TARGET: u16 = 6;
    /// u64.
    pub const ID: u16 = 7;
    /// u64.
    pub const GROUP_ID: u16 = 8;
    /// String, at most `NAME_MAX` bytes.
    pub const GROUP: u16 = 9;
    /// String, at most `NAME_MAX` bytes.
    pub const COUNTER: u16 = 10;
    /// u64.
    pub const VALUE: u16 = 11;
    /// u64.
    pub const THRESHOLD: u16 = 12;
    /// u32: `event::*`.
    pub const EVENT: u16 = 13;
    /// u32: `PROBE_*`.
    pub const PROBE: u16 = 14;
    /// u32: `PROBE_F_*`.
    pub const PROBE_FLAGS: u16 = 15;
    /// String, shorter than 16 bytes.
    pub const FILTER_DEV: u16 = 16;
    /// s32.
    pub const FILTER_PID: u16 = 17;
    /// u32.
    pub const FILTER_MINLEN: u16 = 18;
    /// String, shorter than `PEEK_NAME_MAX`: `"sym"` or `"module:sym"`.
    pub const PEEK_NAME: u16 = 19;
    /// u64: in as `Peek::addr`; out: the address read.
    pub const PEEK_ADDR: u16 = 20;
    /// u64.
    pub const PEEK_OFFSET: u16 = 21;
    /// u32, at most `PEEK_NL_LEN_MAX`.
    pub const PEEK_LEN: u16 = 22;
    /// u64: the symbol's size (0 if unknown).
    pub const PEEK_SIZE: u16 = 23;
    /// Binary: the bytes read.
    pub const PEEK_DATA: u16 = 24;
    /// `KPEEK_A_MAX`.
    pub const MAX: u16 = 24;
}

/// `enum kpeek_event`: `attr::EVENT` of a `cmd::EVENT` notification.
pub mod event {
    /// Not an event (never sent).
    pub const UNSPEC: u32 = 0;
    /// + GROUP_ID, GROUP.
    pub const GROUP_CREATED: u32 = 1;
    /// + GROUP_ID, GROUP.
    pub const GROUP_REMOVED: u32 = 2;
    /// + ID, GROUP, COUNTER.
    pub const COUNTER_CREATED: u32 = 3;
    /// + ID, GROUP, COUNTER.
    pub const COUNTER_REMOVED: u32 = 4;
    /// + ID, GROUP, COUNTER, VALUE, THRESHOLD: the counter rose to at least its threshold.
    pub const THRESHOLD: u32 = 5;
}
