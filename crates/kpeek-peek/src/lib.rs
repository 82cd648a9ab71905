//! `kpeek-peek`: read any kernel or module variable by name from user space, typed.
//!
//! An expression (`init_task.comm`, `plain_counter:reads`, `runqueues@cpu1.nr_running`) is
//! parsed ([`expr`]), its symbol resolved through kallsyms ([`ksyms`]) or the kernel, its type
//! taken from DWARF ([`dwarf`]), BTF ([`btf`]) or the global-variable table ([`globals`]), its
//! member chain followed through kernel memory ([`walk`]) read by a [`via::Backend`]
//! (kpeek.ko, BPF, `/proc/kcore`), and the bytes decoded ([`value`]) and printed ([`print`](mod@print)).
//!
//! ```
//! use kpeek_peek::expr::Expr;
//! use kpeek_peek::types::{Member, RecordKind, Ty, Types};
//! use kpeek_peek::value::{Value, decode};
//!
//! // A made-up `struct s { int a; char name[4]; }` and eight bytes of it.
//! let types = Types::new();
//! let int = types.synth(Ty::Int { name: "int".into(), size: 4, signed: true, is_char: false, is_bool: false });
//! let ch = types.synth(Ty::Int { name: "char".into(), size: 1, signed: true, is_char: true, is_bool: false });
//! let name = types.synth(Ty::Array { elem: ch, len: 4 });
//! let s = types.synth(Ty::Record {
//!     kind: RecordKind::Struct,
//!     name: Some("s".into()),
//!     size: 8,
//!     members: vec![
//!         Member { name: Some("a".into()), ty: int, bit_offset: 0, bit_size: None },
//!         Member { name: Some("name".into()), ty: name, bit_offset: 32, bit_size: None },
//!     ],
//! });
//! let v = decode(&types, s, &[0xfe, 0xff, 0xff, 0xff, b'h', b'i', 0, 0], None, 1)?;
//! assert_eq!(kpeek_peek::print::text(&v, &|_| None), "{\n  a = -2,\n  name = \"hi\"\n}");
//! assert_eq!(Expr::parse("s.name[1]")?.to_string(), "s.name[1]");
//! # Ok::<(), kpeek_peek::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod btf;
pub mod buildid;
pub mod dwarf;
pub mod error;
pub mod expr;
pub mod fault;
pub mod format_fault;
pub mod globals;
pub mod kofile;
mod locate;
pub mod modsect;
mod options;
pub mod percpu;
mod percpu_eval;
pub mod plan;
pub mod print;
pub mod session;
pub mod testkit;
pub mod types;
pub mod value;
pub mod via;
pub mod walk;

pub use error::Error;
pub use session::{Answer, Locate, Options, PerCpuMethod, Session};
