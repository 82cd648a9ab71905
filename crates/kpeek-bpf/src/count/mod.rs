//! `kpeek bpf count`: count tracepoint hits in the kernel, keyed by record fields or task
//! facts, with an optional filter, sum and histogram, in per-CPU maps.
//!
//! [`plan`] resolves names against event formats; [`codegen`] assembles one program per event;
//! [`run`] loads, attaches and reads them.

pub mod codegen;
pub mod plan;
pub mod run;
mod strmatch;

pub use plan::{HIST_SLOTS, HistKind, Request};
pub use run::{Counter, Entry, KeyValue, Snapshot};
