//! `kpeek`: the command-line front end.
//!
//! Exit codes, shared by every subcommand:
//! - 0: success;
//! - 1: the command ran but a query had no answer (e.g. an address with no symbol);
//! - 2: usage error or bad input (unreadable or malformed file, bad filter, bad argument).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Carry data across the kernel/user boundary, fast, safely and measurably.
#[derive(Parser)]
#[command(name = "kpeek", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Kernel symbols: address -> name+off/size [module], name -> addresses.
    Sym(cmd::sym::Args),
    /// Kernel tracepoints: list, inspect, record, count.
    Trace(cmd::trace::Args),
    /// The kpeek.ko kernel module: counters through each channel.
    #[command(name = "mod")]
    Mod(cmd::module::Args),
    /// Kernel and module variables by name, typed: jiffies, mod:sym, runqueues@cpu1.nr_running.
    Peek(cmd::peek::Args),
    /// eBPF: counts and histograms aggregated in the kernel; BPF maps and programs.
    Bpf(cmd::bpf::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sym(args) => cmd::sym::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Mod(args) => cmd::module::run(args),
        Command::Peek(args) => cmd::peek::run(args),
        Command::Bpf(args) => cmd::bpf::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kpeek: {err:#}");
            ExitCode::from(2)
        }
    }
}
