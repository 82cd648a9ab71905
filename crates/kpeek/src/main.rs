//! `kpeek`: the command-line front end.
//!
//! Exit codes, shared by every subcommand:
//! - 0: success;
//! - 1: the command ran but a query had no answer (e.g. an address with no symbol);
//! - 2: usage error or bad input (unreadable or malformed file, bad filter, bad argument).

// Until every crate of the workspace documents its unsafe blocks (then a workspace lint).
#![deny(clippy::undocumented_unsafe_blocks)]
// Output goes through `outln!`/`errln!` (cli/output.rs): `println!`/`eprintln!` panic when the
// reader of stdout or stderr has gone away.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cli;
mod cmd;

/// Carry data across the kernel/user boundary, fast, safely and measurably.
#[derive(Parser)]
#[command(
    name = "kpeek",
    version = env!("KPEEK_LONG_VERSION"),
    about,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// `defer`: a subcommand's arguments are defined only when it is the one invoked (start-up
// cost: the whole command tree is thousands of allocations).
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Kernel symbols: address -> name+off/size [module], name -> addresses.
    Sym(cmd::sym::Args),
    /// Kernel tracepoints: list, inspect, record, count.
    Trace(cmd::trace::Args),
    /// The kpeek.ko kernel module: counters through each channel.
    #[command(name = "mod")]
    Mod(cmd::module::Args),
    /// eBPF: counts and histograms aggregated in the kernel; BPF maps and programs.
    Bpf(cmd::bpf::Args),
    /// Live values and rates of monitored metrics in the terminal.
    Top(cmd::top::Args),
    /// Serve monitored metrics to Prometheus / OpenMetrics scrapers.
    Serve(cmd::serve::Args),
    /// Print monitored values and rates every interval (text, JSON lines, CSV).
    Watch(cmd::watch::Args),
    /// What this machine allows: kernel features, permissions, and what each command needs.
    Doctor(cmd::doctor::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::Args),
    /// Write the man pages into a directory (used by scripts/package).
    #[command(hide = true)]
    Manpages(cmd::completions::ManArgs),
    /// Kernel and module variables by name, typed: jiffies, mod:sym, runqueues@cpu1.nr_running.
    Peek(cmd::peek::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sym(args) => cmd::sym::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Mod(args) => cmd::module::run(args),
        Command::Bpf(args) => cmd::bpf::run(args),
        Command::Top(args) => cmd::top::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Manpages(args) => cmd::completions::run_man(args, Cli::command()),
        Command::Peek(args) => cmd::peek::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`| head`): not an error of ours.
        Err(err) if cli::output::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            crate::errln!("kpeek: {err:#}");
            ExitCode::from(2)
        }
    }
}
