//! `kpeek-abi`: the Rust mirror of `kmod/include/uapi/kpeek.h`, the ABI of kpeek.ko.
//!
//! Everything user space may rely on: the ABI version, name rules and limits, the reserved names,
//! the default caps and where each channel lives; from ABI version 2 on the char device's
//! `read()` snapshot and ioctls ([`dev`]), the counter and ring mappings and ring records
//! ([`mmap`]), the generic netlink family ([`genl`]) and reading kernel memory by name
//! ([`peek`]). `tests/abi_vs_c.rs` holds a table of every item with the C expression that must
//! produce the same value (every constant, every struct's size and every field's offset),
//! compiles a C program against the real header that prints each expression, and compares.

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
