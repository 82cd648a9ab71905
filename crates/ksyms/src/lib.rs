//! `ksyms`: load, index and query kernel symbol tables (`/proc/kallsyms`, `System.map`).
//!
//! Answers address → `name+0xoff/0xsize [module]` with the kernel's `%pS` semantics and
//! name → every matching address (with its type, module and whether it is exported), and
//! symbolizes whole texts such as oops reports.
//!
//! ```
//! use ksyms::Ksyms;
//!
//! let table = "\
//! ffffffff81000000 T _stext
//! ffffffff8110a0d0 T schedule
//! ffffffff8110a180 t schedule_idle
//! ffffffff82000000 r __ksymtab_schedule
//! ffffffffc0002000 t ext4_probe\t[ext4]
//! ffffffffc0002100 t ext4_remove\t[ext4]
//! ";
//! let ks = Ksyms::parse(table.as_bytes())?;
//!
//! // Address -> symbol, printed like the kernel's %pS.
//! let r = ks.lookup(0xffffffff8110a0f4).expect("inside schedule");
//! assert_eq!(r.to_string(), "schedule+0x24/0xb0");
//! assert_eq!((r.symbol.name, r.offset, r.size), ("schedule", 0x24, Some(0xb0)));
//! assert_eq!(ks.lookup(0xffffffffc0002010).unwrap().to_string(), "ext4_probe+0x10/0x100 [ext4]");
//!
//! // Name -> every symbol of that name, and whether it is exported.
//! let s = &ks.find("schedule")[0];
//! assert_eq!(s.addr, 0xffffffff8110a0d0);
//! assert!(ks.is_exported(s));
//!
//! // Text in, text out.
//! let out = ks.symbolize_text("RIP: 0010:0xffffffff8110a0f4\n", ksyms::Mode::Replace);
//! assert_eq!(out.text, "RIP: 0010:schedule+0x24/0xb0\n");
//! # Ok::<(), ksyms::Error>(())
//! ```
//!
//! On a live system, [`Ksyms::load_live`] reads `/proc/kallsyms` and fails with
//! [`Error::Hidden`] (naming `kptr_restrict` and its value) when the kernel hides addresses from
//! the caller; [`Ksyms::from_path`] reads a saved copy or a `System.map`.
//!
//! The rules of address lookups (regions, sizes, aliases, mapping and absolute symbols, end
//! markers) are documented on [`Ksyms::lookup`].
//!
//! ## Cost
//! Regular files are read in ranges through small buffers that stay in cache (mapped and parsed
//! in place only through the `unsafe` [`Ksyms::from_path_mapped`]); `/proc/kallsyms` is parsed
//! while a second thread reads it. Lines are parsed with SSE2 (the address's 16 hex digits and
//! the name's end found sixteen bytes at a time; the one-pass address path vets its buffers
//! with AVX2 where the CPU has it), with no allocation per symbol, and the index keeps about 14
//! bytes per symbol plus the names: less than the file. An address lookup is a radix-table step
//! and one branch-free comparison of a few neighbours' low address halves: with no branch to
//! mispredict, the CPU overlaps the memory accesses of consecutive lookups by itself. The name
//! index (under 5 bytes per symbol) is built on the first name query.

// Until every crate of the workspace documents its unsafe blocks (then a workspace lint).
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs, unreachable_pub)]

mod addresses;
mod entry;
mod error;
mod find;
mod live;
mod load;
mod lookup;
mod names;
mod parse;
mod query;
mod source;
mod symbolize;
mod table;

pub use error::{Error, Hidden, Result};
pub use live::{KALLSYMS, KPTR_RESTRICT, PERF_EVENT_PARANOID};
pub use lookup::Resolved;
pub use query::{
    CORE, Filter, Glob, Pattern, PatternError, RegionStats, Stats, SyntaxError, compile_glob,
};
pub use symbolize::{Found, Mode, SymExpr, Symbolized};
pub use table::{Ksyms, LoadOptions, Symbol};
