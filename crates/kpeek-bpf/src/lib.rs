//! `kpeek-bpf`: kpeek's BPF layer, with no compiler at run time.
//!
//! Programs are assembled at run time ([`asm`]) and loaded through libbpf ([`prog`]); a
//! verifier rejection comes back with the last lines of the verifier's log. Maps ([`map`]) and
//! programs are owned by file descriptors, never pinned, so they vanish with the process.
//!
//! - [`count`]: `kpeek bpf count`, tracepoint hits counted in the kernel by record fields or
//!   task facts, filtered by the kernel's event filter grammar, with sums and histograms.
//! - [`objects`]: the BPF maps and programs loaded on the system (`kpeek bpf maps`, `progs`,
//!   `dump`), with [`decode`] turning their keys and values into [`decode::Decoded`] values
//!   (by BTF when the map has it, else guessed from sizes and bytes).
//! - [`KernelMem`] reads kernel memory with `bpf_probe_read_kernel` from a program run by
//!   `BPF_PROG_TEST_RUN`: the calling task's address, kernel variables by BTF, faults as errors.
//! - [`features`] probes what the running kernel offers, so that a missing feature is named
//!   with the Linux version that brought it instead of a bare refusal.
//!
//! Every fallible function returns [`Error`], which says what to do where it can (the
//! capabilities BPF needs, the verifier's words, the missing kernel feature).
//!
//! Assembling needs no privileges; labels are resolved when the program is finished:
//!
//! ```
//! use kpeek_bpf::asm::{op, Asm, R0, R1};
//!
//! // r0 = ctx == 0 ? 1 : 2
//! let mut a = Asm::new();
//! let zero = a.label();
//! a.mov_imm(R0, 1).jmp_imm(op::JEQ, R1, 0, zero).mov_imm(R0, 2);
//! a.bind(zero).exit();
//! let insns = a.finish()?;
//! assert_eq!(insns.len(), 4);
//! assert_eq!(insns[1].off, 1); // the jump skips one instruction
//! # Ok::<(), kpeek_bpf::asm::AsmError>(())
//! ```
//!
//! Loading and running programs needs CAP_BPF and CAP_PERFMON (or root):
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
