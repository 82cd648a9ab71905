//! `kpeek-monitor`: the engine behind `kpeek top`, `kpeek watch` and `kpeek serve`.
//!
//! One metric model ([`model`]) for every source ([`source`]: kpeek.ko counters, tracepoint
//! counts, procfs/sysfs numbers, and anything else implementing [`source::Source`]). Data flows
//! one way: [`config`] says what to open; [`collect`] reads each source in its own thread with
//! a deadline; [`monitor`] keeps every series with its rates ([`rate`]: resets, wraps,
//! 1/10/60 s averages); [`order`] filters and sorts them for a table; [`expo`] renders Prometheus 0.0.4 / OpenMetrics 1.0 text, [`record`]
//! saves and replays rounds.
//!
//! Bad input is found before anything is opened and named with its place
//! ([`config::ConfigError`]: `file:line:column`, or the flag); a source that cannot be read
//! right now (no permission, module not loaded) is opened anyway and its error
//! ([`source::SourceError`], then [`collect::ReadError`]) shows at every refresh while the
//! other sources go on.
//!
//! Reading a configuration needs nothing of the system:
//!
//! ```
//! use std::time::Duration;
//! use kpeek_monitor::config::parse_config;
//!
//! let text = "interval = \"2s\"\n[[source]]\ntype = \"vmstat\"\nmetrics = [\"pg*fault\"]\n";
//! let cfg = parse_config(text, "kpeek.toml")?;
//! assert_eq!(cfg.interval, Some(Duration::from_secs(2)));
//! assert_eq!(cfg.sources[0].name(), "vmstat");
//!
//! let err = parse_config("interval = \"soon\"\n", "kpeek.toml").unwrap_err();
//! assert_eq!(err.to_string(), "kpeek.toml:1:12: \"soon\" is not a duration (e.g. 1s, 500ms, 2m)");
//! # Ok::<(), kpeek_monitor::config::ConfigError>(())
//! ```
//!
//! Monitoring the running system (tracepoint counts need root or CAP_PERFMON):
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use kpeek_client::SysRoot;
//! use kpeek_monitor::{collect::Collector, config, expo, monitor::Monitor};
//!
//! let root = SysRoot::real();
//! let sources = config::build(&config::default_specs(&root), &root)?;
//! let mut collector = Collector::new(sources);
//! let mut mon = Monitor::new();
//! let start = Instant::now();
//! for _ in 0..2 {
//!     let outcomes = collector.collect(Duration::from_millis(500));
//!     mon.ingest(start.elapsed().as_secs_f64(), kpeek_monitor::wall_now(), outcomes);
//!     std::thread::sleep(Duration::from_secs(1));
//! }
//! for row in mon.rows() {
//!     println!("{} {} {:?}", row.desc, row.value, row.rate);
//! }
//! let opts = expo::Options {
//!     format: expo::Format::Prometheus,
//!     collect: vec![],
//!     max_series: 10_000,
//!     dropped_before: 0,
//! };
//! print!("{}", expo::render(&mon, &opts).0);
//! # Ok::<(), kpeek_monitor::config::ConfigError>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod collect;
pub mod config;
pub mod expo;
pub mod model;
pub mod monitor;
pub mod order;
pub mod parse;
pub mod rate;
pub mod record;
pub mod source;

/// The Unix time now, in seconds.
pub fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
