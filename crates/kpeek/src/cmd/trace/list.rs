//! `kpeek trace list [GLOB]`: the tracepoint events this kernel has.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kpeek_trace::tracefs::{EventName, Tracefs};
use serde::Serialize;

const AFTER_HELP: &str = "\
GLOB matches system:name ('net:*', '*skb*', 'sched:sched_?ake*'); a GLOB without ':' also
matches the bare event name ('sys_enter_get*'). Supports *, ? and [a-z] classes.

Examples:
  kpeek trace list 'sched:*'
  kpeek trace list '*skb*' --json

Exit codes: 0 events listed; 1 nothing matched GLOB; 2 tracefs missing or unreadable.";

/// List tracepoint events as system:name, sorted.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Only events matching this glob.
    #[arg(value_name = "GLOB")]
    glob: Option<String>,
    /// A JSON array of {"event","system","name","id"}.
    #[arg(long)]
    json: bool,
    /// Use this tracefs mount instead of /sys/kernel/tracing (or /sys/kernel/debug/tracing).
    #[arg(long, value_name = "DIR")]
    tracefs: Option<PathBuf>,
}

/// Find tracefs: `--tracefs DIR` as given, else the usual places (mounting it when absent and
/// we may, as trace-cmd does).
pub(super) fn open_tracefs(dir: Option<&PathBuf>) -> anyhow::Result<Tracefs> {
    Ok(match dir {
        Some(d) => Tracefs::discover_in([d.clone()])?,
        None => Tracefs::discover_or_mount()?,
    })
}

#[derive(Serialize)]
struct Entry<'a> {
    event: String,
    system: &'a str,
    name: &'a str,
    /// `None` for ftrace's internal events, which have no id file.
    id: Option<u32>,
}

fn event_id(fs: &Tracefs, ev: &EventName) -> Option<u32> {
    let text = kpeek_trace::tracefs::read_text(&fs.event_dir(ev).join("id")).ok()?;
    text.trim().parse().ok()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let fs = open_tracefs(args.tracefs.as_ref())?;
    let events = fs.events(args.glob.as_deref())?;
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let entries: Vec<Entry> = events
            .iter()
            .map(|ev| Entry {
                event: ev.to_string(),
                system: &ev.system,
                name: &ev.name,
                id: event_id(&fs, ev),
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
    } else {
        for ev in &events {
            writeln!(out, "{ev}")?;
        }
    }
    out.flush()?;
    if events.is_empty() {
        if let Some(g) = &args.glob {
            crate::errln!("kpeek: no event matches `{g}`");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
