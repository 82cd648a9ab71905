//! `kpeek-trace`: kernel tracepoints on the live kernel.
//!
//! Data flows one way: [`tracefs`] finds events and their format files, [`format`] parses a
//! format file into a typed layout, [`decode`] turns a raw record into typed [`value`]s;
//! [`perf`] opens tracepoint events and reads perf mmap rings, [`record`] merges CPUs in time
//! order and accounts lost records, [`stat`] counts; [`output`] prints or writes files.

// Until every crate of the workspace documents its unsafe blocks (then a workspace lint).
#![deny(clippy::undocumented_unsafe_blocks)]

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
