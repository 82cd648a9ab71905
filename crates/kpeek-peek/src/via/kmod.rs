//! The kpeek.ko backend: `KPEEK_IOC_PEEK` on `/dev/kpeek` (through `kpeek_client`). It resolves
//! names in the kernel too (non-exported symbols of the kernel and of any module), so it works
//! where /proc/kallsyms hides addresses from the caller.

use kpeek_client::SysRoot;
use kpeek_client::chardev::Device;
use kpeek_client::peek::PeekRequest;

use super::Backend;
use crate::error::{BackendFault, Error};
use crate::walk::Memory;

/// Reads kernel memory through kpeek.ko.
pub struct Kmod {
    dev: Device,
}

/// The largest read of one ioctl.
const CHUNK: usize = kpeek_abi::peek::PEEK_LEN_MAX as usize;

fn map_err(e: kpeek_client::Error, addr: u64, len: usize) -> Error {
    match e.errno() {
        Some(libc::EFAULT) => Error::Fault {
            addr,
            len,
            what: String::new(),
        },
        Some(libc::EPERM) | Some(libc::EACCES) => match super::lockdown() {
            Some(mode) => Error::Lockdown {
                backend: "kpeek",
                mode,
            },
            None => Error::Permission {
                backend: "kpeek",
                fault: BackendFault::Kmod(Box::new(e)),
            },
        },
        _ => Error::Backend {
            backend: "kpeek",
            fault: BackendFault::Kmod(Box::new(e)),
        },
    }
}

impl Kmod {
    /// Opens `/dev/kpeek`.
    pub fn open() -> Result<Kmod, Error> {
        let dev = Device::open(&SysRoot::real()).map_err(|e| match e.errno() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::Permission {
                backend: "kpeek",
                fault: BackendFault::Kmod(Box::new(e)),
            },
            _ => Error::Backend {
                backend: "kpeek",
                fault: BackendFault::Kmod(Box::new(e)),
            },
        })?;
        // An empty read of a null address tells whether this kpeek.ko has the peek ioctl and
        // whether the caller may use it, before anything else is read.
        let mut none = [0u8; 0];
        match dev.peek(&PeekRequest::address(0), &mut none) {
            Ok(_) => {}
            Err(e) if e.errno() == Some(libc::EFAULT) => {}
            Err(e) => return Err(map_err(e, 0, 0)),
        }
        Ok(Kmod { dev })
    }
}

impl Memory for Kmod {
    fn name(&self) -> &'static str {
        "kpeek"
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        for (i, chunk) in buf.chunks_mut(CHUNK).enumerate() {
            let at = addr.wrapping_add((i * CHUNK) as u64);
            let len = chunk.len();
            self.dev
                .peek(&PeekRequest::address(at), chunk)
                .map_err(|e| map_err(e, at, len))?;
        }
        Ok(())
    }
}

impl Backend for Kmod {
    fn resolve(&self, module: Option<&str>, name: &str) -> Option<Result<(u64, u64), Error>> {
        let full = match module {
            Some(m) => format!("{m}:{name}"),
            None => name.to_string(),
        };
        let mut none = [0u8; 0];
        Some(
            match self.dev.peek(&PeekRequest::symbol(&full), &mut none) {
                Ok(p) => Ok((p.addr, p.sym_size)),
                Err(e) if e.errno() == Some(libc::ENOENT) => Err(Error::UnknownSymbol {
                    name: name.to_string(),
                    module: module.map(str::to_string),
                    close: Vec::new(),
                    hint: Some("kpeek.ko does not know it either".into()),
                }),
                Err(e) => Err(map_err(e, 0, 0)),
            },
        )
    }
}
