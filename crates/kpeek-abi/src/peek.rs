//! The peek ABI of kpeek.ko (`kmod/kpeek_peek.c`): read kernel memory by symbol name or
//! address, through `KPEEK_IOC_PEEK` on `/dev/kpeek` or `KPEEK_CMD_PEEK` of the netlink family.
//!
//! Both need `CAP_SYS_RAWIO` and a kernel that is not locked down (`EPERM` otherwise). A name is
//! `"sym"` or `"module:sym"` (that module only), resolved in the kernel, non-exported symbols
//! included; where the kernel offers kpeek.ko no name lookup, a name is accepted only with a
//! non-zero `addr` that is exactly its start (as `/proc/kallsyms` gives it). Errors: `EINVAL`
//! (flags not 0, `len` too big, a name without NUL), `ENOENT` (no such symbol), `EFAULT` (the
//! range cannot be read: user addresses, NULL, unmapped or guard pages, device memory,
//! overflow; or `buf` cannot be written), `ERANGE` (netlink `PEEK_LEN` above
//! [`PEEK_NL_LEN_MAX`]). A read is all or nothing.

use bytemuck::{Pod, Zeroable};

use crate::dev::{IOC_MAGIC, ioc};

/// `KPEEK_PEEK_NAME_MAX`: the name field, NUL included.
pub const PEEK_NAME_MAX: usize = 128;
/// `KPEEK_PEEK_LEN_MAX`: the most bytes one ioctl may read.
pub const PEEK_LEN_MAX: u32 = 65536;
/// `KPEEK_PEEK_NL_LEN_MAX`: the most bytes one netlink request may read (the data attribute's
/// length is a u16).
pub const PEEK_NL_LEN_MAX: u32 = 65531;

/// `struct kpeek_peek` (`KPEEK_IOC_PEEK`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Peek {
    /// In: `"sym"` or `"module:sym"`, NUL-terminated; all zero = read at `addr`.
    pub name: [u8; PEEK_NAME_MAX],
    /// In: with a name, the address user space believes (from /proc/kallsyms) or 0; without
    /// one, the address to read. Out: the symbol's start (with a name), else unchanged.
    pub addr: u64,
    /// Out: the symbol's size per kallsyms (0 if unknown).
    pub sym_size: u64,
    /// In: bytes past `addr` (or the symbol's start) to read from.
    pub offset: u64,
    /// In: user buffer of `len` bytes.
    pub buf: u64,
    /// In: bytes to read; 0 resolves only. At most [`PEEK_LEN_MAX`].
    pub len: u32,
    /// In: must be 0.
    pub flags: u32,
}

/// `KPEEK_IOC_PEEK`: `_IOWR(0xBE, 0x0A, struct kpeek_peek)`.
pub const IOC_PEEK: u32 = ioc(3, IOC_MAGIC, 0x0A, size_of::<Peek>());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(size_of::<Peek>(), 168);
        assert_eq!(IOC_PEEK, (3 << 30) | (168 << 16) | (0xBE << 8) | 0x0A);
    }
}
