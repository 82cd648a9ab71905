//! The backends' common trait, `--via` names, and the `/proc/kcore` backend.

pub mod bpf;
pub mod kmod;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{BackendFault, Error, FormatFault};
use crate::walk::Memory;

/// A way of reading kernel memory, with what it can do besides reading.
pub trait Backend: Memory {
    /// Resolves a symbol in the kernel (kpeek.ko): address and size (0 if unknown). `None`: this
    /// backend does not resolve names.
    fn resolve(&self, _module: Option<&str>, _name: &str) -> Option<Result<(u64, u64), Error>> {
        None
    }

    /// The address of the calling thread's `task_struct` (the BPF backend). `None`: this
    /// backend cannot tell.
    fn current_task(&self) -> Option<Result<u64, Error>> {
        None
    }
}

/// `--via`: which backend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    /// The first of kpeek.ko, BPF, /proc/kcore that opens.
    Auto,
    /// kpeek.ko's peek ioctl.
    Kpeek,
    /// BPF programs run with BPF_PROG_TEST_RUN.
    Bpf,
    /// `/proc/kcore`.
    Kcore,
}

impl Via {
    /// The name `--via` takes and `"via"` reports.
    pub fn name(self) -> &'static str {
        match self {
            Via::Auto => "auto",
            Via::Kpeek => "kpeek",
            Via::Bpf => "bpf",
            Via::Kcore => "kcore",
        }
    }
}

impl Via {
    /// Opens this backend. [`Via::Auto`] opens the first of kpeek.ko, BPF and `/proc/kcore`
    /// that opens, and fails with [`Error::NoBackend`] holding why each did not, in that order.
    pub fn open(self) -> Result<Box<dyn Backend>, Error> {
        match self {
            Via::Kpeek => Ok(Box::new(kmod::Kmod::open()?)),
            Via::Bpf => Ok(Box::new(bpf::Bpf::open()?)),
            Via::Kcore => Ok(Box::new(Kcore::open()?)),
            Via::Auto => open_first().map_err(Error::NoBackend),
        }
    }
}

/// The first of kpeek.ko, BPF and `/proc/kcore` that opens (`--via auto`), or why each did
/// not, in that order.
pub fn open_first() -> Result<Box<dyn Backend>, Vec<Error>> {
    let mut refusals = Vec::new();
    for v in [Via::Kpeek, Via::Bpf, Via::Kcore] {
        match v.open() {
            Ok(b) => return Ok(b),
            Err(e) => refusals.push(e),
        }
    }
    Err(refusals)
}

/// The path of kcore.
pub const KCORE: &str = "/proc/kcore";

#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    memsz: u64,
    offset: u64,
}

/// Reads kernel memory from `/proc/kcore` (an ELF core file: one `PT_LOAD` per mapped range).
#[derive(Debug)]
pub struct Kcore {
    file: File,
    path: PathBuf,
    segments: Vec<Segment>,
}

