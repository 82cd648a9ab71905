//! `kpeek bpf count`: attach generated programs, print per interval and at the end.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use kpeek_bpf::count::{Counter, Request};
use kpeek_trace::record::RecordError;
use kpeek_trace::tracefs::Tracefs;

use super::output::{Printer, Style};
use crate::cli::duration::parse_duration;
use crate::cli::signal::stop_flag;

/// Count tracepoint hits in per-CPU maps in the kernel (no module, no compiler).
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kpeek bpf count syscalls:sys_enter_getppid --by pid,comm --duration 5s
  kpeek bpf count net:netif_receive_skb --by name --filter 'name == \"lo\"'
  kpeek bpf count net:net_dev_xmit --hist len --by name --interval 1s
  kpeek bpf count sched:sched_switch --by prev_comm --top 10 --json
  kpeek bpf count 'syscalls:sys_enter_*' --by comm --count 100000

Keys (--by) and fields (--filter, --sum, --hist) are the event's fields (`kpeek trace format
EVENT`), and comm, pid (process), tid (thread; also common_pid), cpu and kstack (kernel stack).
A field of the event wins over these names (sched_wakeup's pid is the woken task). The other
common_* fields are hidden from BPF programs by the kernel.
--filter uses the kernel's tracepoint filter grammar: == != < <= > >= & on numbers, == != and ~
on strings (~ globs: * ? [a-z] [!a] \\x, a leading ! inverts), && || ! and parentheses. With
several events the key starts with the event. Other tools counting the same tracepoint (perf
stat, kpeek trace stat) keep seeing every hit. Stops on Ctrl-C, SIGTERM, --duration or --count; everything kpeek
loaded is gone when it exits.")]
pub struct Args {
    /// Events as system:name, a bare unique name, or a glob ('syscalls:sys_enter_*').
    #[arg(required = true, value_name = "EVENT")]
    events: Vec<String>,
    /// Key names, comma-separated (fields, comm, pid, tid, cpu, kstack); none: one total.
    #[arg(long, value_name = "KEY[,KEY...]", value_delimiter = ',')]
    by: Vec<String>,
    /// Only count records matching this tracepoint filter expression.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Also sum this integer field per key.
    #[arg(long, value_name = "FIELD")]
    sum: Option<String>,
    /// A histogram of this integer field per key (log2 buckets, as bpftrace's hist()).
    #[arg(long, value_name = "FIELD")]
    hist: Option<String>,
    /// Linear histogram buckets of this width instead of log2 (64 buckets, then overflow).
    #[arg(long, value_name = "STEP", requires = "hist")]
    linear: Option<u64>,
    /// Print what was counted in each interval (e.g. 1s); totals are printed at the end.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    interval: Option<Duration>,
    /// Count for this long (e.g. 10s, 500ms); default: until Ctrl-C.
    #[arg(long, value_name = "D", value_parser = parse_duration, conflicts_with = "count")]
    duration: Option<Duration>,
    /// Stop once this many events were counted (checked every 50 ms; totals may pass it).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Only the N keys with the highest counts.
    #[arg(long, value_name = "N")]
    top: Option<usize>,
    /// Most keys kept; new keys beyond it are counted as lost ("map full").
    #[arg(long, value_name = "N", default_value_t = 16384)]
    max_keys: u32,
    /// One JSON object per interval and one at the end.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = match &args.filter {
        Some(f) => Some(kpeek_filter::parse(f).map_err(|e| anyhow::anyhow!("--filter: {e}"))?),
        None => None,
    };
    if args.by.iter().any(|b| b.is_empty()) {
        anyhow::bail!("--by: empty key name in {:?}", args.by.join(","));
    }
    let tracefs = Tracefs::discover().map_err(RecordError::from_tracefs)?;
    let names = kpeek_trace::record::resolve_events(&tracefs, &args.events)?;
    let formats = names
        .iter()
        .map(|n| tracefs.format(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(kpeek_bpf::Error::from)?;
    let req = Request {
        by: args.by.clone(),
        filter,
        sum: args.sum.clone(),
        hist: args.hist.clone(),
        linear: args.linear,
    };
    let stop = stop_flag();
    let mut counter = Counter::start(&formats, &req, args.max_keys)?;
    let event_list: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    crate::errln!(
        "kpeek: counting {} in the kernel; Ctrl-C to stop",
        event_list.join(", ")
    );
    let style = Style {
        json: args.json,
        top: args.top,
        hist: args.hist.clone(),
        linear: args.linear,
        sum: args.sum.clone(),
    };
    let mut printer = Printer::new(style, counter.key_names(), counter.has_stacks())?;
    let start = Instant::now();
    let mut prev = kpeek_bpf::count::Snapshot::default();
    let mut next_tick = args.interval.map(|i| start + i);
    let mut interval_no = 0u64;
    let out = std::io::stdout();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if args.duration.is_some_and(|d| now >= start + d) {
            break;
        }
        if let Some(t) = next_tick.filter(|t| now >= *t) {
            let snap = counter.snapshot()?;
            interval_no += 1;
            let mut o = out.lock();
            printer.print(
                &mut o,
                &snap.since(&prev),
                Some(interval_no),
                start.elapsed(),
            )?;
            o.flush()?;
            prev = snap;
            next_tick = Some(t + args.interval.unwrap_or_default());
        }
        if let Some(n) = args.count {
            let snap = counter.snapshot()?;
            if snap.entries.iter().map(|e| e.count).sum::<u64>() >= n {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    counter.detach();
    let last = counter.snapshot()?;
    let mut o = out.lock();
    printer.print(&mut o, &last, None, start.elapsed())?;
    o.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}
