//! Grammar and process plumbing shared by every subcommand: durations, globs, stdout that ends
//! quietly on a closed pipe, stop signals, real-time scheduling. New subcommands use these
//! rather than their own.

pub mod realtime;
pub mod signal;
