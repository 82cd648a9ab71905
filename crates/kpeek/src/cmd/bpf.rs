//! `kpeek bpf`: counters and histograms aggregated in the kernel by BPF programs kpeek
//! assembles at run time, and a view of every BPF map and program on the system.

use std::process::ExitCode;

use clap::Subcommand;

mod count;
mod objects;
mod output;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BpfCommand,
}

#[derive(Subcommand)]
enum BpfCommand {
    /// Count tracepoint hits in the kernel, keyed by fields, with filter, sum and histogram.
    Count(count::Args),
    /// Every BPF map on the system: id, name, type, key/value size, entries, BTF.
    Maps(objects::MapsArgs),
    /// Every BPF program, with run count and run time (stats enabled while kpeek runs).
    Progs(objects::ProgsArgs),
    /// A map's keys and values, decoded with its BTF (or guessed without one).
    Dump(objects::DumpArgs),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BpfCommand::Count(a) => count::run(a),
        BpfCommand::Maps(a) => objects::maps(a),
        BpfCommand::Progs(a) => objects::progs(a),
        BpfCommand::Dump(a) => objects::dump(a),
    }
}
