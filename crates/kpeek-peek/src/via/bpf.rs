//! The BPF backend: `kpeek_bpf::KernelMem` (a `bpf_probe_read_kernel` program run with
//! `BPF_PROG_TEST_RUN`). Needs no module and no `/proc/kcore`.

use std::cell::RefCell;

use kpeek_bpf::KernelMem;

use super::Backend;
use crate::error::{BackendFault, Error};
use crate::walk::Memory;

/// Reads kernel memory through BPF.
pub struct Bpf {
    mem: RefCell<KernelMem>,
}

fn map_err(e: kpeek_bpf::Error) -> Error {
    match e {
        kpeek_bpf::Error::Fault { addr, len, .. } => Error::Fault {
            addr,
            len,
            what: String::new(),
        },
        kpeek_bpf::Error::Permission { .. } => Error::Permission {
            backend: "bpf",
            fault: BackendFault::Bpf(Box::new(e)),
        },
        other => Error::Backend {
            backend: "bpf",
            fault: BackendFault::Bpf(Box::new(other)),
        },
    }
}

impl Bpf {
    /// Loads the BPF programs.
    pub fn open() -> Result<Bpf, Error> {
        if let Some(mode) = super::lockdown().filter(|m| m == "confidentiality") {
            return Err(Error::Lockdown {
                backend: "bpf",
                mode,
            });
        }
        Ok(Bpf {
            mem: RefCell::new(KernelMem::open().map_err(map_err)?),
        })
    }
}

impl Memory for Bpf {
    fn name(&self) -> &'static str {
        "bpf"
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mem.borrow_mut().read(addr, buf).map_err(map_err)
    }
}

impl Backend for Bpf {
    fn current_task(&self) -> Option<Result<u64, Error>> {
        Some(self.mem.borrow_mut().current_task().map_err(map_err))
    }
}
