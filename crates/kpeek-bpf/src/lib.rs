//! `kpeek-bpf`: kpeek's BPF layer, with no compiler at run time.
//!
//! Programs are assembled at run time ([`asm`]) and loaded through libbpf ([`prog`]); a
//! verifier rejection comes back with the last lines of the verifier's log. Maps ([`map`]) and
//! programs are owned by file descriptors, never pinned, so they vanish with the process.
//!
//! - [`KernelMem`] reads kernel memory with `bpf_probe_read_kernel` from a program run by
//!   `BPF_PROG_TEST_RUN`: the calling task's address, kernel variables by BTF, faults as errors.
//!
//! ```no_run
//! use kpeek_bpf::KernelMem;
//! let mut mem = KernelMem::open()?;
//! let task = mem.current_task()?;
//! println!("task_struct at {task:#x}, first word {:#x}", mem.read_u64(task)?);
//! # Ok::<(), kpeek_bpf::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod asm;
pub mod btf;
pub mod count;
pub mod decode;
pub mod error;
pub mod features;
pub mod map;
pub mod mem;
pub mod objects;
pub mod prog;

pub use error::{Error, Result};
pub use mem::KernelMem;