fn kcore_open_error(path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            if let Some(mode) = lockdown() {
                return Error::Lockdown {
                    backend: "kcore",
                    mode,
                };
            }
            Error::Permission {
                backend: "kcore",
                fault: BackendFault::KcoreRoot {
                    path: path.to_path_buf(),
                },
            }
        }
        Some(libc::ENOENT) => Error::Backend {
            backend: "kcore",
            fault: BackendFault::NoKcore {
                path: path.to_path_buf(),
            },
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// The kernel lockdown mode in force (`integrity`, `confidentiality`), `None` when off or unknown.
pub fn lockdown() -> Option<String> {
    let l = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let mode = l.split_whitespace().find(|w| w.starts_with('['))?;
    let mode = mode.trim_matches(['[', ']']);
    (mode != "none").then(|| mode.to_string())
}

impl Kcore {
    /// Opens `/proc/kcore` and reads its program headers.
    pub fn open() -> Result<Kcore, Error> {
        Kcore::open_path(Path::new(KCORE))
    }

    /// Opens a kcore-format file.
    pub fn open_path(path: &Path) -> Result<Kcore, Error> {
        let file = File::open(path).map_err(|e| kcore_open_error(path, e))?;
        let mut hdr = [0u8; 64];
        file.read_exact_at(&mut hdr, 0)
            .map_err(|e| kcore_open_error(path, e))?;
        let segments =
            parse_phdrs(&hdr, |off, buf| file.read_exact_at(buf, off)).map_err(|fault| {
                Error::Format {
                    path: path.to_path_buf(),
                    fault,
                }
            })?;
        Ok(Kcore {
            file,
            path: path.to_path_buf(),
            segments,
        })
    }
}

/// The PT_LOAD segments of a 64-bit little-endian ELF file whose first 64 bytes are `hdr`.
fn parse_phdrs(
    hdr: &[u8; 64],
    mut read: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
) -> Result<Vec<Segment>, FormatFault> {
    if &hdr[..4] != b"\x7fELF" || hdr[4] != 2 || hdr[5] != 1 {
        return Err(FormatFault::NotElf64);
    }
    let u16_at = |o: usize| u16::from_le_bytes([hdr[o], hdr[o + 1]]);
    let phoff = u64::from_le_bytes(hdr[32..40].try_into().expect("8 bytes"));
    let phentsize = u64::from(u16_at(54));
    let phnum = u64::from(u16_at(56));
    if phentsize < 56 || phnum > 65535 {
        return Err(FormatFault::Phdrs {
            count: phnum,
            size: phentsize,
        });
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    read(phoff, &mut table).map_err(FormatFault::ReadPhdrs)?;
    let mut out = Vec::new();
    for ph in table.chunks_exact(phentsize as usize) {
        let u64_at = |o: usize| u64::from_le_bytes(ph[o..o + 8].try_into().expect("8 bytes"));
        let p_type = u32::from_le_bytes(ph[0..4].try_into().expect("4 bytes"));
        if p_type == 1 {
            out.push(Segment {
                offset: u64_at(8),
                vaddr: u64_at(16),
                memsz: u64_at(40),
            });
        }
    }
    Ok(out)
}

impl Memory for Kcore {
    fn name(&self) -> &'static str {
        "kcore"
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        let fault = || Error::Fault {
            addr,
            len: buf.len(),
            what: String::new(),
        };
        let end = addr.checked_add(buf.len() as u64).ok_or_else(fault)?;
        let seg = self
            .segments
            .iter()
            .find(|s| s.vaddr <= addr && end <= s.vaddr.saturating_add(s.memsz))
            .ok_or_else(fault)?;
        let len = buf.len();
        match self
            .file
            .read_exact_at(buf, seg.offset + (addr - seg.vaddr))
        {
            Ok(()) => Ok(()),
            // kcore returns EFAULT (or a short read) for pages it cannot read.
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EFAULT) | Some(libc::EIO))
                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Err(Error::Fault {
                    addr,
                    len,
                    what: String::new(),
                })
            }
            Err(e) => Err(Error::Io {
                path: self.path.clone(),
                source: e,
            }),
        }
    }
}

impl Backend for Kcore {}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(segs: &[(u32, u64, u64, u64)]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        for (t, off, va, sz) in segs {
            let mut ph = vec![0u8; 56];
            ph[0..4].copy_from_slice(&t.to_le_bytes());
            ph[8..16].copy_from_slice(&off.to_le_bytes());
            ph[16..24].copy_from_slice(&va.to_le_bytes());
            ph[40..48].copy_from_slice(&sz.to_le_bytes());
            f.extend(ph);
        }
        f
    }

    #[test]
    fn kcore_reads_through_pt_load() {
        let mut f = elf(&[(4, 0, 0, 0), (1, 4096, 0xffff_8000_0000_0000, 16)]);
        f.resize(4096, 0);
        f.extend(0u8..16);
        let dir = std::env::temp_dir().join(format!("kpeek-peek-kcore-{}", std::process::id()));
        std::fs::write(&dir, &f).unwrap();
        let k = Kcore::open_path(&dir).unwrap();
        let mut b = [0u8; 4];
        k.read(0xffff_8000_0000_0004, &mut b).unwrap();
        assert_eq!(b, [4, 5, 6, 7]);
        let e = k.read(0xffff_8000_0000_000e, &mut b).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Fault {
                    addr: 0xffff_8000_0000_000e,
                    ..
                }
            ),
            "{e}"
        );
        let e = k.read(0x1000, &mut b).unwrap_err();
        assert!(matches!(e, Error::Fault { .. }), "{e}");
        std::fs::remove_file(&dir).unwrap();
        assert!(parse_phdrs(&[0u8; 64], |_, _| Ok(())).is_err());
    }
}
