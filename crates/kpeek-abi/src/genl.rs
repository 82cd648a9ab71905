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
    pub const UNSPEC: u8 = 0;
    /// -> ABI_VERSION, GROUPS, COUNTERS, GENERATION.
    pub const GET_INFO: u8 = 1;
    /// ID, or GROUP+COUNTER -> one counter.
    pub const GET_COUNTER: u8 = 2;
    /// NLM_F_DUMP: one message per counter; NLM_F_DUMP_INTR when the generation changed.
    pub const GET_COUNTERS: u8 = 3;
    /// GENL_ADMIN_PERM: ID (+ TARGET), none = all.
    pub const RESET: u8 = 4;
    /// GENL_ADMIN_PERM: GROUP [+ COUNTER] -> ID.
    pub const CREATE: u8 = 5;
    /// GENL_ADMIN_PERM: TARGET + ID.
    pub const DESTROY: u8 = 6;
    /// GENL_ADMIN_PERM: ID + THRESHOLD (0 clears).
    pub const SET_THRESHOLD: u8 = 7;
    /// GENL_ADMIN_PERM: PROBE, PROBE_FLAGS, FILTER_*.
    pub const PROBE_SET: u8 = 8;
    /// Multicast notification (kernel -> user only).
    pub const EVENT: u8 = 9;
    /// `KPEEK_CMD_MAX`.
    pub const MAX: u8 = 9;
}

/// `enum kpeek_genl_attr`.
pub mod attr {
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
    /// `KPEEK_A_MAX`.
    pub const MAX: u16 = 18;
}

/// `enum kpeek_event`: `attr::EVENT` of a `cmd::EVENT` notification.
pub mod event {
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
