//! `kpeek watch`: like `perf stat -I`, one block of values and rates every interval, as text,
//! JSON lines or CSV.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kpeek_monitor::config;
use kpeek_monitor::monitor::{Monitor, Row};
use serde_json::json;

use super::monitor::{Feed, SourceArgs, root};

/// Print values and rates every interval (headless `kpeek top`).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek watch                                   # the default set, every second
  kpeek watch --tracepoint sched:sched_switch --count 5 --json
  kpeek watch --kpeek --interval 100ms --csv
  kpeek watch -c kpeek.toml --record day.jsonl
  kpeek watch --replay day.jsonl --json

Each block has one line per metric: value, rate per second (counters), and the source errors of
that round (a failing source never stops the watch). A counter that went back (module reload,
reset) shows `reset` instead of a rate. Runs until --count rounds or Ctrl-C.")]
pub struct Args {
    #[command(flatten)]
    sources: SourceArgs,
    /// Time between rounds (default: the config's `interval`, else 1s).
    #[arg(short = 'i', long, value_name = "D", value_parser = config::parse_duration)]
    interval: Option<Duration>,
    /// Stop after this many blocks.
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// One JSON object per block (one per line).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV: a header, then one row per metric per block.
    #[arg(long)]
    csv: bool,
    /// Save every round's readings to FILE (replay with --replay).
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Show a recording made with --record instead of live sources.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

fn fmt_rate(r: &Row) -> String {
    if r.reset {
        "reset".into()
    } else {
        match r.rate {
            Some(x) => format!("{x:.1}/s"),
            None => "-".into(),
        }
    }
}

fn json_row(m: &Monitor, r: &Row) -> serde_json::Value {
    let d = &r.desc;
    let labels: serde_json::Map<String, serde_json::Value> = d
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let [a1, a10, a60] = m.averages(r);
    let mut o = json!({
        "source": d.source, "name": d.name, "labels": labels, "kind": d.kind.name(),
        "unit": d.unit, "value": value_json(r), "rate": r.rate, "avg1": a1, "avg10": a10,
        "avg60": a60, "reset": r.reset,
    });
    if !r.per_cpu.is_empty() {
        o["per_cpu"] = r
            .cpu_rates(m.series())
            .iter()
            .map(|(c, v, rate)| json!({"cpu": c, "value": v, "rate": rate}))
            .collect();
    }
    o
}

/// Exact integers stay exact (a u64 counter past 2^53 must not be rounded).
fn value_json(r: &Row) -> serde_json::Value {
    match r.exact {
        Some(v) => json!(v),
        None => json!(r.value),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn print_block(m: &Monitor, args: &Args, out: &mut impl Write) -> io::Result<()> {
    if args.json {
        let errors: Vec<_> = m
            .status()
            .iter()
            .filter(|s| !s.ok)
            .map(|s| json!({"source": s.source, "error": s.error}))
            .collect();
        let metrics: Vec<_> = m.rows().iter().map(|r| json_row(m, r)).collect();
        let o = json!({"t": m.t, "wall": m.wall, "metrics": metrics, "errors": errors});
        writeln!(out, "{o}")?;
    } else if args.csv {
        for r in m.rows() {
            let d = &r.desc;
            writeln!(
                out,
                "{:.3},{},{},{},{},{},{},{}",
                m.t,
                csv_field(&d.source),
                csv_field(&d.name),
                csv_field(&d.labels_text()),
                d.kind.name(),
                d.unit,
                r.value_text(),
                if r.reset {
                    "reset".to_owned()
                } else {
                    r.rate.map(|x| x.to_string()).unwrap_or_default()
                }
            )?;
        }
        for s in m.status().iter().filter(|s| !s.ok) {
            writeln!(
                out,
                "{:.3},{},error,{},,,,",
                m.t,
                csv_field(&s.source),
                csv_field(s.error.as_deref().unwrap_or(""))
            )?;
        }
    } else {
        writeln!(out, "# {:.3} s", m.t)?;
        for r in m.rows() {
            let d = &r.desc;
            let unit = if d.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", d.unit)
            };
            writeln!(
                out,
                "{:>18}{unit:<8} {:>14}  {}:{}{}",
                r.value_text(),
                fmt_rate(r),
                d.source,
                d.name,
                if d.labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", d.labels_text())
                }
            )?;
        }
        for s in m.status().iter().filter(|s| !s.ok) {
            writeln!(
                out,
                "{:>18}{:8} {:>14}  {}: {}",
                "ERROR",
                "",
                "",
                s.source,
                s.error.as_deref().unwrap_or("")
            )?;
        }
    }
    out.flush()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = root();
    let mut feed = match &args.replay {
        Some(p) => Feed::replay(p)?,
        None => {
            let plan = args.sources.plan(&root)?;
            let interval = args
                .interval
                .or(plan.interval)
                .unwrap_or(Duration::from_secs(1));
            let feed = Feed::live(&plan, &root, args.record.as_ref())?;
            return watch(feed, interval, &args);
        }
    };
    // A replay prints every recorded round after the first (which only sets the baseline).
    let mut m = Monitor::new();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.csv {
        writeln!(out, "t,source,name,labels,kind,unit,value,rate")?;
    }
    let mut n = 0;
    while let Some((t, wall, o)) = feed.next()? {
        m.ingest(t, wall, o);
        if m.rounds() == 1 {
            continue;
        }
        print_block(&m, &args, &mut out)?;
        n += 1;
        if args.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn watch(mut feed: Feed, interval: Duration, args: &Args) -> anyhow::Result<ExitCode> {
    let stop = crate::cli::signal::stop_flag();
    let mut m = Monitor::new();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.csv {
        writeln!(out, "t,source,name,labels,kind,unit,value,rate")?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    let mut tick = 0u32;
    loop {
        if let Some((t, wall, o)) = feed.next()? {
            m.ingest(t, wall, o);
        }
        if m.rounds() > 1 {
            if let Err(e) = print_block(&m, args, &mut out) {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(e.into());
            }
            n += 1;
            if args.count.is_some_and(|c| n >= c) {
                break;
            }
        }
        tick += 1;
        let next = start + interval * tick;
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(
                next.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
