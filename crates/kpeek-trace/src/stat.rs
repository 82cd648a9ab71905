//! Counting mode: how many times tracepoints fire, per CPU, without recording anything.
//!
//! One counting perf event (no ring, no samples) per event per CPU; the kernel applies the
//! filter and only increments a counter, so this costs a fraction of recording.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{OptionFault, RecordError, open_error};
use crate::filter::filter_error_for;
use crate::format::EventFormat;
use crate::perf::{self, PerfEvent, TracepointConfig};
use crate::process::{raise_fd_limit, threads_of};
use crate::tracefs::{EventName, Tracefs};

/// Counts of one event on one CPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CpuCount {
    /// The CPU.
    pub cpu: i32,
    /// Hits on it.
    pub count: u64,
    /// Events per second over the elapsed time.
    pub rate: f64,
}

/// Counts of one event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventCount {
    /// The event, `system:name`.
    pub event: String,
    /// Hits on every CPU.
    pub total: u64,
    /// Hits per second over the elapsed time.
    pub rate: f64,
    /// Hits per CPU.
    pub per_cpu: Vec<CpuCount>,
}

/// The result of a counting run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatReport {
    /// How long the counters ran, in seconds.
    pub elapsed_s: f64,
    /// The kernel filter every event had, if any.
    pub filter: Option<String>,
    /// The counts, in the order the events were given.
    pub events: Vec<EventCount>,
}

/// Open counters for `events` on every CPU (or for a process), with an optional kernel filter.
pub struct Counter {
    formats: Vec<EventFormat>,
    /// Per event: (cpu, perf events on that CPU).
    perf: Vec<Vec<(i32, Vec<PerfEvent>)>>,
    filter: Option<String>,
}

impl Counter {
    /// Open one counter per event per CPU (or per thread of `pid`), each with `filter`.
    pub fn open(
        tracefs: &Tracefs,
        events: &[EventName],
        filter: Option<&str>,
        pid: Option<i32>,
    ) -> Result<Counter, RecordError> {
        if events.is_empty() {
            return Err(RecordError::BadOption(OptionFault::NoEvents("count")));
        }
        let cfilter = filter
            .map(|f| CString::new(f).map_err(|_| RecordError::BadOption(OptionFault::NulInFilter)))
            .transpose()?;
        let cpus = perf::online_cpus();
        let tids: Vec<Option<i32>> = match pid {
            Some(p) => threads_of(p)?.into_iter().map(Some).collect(),
            None => vec![None],
        };
        raise_fd_limit(events.len() * cpus.len() * tids.len() + 64);
        let mut formats = Vec::new();
        let mut all = Vec::new();
        for name in events {
            let format = tracefs.format(name).map_err(RecordError::from_tracefs)?;
            let config = TracepointConfig {
                id: u64::from(format.id),
                sampling: false,
                callchain: false,
                wakeup_bytes: 0,
                inherit: pid.is_some(),
            };
            let mut per_cpu = Vec::new();
            for &cpu in &cpus {
                let mut evs = Vec::new();
                for tid in &tids {
                    let ev = PerfEvent::tracepoint(&config, *tid, cpu)
                        .map_err(|e| open_error(name, *tid, cpu, pid, e))?;
                    if let Some(f) = &cfilter
                        && let Err(e) = ev.set_filter(f)
                    {
                        return Err(filter_error_for(tracefs, &format, filter, e));
                    }
                    evs.push(ev);
                }
                per_cpu.push((cpu, evs));
            }
            formats.push(format);
            all.push(per_cpu);
        }
        Ok(Counter {
            formats,
            perf: all,
            filter: filter.map(str::to_string),
        })
    }

    /// The events being counted, in the order given.
    pub fn formats(&self) -> &[EventFormat] {
        &self.formats
    }

    fn each(&self, f: impl Fn(&PerfEvent) -> std::io::Result<()>) -> Result<(), RecordError> {
        for per_cpu in &self.perf {
            for (_, evs) in per_cpu {
                for e in evs {
                    f(e).map_err(|source| RecordError::Io {
                        what: "perf ioctl".into(),
                        error: source,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Start counting (every CPU); [`Counter::report`] then reads the running totals.
    pub fn enable(&self) -> Result<(), RecordError> {
        self.each(PerfEvent::enable)
    }

    /// Count for `duration` (or until `stop` is set; both optional: with neither, until
    /// `stop`).
    pub fn run(
        &self,
        duration: Option<Duration>,
        stop: Option<&AtomicBool>,
    ) -> Result<StatReport, RecordError> {
        self.run_notify(duration, stop, || {})
    }

    /// [`Counter::run`], calling `enabled` once every counter is enabled: from then on every
    /// hit counts (a caller generating the events itself starts there).
    pub fn run_notify(
        &self,
        duration: Option<Duration>,
        stop: Option<&AtomicBool>,
        enabled: impl FnOnce(),
    ) -> Result<StatReport, RecordError> {
        let start = Instant::now();
        self.each(PerfEvent::enable)?;
        enabled();
        loop {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                break;
            }
            let left = duration.map(|d| d.saturating_sub(start.elapsed()));
            if left == Some(Duration::ZERO) {
                break;
            }
            std::thread::sleep(
                left.unwrap_or(Duration::from_millis(50))
                    .min(Duration::from_millis(50)),
            );
        }
        self.each(PerfEvent::disable)?;
        let elapsed = start.elapsed().as_secs_f64();
        self.report(elapsed)
    }

    /// Read every counter now.
    pub fn report(&self, elapsed_s: f64) -> Result<StatReport, RecordError> {
        let rate = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        let mut events = Vec::new();
        for (format, per_cpu) in self.formats.iter().zip(&self.perf) {
            let mut cpus = Vec::new();
            for (cpu, evs) in per_cpu {
                let mut count = 0;
                for e in evs {
                    count += e
                        .read_count()
                        .map_err(|source| RecordError::Io {
                            what: "reading a perf counter".into(),
                            error: source,
                        })?
                        .value;
                }
                cpus.push(CpuCount {
                    cpu: *cpu,
                    count,
                    rate: rate(count),
                });
            }
            let total = cpus.iter().map(|c| c.count).sum();
            events.push(EventCount {
                event: format.name.to_string(),
                total,
                rate: rate(total),
                per_cpu: cpus,
            });
        }
        Ok(StatReport {
            elapsed_s,
            filter: self.filter.clone(),
            events,
        })
    }
}

impl StatReport {
    /// A table: one row per event per CPU, then the event's total.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let w = self
            .events
            .iter()
            .map(|e| e.event.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<w$}  {:>5}  {:>14}  {:>14}",
            "event", "cpu", "count", "rate/s"
        );
        for e in &self.events {
            for c in &e.per_cpu {
                let _ = writeln!(
                    s,
                    "{:<w$}  {:>5}  {:>14}  {:>14.1}",
                    e.event, c.cpu, c.count, c.rate
                );
            }
            let _ = writeln!(
                s,
                "{:<w$}  {:>5}  {:>14}  {:>14.1}",
                e.event, "total", e.total, e.rate
            );
        }
        let _ = writeln!(
            s,
            "elapsed {:.3} s{}",
            self.elapsed_s,
            match &self.filter {
                Some(f) => format!(", filter: {f}"),
                None => String::new(),
            }
        );
        s
    }
}
