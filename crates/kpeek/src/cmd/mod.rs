//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod bpf;
pub mod completions;
pub mod doctor;
pub mod module;
pub mod monitor;
pub mod peek;
pub mod serve;
pub mod sym;
pub mod top;
pub mod trace;
pub mod watch;
