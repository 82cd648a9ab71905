//! `kpeek-trace`: kernel tracepoints on the live kernel: find them, parse their record
//! layouts, record them through perf rings in time order with every loss accounted for, count
//! them, and write the records as text, JSON, Chrome trace or CTF.
//!
//! Layers, each using only those before it:
//! - leaf types: [`tracefs::EventName`], [`value`], [`clock`];
//! - sources: [`tracefs`] (event names, format files, raw pages) and [`perf`]
//!   (`perf_event_open`, the validated mmap ring, its records);
//! - decoding: [`format`](mod@format) parses a format file into a typed layout, [`decode`] turns a raw
//!   record into typed values;
//! - model: [`model`] is what a session delivers ([`model::Event`], [`model::Lost`],
//!   [`model::Summary`]) to any [`model::Sink`];
//! - sessions: [`record`] (sampling, per-CPU streams merged in time order) and [`stat`]
//!   (counting mode, [`stat::Counter`]);
//! - outputs: [`output`] (the sinks).
//!
//! Parsing a format file and decoding a record needs no privileges:
//!
//! ```
//! use kpeek_trace::format::EventFormat;
//! use kpeek_trace::value::Value;
//!
//! let format = EventFormat::parse(
//!     "name: sys_enter_getppid\nID: 42\nformat:\n\
//!      \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//!      \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
//!      \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
//!      \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//!      \tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\n\
//!      print fmt: \"\"\n",
//! )?;
//! let mut raw = vec![42, 0, 0, 0];
//! raw.extend(1234i32.to_ne_bytes()); // common_pid
//! raw.extend(110i32.to_ne_bytes()); // __syscall_nr
//! let fields = format.decode(&raw)?;
//! assert_eq!(fields, [("__syscall_nr", Value::I64(110))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Recording (root or CAP_PERFMON): `Tracefs::discover()`, `record::resolve_events`,
//! `record::Session::open(&tracefs, &events, &options)?.run(stop, &mut sink)`, with any
//! [`output`] writer as the sink.
#![warn(missing_docs, unreachable_pub)]

pub mod clock;
pub mod decode;
pub mod error;
mod event_name;
mod filter;
pub mod format;
pub mod model;
pub mod output;
pub mod perf;
mod process;
pub mod record;
pub mod stat;
pub mod tracefs;
pub mod value;
