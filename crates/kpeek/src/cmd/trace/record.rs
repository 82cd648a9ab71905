//! `kpeek trace record`: record tracepoints through perf rings and print or save them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use kpeek_trace::output::{ChromeWriter, CtfWriter, JsonWriter, Symbolizer, TextWriter};
use kpeek_trace::record::{RecordError, RecordOptions, Session, Sink, Stop, Summary};
use kpeek_trace::tracefs::Tracefs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// lttng-view-like lines: [time] (+delta) host system:event: { cpu_id = N }, { fields }
    Text,
    /// One JSON object per event per line: {"ts","cpu","pid","tid","event","fields"}
    Json,
    /// Chrome/Perfetto trace-event JSON (open in ui.perfetto.dev or chrome://tracing)
    Chrome,
    /// CTF 1.8 trace directory (-o DIR): metadata + one stream per CPU, for babeltrace2
    Ctf,
}

/// Record kernel tracepoints (perf rings, filtered in the kernel, merged in time order).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek trace record net:netif_receive_skb --filter 'name == \"lo\"' --count 10
  kpeek trace record sched:sched_switch --duration 5s --format chrome -o sched.json
  kpeek trace record syscalls:sys_enter_openat --pid 1234 --json
  kpeek trace record 'net:*' --format ctf -o trace-dir && babeltrace2 trace-dir

Stops on Ctrl-C, --duration, --count or the end of --pid. Records lost because a ring was
full are shown where they happened and totalled on stderr; raise --buffer-pages if any are.")]
pub struct Args {
    /// Events as system:name, a bare unique name, or a glob ('net:*').
    #[arg(required = true, value_name = "EVENT")]
    events: Vec<String>,
    /// Kernel filter, in the kernel's syntax (e.g. 'common_pid == 42 && len > 100').
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Stop after this long (e.g. 10s, 500ms, 2m; a bare number is seconds).
    #[arg(long, value_name = "D", value_parser = crate::cli::duration::parse_duration, conflicts_with = "count")]
    duration: Option<Duration>,
    /// Stop after N events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Only this process (all its threads, and their children).
    #[arg(long, value_name = "PID")]
    pid: Option<i32>,
    /// Write to FILE instead of standard output (a directory for --format ctf).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Ring buffer data pages per CPU (a power of two; 256 pages = 1 MiB).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = parse_buffer_pages)]
    buffer_pages: usize,
    /// Record kernel call stacks, symbolized from /proc/kallsyms.
    #[arg(long)]
    callchain: bool,
    /// Read the rings under SCHED_FIFO PRIO (1-99), like perf record -r, so other processes
    /// cannot delay the reader on a busy machine.
    #[arg(long, value_name = "PRIO")]
    realtime: Option<i32>,
}

fn parse_buffer_pages(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n.is_power_of_two() => Ok(n),
        _ => Err(format!(
            "--buffer-pages must be a power of two (1, 2, 4, ... pages per CPU), got {s}"
        )),
    }
}

fn symbolizer() -> anyhow::Result<Symbolizer> {
    let ksyms = ksyms::Ksyms::load_live().context("loading /proc/kallsyms for --callchain")?;
    Ok(Box::new(move |addr, out: &mut String| {
        use std::fmt::Write;
        match ksyms.lookup(addr) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => out.push('?'),
        }
    }))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tracefs = Tracefs::discover().map_err(RecordError::from_tracefs)?;
    let events = kpeek_trace::record::resolve_events(&tracefs, &args.events)?;
    let opts = RecordOptions {
        filter: args.filter.clone(),
        pid: args.pid,
        buffer_pages: args.buffer_pages,
        callchain: args.callchain,
        cpus: None,
    };
    let mut session = Session::open(&tracefs, &events, &opts).map_err(|e| match e {
        RecordError::Ring {
            source: kpeek_trace::perf::RingError::Map(_),
            ..
        } => anyhow::Error::new(e).context(format!(
            "mapping {}-page rings (lower --buffer-pages, or raise \
             /proc/sys/kernel/perf_event_mlock_kb)",
            opts.buffer_pages
        )),
        e => e.into(),
    })?;
    if let Some(prio) = args.realtime {
        crate::cli::realtime::set_fifo_priority(prio)?;
    }
    let format = if args.json { Format::Json } else { args.format };
    let ctf_dir = match (format, &args.output) {
        (Format::Ctf, Some(dir)) => Some(dir.clone()),
        (Format::Ctf, None) => {
            anyhow::bail!("--format ctf writes a directory: give it with -o DIR")
        }
        _ => None,
    };
    let out: Box<dyn Write> = match args.output.as_ref().filter(|_| ctf_dir.is_none()) {
        Some(p) => Box::new(
            File::create(p).with_context(|| format!("creating output file {}", p.display()))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let out = BufWriter::with_capacity(1 << 18, out);
    let sym = if args.callchain {
        Some(symbolizer()?)
    } else {
        None
    };
    let mut sink: Box<dyn Sink> = match format {
        Format::Text => {
            let w = TextWriter::new(out, kpeek_trace::output::hostname());
            Box::new(match sym {
                Some(s) => w.with_symbolizer(s),
                None => w,
            })
        }
        Format::Json => {
            let w = JsonWriter::new(out);
            Box::new(match sym {
                Some(s) => w.with_symbolizer(s),
                None => w,
            })
        }
        Format::Chrome => {
            let w = ChromeWriter::new(out);
            Box::new(match sym {
                Some(s) => w.with_symbolizer(s),
                None => w,
            })
        }
        Format::Ctf => {
            let dir = ctf_dir.expect("checked above");
            Box::new(
                CtfWriter::create(&dir, kpeek_trace::output::hostname())
                    .with_context(|| format!("creating CTF trace directory {}", dir.display()))?,
            )
        }
    };
    let stop = Stop {
        flag: Some(crate::cli::signal::stop_flag()),
        duration: args.duration,
        count: args.count,
    };
    let summary = match session.run(stop, sink.as_mut()) {
        Ok(s) => s,
        // A closed pipe (`| head`) ends the recording; it is not an error.
        Err(RecordError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    report(
        &summary,
        session.formats(),
        session.cpus().len(),
        args.buffer_pages,
    );
    Ok(ExitCode::SUCCESS)
}

fn report(s: &Summary, formats: &[kpeek_trace::format::EventFormat], cpus: usize, pages: usize) {
    let secs = s.elapsed.as_secs_f64();
    let per_event: Vec<String> = formats
        .iter()
        .zip(&s.per_event)
        .map(|(f, n)| format!("{} {n}", f.name))
        .collect();
    crate::errln!(
        "kpeek: {} events in {secs:.3} s ({:.0}/s) on {cpus} CPUs [{}]; lost {}",
        s.events,
        if secs > 0.0 {
            s.events as f64 / secs
        } else {
            0.0
        },
        per_event.join(", "),
        s.lost()
    );
    if s.lost() > 0 {
        crate::errln!(
            "kpeek: LOST {} records ({} reported by the kernel in the rings, {} counted only by \
             its counters at the end): the reader fell behind; raise --buffer-pages (now {pages} \
             pages per CPU) or narrow the --filter",
            s.lost(),
            s.lost_reported,
            s.lost_unreported
        );
    }
    if s.throttled > 0 {
        crate::errln!("kpeek: the kernel throttled sampling {} times", s.throttled);
    }
    if s.unknown_records > 0 {
        crate::errln!(
            "kpeek: {} records of unexpected types were skipped",
            s.unknown_records
        );
    }
}
