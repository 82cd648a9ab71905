//! The table that ties kpeek-abi to the C header: every ABI item with the C expression that
//! must evaluate to the same value. It lives with the test, not in the library: nothing but
//! the test needs it.
//!
//! `tests/abi_vs_c.rs` turns [`items`] into a C program (`printf` of each expression, in order),
//! compiles it against `kmod/include/uapi/kpeek.h` and compares the output with [`Item::rust`],
//! line by line. It also checks that every `#define KPEEK_*` in the header appears in the table,
//! so a constant added on the C side without its Rust mirror fails the test. The ABI version 2
//! (and later) rows live in `v2.rs`: constants, ioctl numbers and enum members, and for every struct
//! `size!(kpeek_info, dev::Info)` plus one `off!(kpeek_info, nr_cpus, dev::Info, nr_cpus)` per
//! field (the test also requires a row for every field it finds in the header).

mod v2;

/// The value of one ABI item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// An integer constant, size or offset (printed by C as `%llu` after a cast).
    Int(u64),
    /// A string constant.
    Str(&'static str),
}

/// One row: a C expression and the value the Rust side says it has.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// A C expression valid after `#include <kpeek.h>`, e.g. `KPEEK_NAME_MAX` or
    /// `sizeof(struct kpeek_info)`.
    pub c_expr: &'static str,
    /// The Rust side's value.
    pub rust: Value,
}

impl Item {
    const fn int(c_expr: &'static str, v: u64) -> Self {
        Item {
            c_expr,
            rust: Value::Int(v),
        }
    }

    const fn str(c_expr: &'static str, v: &'static str) -> Self {
        Item {
            c_expr,
            rust: Value::Str(v),
        }
    }

    /// The value as the C checker prints it: one line, no newline.
    pub fn rust_text(&self) -> String {
        match self.rust {
            Value::Int(v) => v.to_string(),
            Value::Str(s) => format!("\"{s}\""),
        }
    }
}

/// Every item of the ABI, in the order the C checker prints them: [`ITEMS`] then the version 2
/// rows (char device, ioctl, mmap, rings, netlink; every struct size and field offset).
pub fn items() -> Vec<Item> {
    ITEMS.iter().chain(v2::ITEMS).copied().collect()
}

/// The items of ABI version 1: limits, names and paths.
pub const ITEMS: &[Item] = &[
    Item::int("KPEEK_ABI_VERSION", kpeek_abi::ABI_VERSION as u64),
    Item::int("KPEEK_NAME_MAX", kpeek_abi::NAME_MAX as u64),
    Item::int("KPEEK_DESC_MAX", kpeek_abi::DESC_MAX as u64),
    Item::str("KPEEK_RESERVED_GROUP", kpeek_abi::RESERVED_GROUP),
    Item::str("KPEEK_PROBES_GROUP", kpeek_abi::PROBES_GROUP),
    Item::str("KPEEK_RESERVED_COUNTER", kpeek_abi::RESERVED_COUNTER),
    Item::int(
        "KPEEK_DEFAULT_MAX_GROUPS",
        kpeek_abi::DEFAULT_MAX_GROUPS as u64,
    ),
    Item::int(
        "KPEEK_DEFAULT_MAX_COUNTERS",
        kpeek_abi::DEFAULT_MAX_COUNTERS as u64,
    ),
    Item::str("KPEEK_PROC_PATH", kpeek_abi::PROC_PATH),
    Item::str("KPEEK_SYSFS_DIR", kpeek_abi::SYSFS_DIR),
    Item::str("KPEEK_CONFIGFS_DIR", kpeek_abi::CONFIGFS_DIR),
    Item::str("KPEEK_DEBUGFS_DIR", kpeek_abi::DEBUGFS_DIR),
    Item::str("KPEEK_PARAMS_DIR", kpeek_abi::PARAMS_DIR),
];
