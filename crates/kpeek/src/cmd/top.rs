//! `kpeek top`: the monitor in the terminal (ratatui + crossterm). The sources are read in a
//! background thread; the screen thread keeps the rates and draws, so keys stay responsive
//! with thousands of metrics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kpeek_monitor::config;
use kpeek_monitor::monitor::Monitor;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::monitor::{Feed, Round, SourceArgs, root};

mod view;

/// Live values and rates of every monitored metric, in the terminal.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek top                                    # kpeek.ko, tracepoints, vmstat: the default set
  kpeek top --tracepoint 'sched:*' --tracepoint 'syscalls:*'
  kpeek top -c kpeek.toml --record day.jsonl
  kpeek top --replay day.jsonl

Keys: arrows/PgUp/PgDn/Home/End move, Enter details (per-CPU values, history chart),
s / S sort by the next column / reverse, 1-5 sort by column, / filter (Enter keeps, Esc
clears), p pause, ? help, q or Esc back/quit, Ctrl-C quit.")]
pub struct Args {
    #[command(flatten)]
    sources: SourceArgs,
    /// Time between rounds (default: the config's `interval`, else 1s).
    #[arg(short = 'i', long, value_name = "D", value_parser = config::parse_duration)]
    interval: Option<Duration>,
    /// Save every round's readings to FILE (replay with --replay).
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Show a recording made with --record (or `kpeek watch --record`) instead of live sources.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

/// Feed rounds from a thread: live every `interval`, a replay at its recorded pace.
fn feeder(
    mut feed: Feed,
    interval: Duration,
    replay: bool,
) -> mpsc::Receiver<anyhow::Result<Round>> {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut tick = 0u32;
        let mut last_t: Option<f64> = None;
        loop {
            let r = feed.next();
            let (stop, wait) = match &r {
                Ok(Some((t, _, _))) if replay => {
                    let wait = last_t.map_or(0.0, |l| (t - l).clamp(0.0, 5.0));
                    last_t = Some(*t);
                    (false, Duration::from_secs_f64(wait))
                }
                Ok(Some(_)) => (false, Duration::ZERO),
                Ok(None) => (true, Duration::ZERO),
                Err(_) => (true, Duration::ZERO),
            };
            if replay {
                std::thread::sleep(wait);
            }
            let item = match r {
                Ok(Some(round)) => Ok(round),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.send(item).is_err() || stop {
                break;
            }
            if !replay {
                tick += 1;
                let next = start + interval * tick;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        }
    });
    rx
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = root();
    let (feed, interval, replay) = match &args.replay {
        Some(p) => (Feed::replay(p)?, Duration::from_secs(1), true),
        None => {
            let plan = args.sources.plan(&root)?;
            let interval = args
                .interval
                .or(plan.interval)
                .unwrap_or(Duration::from_secs(1));
            (
                Feed::live(&plan, &root, args.record.as_ref())?,
                interval,
                false,
            )
        }
    };
    let rounds = feeder(feed, interval, replay);
    let stop = crate::cli::signal::stop_flag();
    // ratatui::init installs a panic hook that restores the terminal before the message.
    let mut term = ratatui::init();
    let result = ui_loop(&mut term, &rounds, stop, interval, replay);
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}

fn ui_loop(
    term: &mut ratatui::DefaultTerminal,
    rounds: &mpsc::Receiver<anyhow::Result<Round>>,
    stop: &std::sync::atomic::AtomicBool,
    interval: Duration,
    replay: bool,
) -> anyhow::Result<()> {
    let mut mon = Monitor::new();
    let mut app = view::App::new(interval, replay);
    let mut dirty = true;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        loop {
            match rounds.try_recv() {
                Ok(Ok((t, wall, o))) => {
                    if !app.paused {
                        mon.ingest(t, wall, o);
                        dirty = true;
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    if !app.ended {
                        app.ended = true;
                        dirty = true;
                    }
                    break;
                }
            }
        }
        if dirty {
            term.draw(|f| app.draw(f, &mon))?;
            dirty = false;
        }
        if event::poll(Duration::from_millis(100))? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
                        return Ok(());
                    }
                    if app.key(k.code, &mon) {
                        return Ok(());
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
}
