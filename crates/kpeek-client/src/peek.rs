//! Reading kernel memory by symbol name or address through kpeek.ko (`KPEEK_IOC_PEEK` on
//! `/dev/kpeek`, `kmod/kpeek_peek.c`; the ABI is [`kpeek_abi::peek`]).
//!
//! ```no_run
//! use kpeek_client::{SysRoot, chardev::Device, peek::PeekRequest};
//!
//! let dev = Device::open(&SysRoot::real())?;
//! let mut buf = [0u8; 8];
//! let got = dev.peek(&PeekRequest::symbol("plain_counter:reads"), &mut buf)?;
//! println!("{:#x} ({} bytes): {}", got.addr, got.sym_size, u64::from_ne_bytes(buf));
//! # Ok::<(), kpeek_client::Error>(())
//! ```

use kpeek_abi::peek::{self, PEEK_LEN_MAX, PEEK_NAME_MAX, Peek};
use rustix::io::Errno;
use rustix::ioctl::{Updater, ioctl};

use crate::chardev::Device;
use crate::error::{Error, Result};

/// What to read: a symbol (optionally with the address user space believes it has, from
/// /proc/kallsyms) or a bare address; plus an offset from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekRequest<'a> {
    /// `"sym"` or `"module:sym"`; `None` reads at `addr`.
    pub name: Option<&'a str>,
    /// With a name: its /proc/kallsyms address or 0 (needed where the kernel offers kpeek.ko no
    /// name lookup); without: the address to read.
    pub addr: u64,
    /// Bytes past the symbol's start (or `addr`).
    pub offset: u64,
}

impl<'a> PeekRequest<'a> {
    /// The symbol `name` (`"sym"` or `"module:sym"`), from its start.
    pub fn symbol(name: &'a str) -> Self {
        PeekRequest {
            name: Some(name),
            addr: 0,
            offset: 0,
        }
    }

    /// The kernel address `addr`.
    pub fn address(addr: u64) -> Self {
        PeekRequest {
            name: None,
            addr,
            offset: 0,
        }
    }

    /// The same request, `offset` bytes further.
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
}

/// What the kernel said about the request besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peeked {
    /// The symbol's start (with a name), else the requested address.
    pub addr: u64,
    /// The symbol's size per kallsyms (0 when unknown or no name).
    pub sym_size: u64,
}

/// The rule behind each errno of `KPEEK_IOC_PEEK`, for [`Error::Kernel`].
fn peek_rule(req: &PeekRequest<'_>, errno: Errno) -> Option<String> {
    let what = match req.name {
        Some(n) => format!("symbol {n:?}"),
        None => format!("address {:#x}", req.addr),
    };
    Some(match errno {
        Errno::PERM => "reading kernel memory needs CAP_SYS_RAWIO (as /proc/kcore does), and a \
                        kernel that is not locked down (see dmesg for which)"
            .into(),
        Errno::NOENT => match req.name {
            Some(n) if req.addr != 0 => {
                format!(
                    "no symbol {n:?} starts at {:#x} (nor is it known by name)",
                    req.addr
                )
            }
            Some(n) => format!(
                "no symbol {n:?} in the running kernel or its modules (where kpeek.ko has no \
                 name lookup, pass its /proc/kallsyms address too)"
            ),
            None => return None,
        },
        Errno::FAULT => format!(
            "{what} + {:#x} cannot be read: not mapped, a guard page, device memory, a user \
             address or past the end of the address space",
            req.offset
        ),
        Errno::INVAL => format!("bad request for {what}: at most {PEEK_LEN_MAX} bytes, flags 0"),
        Errno::NOTTY => "this kpeek.ko has no peek ioctl: load a newer kpeek.ko".into(),
        _ => return None,
    })
}

impl Device {
    /// `KPEEK_IOC_PEEK`: read `out.len()` bytes (0: resolve only; at most
    /// [`PEEK_LEN_MAX`]) at `req`. All or nothing: on error `out`
    /// is left as it was.
    pub fn peek(&self, req: &PeekRequest<'_>, out: &mut [u8]) -> Result<Peeked> {
        let op = || match req.name {
            Some(n) => format!("KPEEK_IOC_PEEK {n}+{:#x}", req.offset),
            None => format!("KPEEK_IOC_PEEK {:#x}+{:#x}", req.addr, req.offset),
        };
        let invalid = |why: String| {
            Error::kernel(
                &op(),
                self.path().to_path_buf(),
                Errno::INVAL.raw_os_error(),
                Some(why),
            )
        };
        let mut p: Peek = bytemuck::Zeroable::zeroed();
        if let Some(name) = req.name {
            if name.is_empty() {
                return Err(invalid("an empty symbol name".into()));
            }
            p.name = kpeek_abi::dev::to_cbuf::<PEEK_NAME_MAX>(name).ok_or_else(|| {
                invalid(format!(
                    "symbol name {name:?} is longer than {} bytes or holds a NUL",
                    PEEK_NAME_MAX - 1
                ))
            })?;
        }
        let len = u32::try_from(out.len())
            .ok()
            .filter(|&l| l <= PEEK_LEN_MAX)
            .ok_or_else(|| {
                invalid(format!(
                    "{} bytes asked, one peek reads at most {PEEK_LEN_MAX}",
                    out.len()
                ))
            })?;
        p.addr = req.addr;
        p.offset = req.offset;
        p.len = len;
        p.buf = out.as_mut_ptr() as u64;
        // SAFETY: KPEEK_IOC_PEEK is _IOWR on struct kpeek_peek, which Peek mirrors (checked
        // against the header by kpeek-abi's tests); the kernel writes at most `len` bytes to
        // `buf`, which points at `out`, valid and exclusively borrowed for `len` bytes for the
        // whole call.
        unsafe { ioctl(self, Updater::<{ peek::IOC_PEEK }, Peek>::new(&mut p)) }.map_err(|e| {
            Error::kernel(
                &op(),
                self.path().to_path_buf(),
                e.raw_os_error(),
                peek_rule(req, e),
            )
        })?;
        Ok(Peeked {
            addr: p.addr,
            sym_size: p.sym_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_request() {
        let r = PeekRequest::symbol("plain_counter:reads");
        assert!(
            peek_rule(&r, Errno::NOENT)
                .unwrap()
                .contains("plain_counter:reads")
        );
        assert!(
            peek_rule(&r, Errno::PERM)
                .unwrap()
                .contains("CAP_SYS_RAWIO")
        );
        let a = PeekRequest::address(0xffff_8880_0000_0000).at_offset(16);
        let f = peek_rule(&a, Errno::FAULT).unwrap();
        assert!(
            f.contains("0xffff888000000000") && f.contains("0x10"),
            "{f}"
        );
        assert_eq!(peek_rule(&a, Errno::NOENT), None);
    }
}
