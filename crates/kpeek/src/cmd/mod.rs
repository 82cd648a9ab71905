//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod completions;
pub mod doctor;
pub mod module;
pub mod sym;
pub mod trace;
