//! `kpeek trace`: kernel tracepoints on the live kernel.

use std::process::ExitCode;

use clap::Subcommand;
use kpeek_trace::tracefs::TracefsError;

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
    let result = match args.command {
        TraceCommand::List(a) => list::run(a),
        TraceCommand::Format(a) => format::run(a),
        TraceCommand::Record(a) => record::run(a),
        TraceCommand::Stat(a) => stat::run(a),
    };
    result.map_err(point_to_list)
}

/// An unknown event with no close name: say where the names are.
fn point_to_list(err: anyhow::Error) -> anyhow::Error {
    let unknown = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<TracefsError>(),
            Some(TracefsError::UnknownEvent { suggestions, .. }) if suggestions.is_empty()
        )
    });
    if unknown {
        anyhow::anyhow!("{err:#}; `kpeek trace list` shows the events this kernel has")
    } else {
        err
    }
}
