//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod bpf;
pub mod module;
pub mod peek;
pub mod sym;
pub mod trace;
