//! `kpeek-abi`: the Rust mirror of `kmod/include/uapi/kpeek.h`, the ABI of kpeek.ko.
//!
//! Everything user space may rely on: the ABI version, name rules and limits, the reserved names,
//! the default caps and where each channel lives; from ABI version 2 on the char device's
//! `read()` snapshot and ioctls ([`dev`]), the counter and ring mappings and ring records
//! ([`mmap`]), the generic netlink family ([`genl`]) and reading kernel memory by name
//! ([`peek`]). `tests/abi_vs_c.rs` holds a table of every item with the C expression that must
//! produce the same value (every constant, every struct's size and every field's offset),
//! compiles a C program against the real header that prints each expression, and compares.
//!
//! Checking a name the way kpeek.ko will, and reading a ring record's header out of the bytes
//! a ring mapping holds:
//!
//! ```
//! use kpeek_abi::mmap::{REC_ALIGN, REC_SCHED_SWITCH, RecHeader};
//! use kpeek_abi::{NameError, NameKind, validate_name};
//!
//! assert!(validate_name(NameKind::Counter, "rx_packets").is_ok());
//! let e = validate_name(NameKind::Group, "rx-path").unwrap_err();
//! assert!(matches!(e, NameError::BadChar { pos: 2, .. }));
//! assert_eq!(e.errno(), 22); // EINVAL, what the module answers for the same name
//!
//! let mut ring = vec![0u8; 64];
//! let header = RecHeader { ty: REC_SCHED_SWITCH, len: 64, seq: 7, ts_ns: 1_000, cpu: 1, pid: 42 };
//! ring[..size_of::<RecHeader>()].copy_from_slice(bytemuck::bytes_of(&header));
//! let read: RecHeader = bytemuck::pod_read_unaligned(&ring[..size_of::<RecHeader>()]);
//! assert_eq!((read.ty, read.seq, read.pid), (REC_SCHED_SWITCH, 7, 42));
//! assert_eq!(usize::from(read.len) % REC_ALIGN, 0);
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod dev;
pub mod genl;
pub mod mmap;
mod name;
pub mod peek;

pub use name::{DescriptionError, NameError, NameKind, validate_description, validate_name};

/// `KPEEK_ABI_VERSION`: bumped whenever anything in the ABI changes incompatibly. The module
/// publishes its own in `/sys/kernel/kpeek/info`.
pub const ABI_VERSION: u32 = 4;

/// `KPEEK_NAME_MAX`: the longest group or counter name, in bytes.
pub const NAME_MAX: usize = 31;

/// `KPEEK_DESC_MAX`: the longest description, in bytes.
pub const DESC_MAX: usize = 127;

/// `KPEEK_RESERVED_GROUP`: no group may have this name (`/sys/kernel/kpeek/info` is a file).
pub const RESERVED_GROUP: &str = "info";

/// `KPEEK_PROBES_GROUP`: the group kpeek.ko's probes count into (`<probe>_hits`,
/// `<probe>_matched`); creating a group of this name fails with `EEXIST`.
pub const PROBES_GROUP: &str = "kpeek_probes";

/// `KPEEK_RESERVED_COUNTER`: no counter may have this name (`<group>/reset` is the reset file).
pub const RESERVED_COUNTER: &str = "reset";

/// `KPEEK_DEFAULT_MAX_GROUPS`: the group cap unless the `max_groups` parameter overrides it.
pub const DEFAULT_MAX_GROUPS: u32 = 1024;

/// `KPEEK_DEFAULT_MAX_COUNTERS`: the counter cap unless `max_counters` overrides it.
pub const DEFAULT_MAX_COUNTERS: u32 = 65536;

/// `KPEEK_PROC_PATH`: one line per counter, `<group> <counter> <value>`.
pub const PROC_PATH: &str = "/proc/kpeek";

/// `KPEEK_SYSFS_DIR`: `info`, and `<group>/<counter>` value files plus `<group>/reset`.
pub const SYSFS_DIR: &str = "/sys/kernel/kpeek";

/// `KPEEK_CONFIGFS_DIR`: `groups/<group>/<counter>/` created with mkdir, removed with rmdir.
pub const CONFIGFS_DIR: &str = "/sys/kernel/config/kpeek";

/// `KPEEK_DEBUGFS_DIR`: internals for debugging only.
pub const DEBUGFS_DIR: &str = "/sys/kernel/debug/kpeek";

/// `KPEEK_PARAMS_DIR`: the module parameters.
pub const PARAMS_DIR: &str = "/sys/module/kpeek/parameters";
