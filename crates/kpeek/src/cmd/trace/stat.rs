//! `kpeek trace stat`: count tracepoint hits per CPU (perf counting mode), with rates.

use std::process::ExitCode;
use std::time::Duration;

use kpeek_trace::record::RecordError;
use kpeek_trace::stat::Counter;
use kpeek_trace::tracefs::Tracefs;

/// Count tracepoint hits per CPU and in total, with rates (no records are kept).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek trace stat syscalls:sys_enter_getppid --duration 1s
  kpeek trace stat 'net:*' --filter 'len > 1000' --json

Runs until --duration ends or Ctrl-C.")]
pub struct Args {
    /// Events as system:name, a bare unique name, or a glob ('net:*').
    #[arg(required = true, value_name = "EVENT")]
    events: Vec<String>,
    /// Kernel filter, in the kernel's syntax.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Count for this long (e.g. 1s, 500ms, 2m); default: until Ctrl-C.
    #[arg(long, value_name = "D", value_parser = crate::cli::duration::parse_duration)]
    duration: Option<Duration>,
    /// Only this process (all its threads, and their children).
    #[arg(long, value_name = "PID")]
    pid: Option<i32>,
    /// Print the counts as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tracefs = Tracefs::discover().map_err(RecordError::from_tracefs)?;
    let events = kpeek_trace::record::resolve_events(&tracefs, &args.events)?;
    let counter = Counter::open(&tracefs, &events, args.filter.as_deref(), args.pid)?;
    let stop = crate::cli::signal::stop_flag();
    let report = counter.run(args.duration, Some(stop))?;
    if args.json {
        crate::outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        std::io::Write::write_all(&mut std::io::stdout().lock(), report.to_text().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
