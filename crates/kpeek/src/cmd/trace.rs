//! `kpeek trace`: kernel tracepoints on the live kernel.

use std::process::ExitCode;

use clap::Subcommand;

mod format;
mod list;
pub(crate) mod record;
mod stat;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Subcommand)]
enum TraceCommand {
    /// List tracepoint events, optionally matching a glob (e.g. 'net:*' or '*skb*').
    List(list::Args),
    /// Show an event's fields: type, offset, size, signedness.
    Format(format::Args),
    /// Record events through perf ring buffers and print or save them.
    Record(record::Args),
    /// Count events per CPU (perf counting mode), with rates.
    Stat(stat::Args),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        TraceCommand::List(a) => list::run(a),
        TraceCommand::Format(a) => format::run(a),
        TraceCommand::Record(a) => record::run(a),
        TraceCommand::Stat(a) => stat::run(a),
    }
}
