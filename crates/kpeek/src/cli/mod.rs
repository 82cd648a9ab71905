//! Grammar and process plumbing shared by every subcommand: durations, stdout that ends
//! quietly on a closed pipe, stop signals, real-time scheduling. New subcommands use these
//! rather than their own.

pub mod duration;
pub mod output;
pub mod realtime;
pub mod signal;
//
// Globs: every name pattern is compiled by `ksyms::compile_glob` (globset's dialect), which
// `ksyms::Pattern::glob` and `kpeek_trace::tracefs::Glob` use too.
