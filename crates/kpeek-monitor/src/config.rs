//! What to monitor: a TOML file (`-c kpeek.toml`), quick flags, or the default set. Parsed into
//! [`SourceSpec`]s, then opened into [`Source`]s by [`build`].
//!
//! ```toml
//! interval = "1s"          # refresh period (top, watch)
//! timeout = "500ms"        # per-source read timeout
//!
//! [[source]]
//! type = "kpeek"           # kpeek.ko counters
//! via = "mmap"             # any kpeek-client channel
//!
//! [[source]]
//! type = "tracepoint"
//! name = "bigrx"           # exported as kpeek_bigrx_...
//! events = ["net:netif_receive_skb"]
//! filter = "len > 1000"
//!
//! [[source]]
//! type = "vmstat"          # also: stat, snmp, netdev, netclass, pressure
//! metrics = ["pg*fault"]   # globs; default: all
//!
//! [[source]]
//! type = "file"
//! path = "/proc/sys/fs/file-nr"
//! metric = "open_files"
//! kind = "gauge"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use kpeek_client::{Channel, SysRoot};
use serde::Deserialize;

use crate::model::Kind;
use crate::source::kpeek_ko::KpeekSource;
use crate::source::procfs::{ProcKind, ProcSource};
use crate::source::tracepoint::TracepointSource;
use crate::source::{NameFilter, Source, Spawn};

mod error;

pub use error::{ConfigError, ConfigFault, DurationError, Place, SpecError};

/// The built-in source types, as config files and `--source` spell them.
pub const SOURCE_TYPES: [&str; 9] = [
    "kpeek",
    "tracepoint",
    "vmstat",
    "stat",
    "snmp",
    "netdev",
    "netclass",
    "pressure",
    "file",
];

/// One source to open.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum SourceSpec {
    /// kpeek.ko counters.
    Kpeek {
        /// The name it exports under (default `mod`).
        name: Option<String>,
        /// The kpeek-client channel to read through (default `mmap`).
        via: Option<String>,
        /// Globs of the counters to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// Tracepoint hit counts.
    Tracepoint {
        /// The name it exports under (default `tracepoint`).
        name: Option<String>,
        /// The events (`system:event`, globs allowed).
        events: Vec<String>,
        /// A kernel event filter applied to every event.
        filter: Option<String>,
    },
    /// `/proc/vmstat` numbers.
    Vmstat {
        /// The name it exports under (default `vmstat`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// `/proc/stat` numbers.
    Stat {
        /// The name it exports under (default `stat`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// `/proc/net/snmp` numbers.
    Snmp {
        /// The name it exports under (default `snmp`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// `/proc/net/dev` numbers, per device.
    Netdev {
        /// The name it exports under (default `netdev`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// `/sys/class/net/*/statistics` numbers, per device.
    Netclass {
        /// The name it exports under (default `netclass`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// `/proc/pressure` stall times.
    Pressure {
        /// The name it exports under (default `pressure`).
        name: Option<String>,
        /// Globs of the numbers to keep; empty: all.
        #[serde(default)]
        metrics: Vec<String>,
    },
    /// A `kpeek bpf count` aggregation: hits of `events` counted in the kernel by `by` keys.
    #[serde(rename = "bpf_count")]
    BpfCount {
        /// The name it exports under (default `bpf_count`).
        name: Option<String>,
        /// The events (`system:event`, globs allowed).
        events: Vec<String>,
        /// The keys counted by (record fields or task facts, as `kpeek bpf count --by`).
        #[serde(default)]
        by: Vec<String>,
        /// A filter in the kernel's event filter grammar, compiled into the program.
        filter: Option<String>,
        /// The most keys kept (default 16384); new keys past it are counted as dropped.
        max_keys: Option<u32>,
    },
    /// Every entry of an existing BPF map (id, name or pinned path).
    #[serde(rename = "bpf_map")]
    BpfMap {
        /// The name it exports under (default `bpf_map_<map>`).
        name: Option<String>,
        /// The map: id, name or pinned path.
        map: String,
        /// Gauge (default) or counter.
        kind: Option<Kind>,
    },
    /// Run counts and run times of every BPF program.
    #[serde(rename = "bpf_progs")]
    BpfProgs {
        /// The name it exports under (default `bpf_progs`).
        name: Option<String>,
    },
    /// Kernel and module variables (`kpeek peek` expressions).
    Peek {
        /// The name it exports under (default `peek`).
        name: Option<String>,
        /// The expressions, as `kpeek peek` takes them.
        exprs: Vec<String>,
        /// Gauge (default) or counter.
        kind: Option<Kind>,
    },
    /// A file holding one number.
    File {
        /// The name it exports under (default: from the path).
        name: Option<String>,
        /// The file.
        path: PathBuf,
        /// The metric's name within the source (default `value`).
        metric: Option<String>,
        /// Gauge (default) or counter.
        kind: Option<Kind>,
        /// A counter's width in bits (e.g. 32): going past 2^width wraps to 0, which is
        /// counted as a wrap (the rate stays right), not as a reset.
        width: Option<u8>,
    },
}

impl SourceSpec {
    /// A built-in procfs source type with every metric (for `--source TYPE`).
    pub fn builtin(ty: &str) -> Result<SourceSpec, ConfigError> {
        let m = Vec::new;
        Ok(match ty {
            "kpeek" => SourceSpec::Kpeek {
                name: None,
                via: None,
                metrics: m(),
            },
            "vmstat" => SourceSpec::Vmstat {
                name: None,
                metrics: m(),
            },
            "stat" => SourceSpec::Stat {
                name: None,
                metrics: m(),
            },
            "snmp" => SourceSpec::Snmp {
                name: None,
                metrics: m(),
            },
            "netdev" => SourceSpec::Netdev {
                name: None,
                metrics: m(),
            },
            "netclass" => SourceSpec::Netclass {
                name: None,
                metrics: m(),
            },
            "pressure" => SourceSpec::Pressure {
                name: None,
                metrics: m(),
            },
            "bpf_progs" => SourceSpec::BpfProgs { name: None },
            _ => {
                return Err(ConfigError::flag(
                    "--source",
                    ConfigFault::UnknownSource { ty: ty.to_owned() },
                ));
            }
        })
    }

    /// The name the source exports under.
    pub fn name(&self) -> String {
        let (n, d) = match self {
            SourceSpec::Kpeek { name, .. } => (name, "mod"),
            SourceSpec::Tracepoint { name, .. } => (name, "tracepoint"),
            SourceSpec::Vmstat { name, .. } => (name, "vmstat"),
            SourceSpec::Stat { name, .. } => (name, "stat"),
            SourceSpec::Snmp { name, .. } => (name, "snmp"),
            SourceSpec::Netdev { name, .. } => (name, "netdev"),
            SourceSpec::Netclass { name, .. } => (name, "netclass"),
            SourceSpec::Pressure { name, .. } => (name, "pressure"),
            SourceSpec::BpfCount { name, .. } => (name, "bpf_count"),
            SourceSpec::BpfMap { name, map, .. } => {
                return name
                    .clone()
                    .unwrap_or_else(|| format!("bpf_map_{}", crate::expo::sanitize(map, true)));
            }
            SourceSpec::BpfProgs { name } => (name, "bpf_progs"),
            SourceSpec::Peek { name, .. } => (name, "peek"),
            SourceSpec::File { name, path, .. } => {
                return name.clone().unwrap_or_else(|| file_metric(path));
            }
        };
        n.clone().unwrap_or_else(|| d.to_owned())
    }
}

fn file_metric(path: &Path) -> String {
    let s = path.to_string_lossy();
    crate::expo::sanitize(s.trim_start_matches('/'), true)
}

/// A whole configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// The refresh period (`interval`).
    pub interval: Option<Duration>,
    /// The per-source read timeout (`timeout`).
    pub timeout: Option<Duration>,
    /// The sources, in order.
    pub sources: Vec<SourceSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    interval: Option<toml::Spanned<String>>,
    timeout: Option<toml::Spanned<String>>,
    #[serde(default)]
    source: Vec<toml::Spanned<SourceSpec>>,
}

/// `1s`, `500ms`, `2m`, `1.5s` (a bare number is seconds).
///
/// # Errors
///
/// [`DurationError`] when the text is not a number followed by `ms`, `s`, `m` or `h`, or is not
/// a positive duration.
///
/// ```
/// use std::time::Duration;
/// use kpeek_monitor::config::{parse_duration, DurationError};
///
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert!(matches!(parse_duration("2d"), Err(DurationError::UnknownUnit { .. })));
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| DurationError::NotANumber { text: s.to_owned() })?;
    let mult = match unit {
        "ms" => 1e-3,
        "s" | "" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(DurationError::UnknownUnit {
                text: s.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    let d = n * mult;
    if !(d > 0.0 && d < 1e9) {
        return Err(DurationError::NotPositive { text: s.to_owned() });
    }
    Ok(Duration::from_secs_f64(d))
}

fn line_col(text: &str, off: usize) -> (usize, usize) {
    let off = off.min(text.len());
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Parse a config file's text; `file` names it in errors.
pub fn parse_config(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |off: usize| {
        let (line, col) = line_col(text, off);
        Place::File {
            file: file.to_owned(),
            line,
            col,
        }
    };
    let raw: RawConfig = toml::from_str(text).map_err(|source| {
        let place = source.span().map_or_else(
            || Place::WholeFile {
                file: file.to_owned(),
            },
            |s| at(s.start),
        );
        ConfigError::new(
            place,
            ConfigFault::Toml {
                source: Box::new(source),
            },
        )
    })?;
    let dur = |v: Option<toml::Spanned<String>>| {
        v.map(|s| parse_duration(s.get_ref()).map_err(|e| ConfigError::new(at(s.span().start), e)))
            .transpose()
    };
    let mut cfg = Config {
        interval: dur(raw.interval)?,
        timeout: dur(raw.timeout)?,
        sources: Vec::new(),
    };
    for s in raw.source {
        let place = at(s.span().start);
        let spec = s.into_inner();
        check_spec(&spec).map_err(|e| ConfigError::new(place.clone(), e))?;
        if cfg.sources.iter().any(|o| o.name() == spec.name()) {
            return Err(ConfigError::new(
                place,
                ConfigFault::DuplicateName {
                    name: spec.name(),
                    in_file: true,
                },
            ));
        }
        cfg.sources.push(spec);
    }
    Ok(cfg)
}

/// Read and parse a config file.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            Place::WholeFile { file: file.clone() },
            ConfigFault::Read {
                source: std::sync::Arc::new(e),
            },
        )
    })?;
    parse_config(&text, &file)
}

/// The checks serde cannot make: a name fit for metric names, a known channel, at least one
/// event or expression, a filter that parses.
///
/// # Errors
///
/// [`SpecError`], saying which check failed.
pub fn check_spec(spec: &SourceSpec) -> Result<(), SpecError> {
    let name = spec.name();
    if name.is_empty() || crate::expo::sanitize(&name, true) != name {
        return Err(SpecError::BadName { name });
    }
    match spec {
        SourceSpec::Kpeek { via: Some(v), .. } => {
            v.parse::<Channel>()?;
            Ok(())
        }
        SourceSpec::Tracepoint { events, .. } | SourceSpec::BpfCount { events, .. }
            if events.is_empty() =>
        {
            Err(SpecError::NoEvents)
        }
        SourceSpec::BpfCount {
            filter: Some(f), ..
        } => kpeek_filter::parse(f)
            .map(|_| ())
            .map_err(|source| SpecError::Filter {
                filter: f.clone(),
                source,
            }),
        SourceSpec::Peek { exprs, .. } if exprs.is_empty() => Err(SpecError::NoExprs),
        _ => Ok(()),
    }
}

/// The sources `kpeek top`, `watch` and `serve` show with no arguments: kpeek.ko's counters
/// when loaded, scheduler/syscall/network/block tracepoint rates, vmstat and /proc/stat
/// highlights, pressure stall time.
pub fn default_specs(root: &SysRoot) -> Vec<SourceSpec> {
    let mut v = Vec::new();
    if KpeekSource::loaded(root) {
        v.push(SourceSpec::Kpeek {
            name: None,
            via: None,
            metrics: vec![],
        });
    }
    v.push(SourceSpec::Tracepoint {
        name: None,
        events: DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect(),
        filter: None,
    });
    let globs = |g: &[&str]| g.iter().map(|s| s.to_string()).collect();
    v.push(SourceSpec::Vmstat {
        name: None,
        metrics: globs(&[
            "pgfault",
            "pgmajfault",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
            "oom_kill",
            "allocstall_*",
            "pgscan_kswapd",
            "pgscan_direct",
            "nr_free_pages",
            "nr_dirty",
            "nr_writeback",
        ]),
    });
    v.push(SourceSpec::Stat {
        name: None,
        metrics: globs(&[
            "context_switches",
            "forks",
            "interrupts",
            "procs_running",
            "procs_blocked",
        ]),
    });
    v.push(SourceSpec::Pressure {
        name: None,
        metrics: globs(&["stall"]),
    });
    v
}

/// The tracepoints of the default set.
pub const DEFAULT_EVENTS: [&str; 9] = [
    "sched:sched_switch",
    "sched:sched_wakeup",
    "sched:sched_process_fork",
    "sched:sched_process_exec",
    "raw_syscalls:sys_enter",
    "net:net_dev_xmit",
    "net:netif_receive_skb",
    "block:block_rq_issue",
    "block:block_rq_complete",
];

/// Open every spec under `root` (`/` for the running system). A spec that names something that
/// does not exist (an event, a channel) is an error; a source that cannot be read right now
/// (module not loaded, no permission) is opened anyway and reports that at every read.
pub fn build(specs: &[SourceSpec], root: &SysRoot) -> Result<Vec<Spawn>, ConfigError> {
    let mut out: Vec<Spawn> = Vec::new();
    for spec in specs {
        let name = spec.name();
        let at = |fault: ConfigFault| ConfigError::new(Place::Source(name.clone()), fault);
        let src: Spawn = match spec {
            SourceSpec::BpfCount {
                events,
                by,
                filter,
                max_keys,
                ..
            } => {
                // Events and filter are checked here (bad input); loading the programs may
                // fail for want of privilege: an error row.
                let tfs = kpeek_trace::tracefs::Tracefs::discover().map_err(|e| {
                    at(ConfigFault::Tracefs {
                        source: Box::new(e),
                    })
                })?;
                kpeek_trace::record::resolve_events(&tfs, events).map_err(|e| {
                    at(ConfigFault::Events {
                        source: Box::new(e),
                    })
                })?;
                let (n, ev, by, f, mk) = (
                    name.clone(),
                    events.clone(),
                    by.clone(),
                    filter.clone(),
                    max_keys.unwrap_or(16384),
                );
                Spawn::Build {
                    name: name.clone(),
                    build: Box::new(move || {
                        crate::source::bpf::BpfCountSource::start(&n, &ev, &by, f.as_deref(), mk)
                            .map(|s| Box::new(s) as Box<dyn Source>)
                            .map_err(crate::source::SourceError::from)
                    }),
                }
            }
            SourceSpec::BpfMap { map, kind, .. } => Spawn::Ready(Box::new(
                crate::source::bpf::BpfMapSource::open(&name, map, kind.unwrap_or(Kind::Gauge))
                    .map_err(|e| {
                        at(ConfigFault::Bpf {
                            source: Box::new(e),
                        })
                    })?,
            )),
            SourceSpec::BpfProgs { .. } => {
                let n = name.clone();
                Spawn::Build {
                    name: name.clone(),
                    build: Box::new(move || {
                        crate::source::bpf::BpfProgsSource::open(&n)
                            .map(|s| Box::new(s) as Box<dyn Source>)
                            .map_err(crate::source::SourceError::from)
                    }),
                }
            }
            SourceSpec::Peek { exprs, kind, .. } => {
                crate::source::peek::spawn(&name, exprs, kind.unwrap_or(Kind::Gauge)).map_err(
                    |e| {
                        at(ConfigFault::Peek {
                            source: Box::new(e),
                        })
                    },
                )?
            }
            other => Spawn::Ready(build_plain(other, &name, root)?),
        };
        out.push(src);
    }
    Ok(out)
}

/// The sources that are built (and checked) right here.
fn build_plain(
    spec: &SourceSpec,
    name: &str,
    root: &SysRoot,
) -> Result<Box<dyn Source + Send>, ConfigError> {
    let name = name.to_owned();
    let at = |fault: ConfigFault| ConfigError::new(Place::Source(name.clone()), fault);
    {
        let proc_src = |kind: ProcKind, metrics: &Vec<String>| -> Box<dyn Source + Send> {
            Box::new(ProcSource::new(
                &name,
                kind,
                root.dir(),
                NameFilter(metrics.clone()),
            ))
        };
        let src: Box<dyn Source + Send> = match spec {
            SourceSpec::Kpeek { via, metrics, .. } => {
                let ch = match via {
                    Some(v) => v
                        .parse::<Channel>()
                        .map_err(|e| at(SpecError::from(e).into()))?,
                    None => Channel::Mmap,
                };
                Box::new(KpeekSource::new(
                    &name,
                    ch,
                    root.clone(),
                    NameFilter(metrics.clone()),
                ))
            }
            SourceSpec::Tracepoint { events, filter, .. } => {
                let is_default = events.iter().map(String::as_str).eq(DEFAULT_EVENTS);
                let events: Vec<String> = if is_default {
                    // Keep the default events this kernel has.
                    let tfs = kpeek_trace::tracefs::Tracefs::discover().ok();
                    DEFAULT_EVENTS
                        .iter()
                        .filter(|e| tfs.as_ref().is_none_or(|t| t.lookup(e).is_ok()))
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    events.clone()
                };
                Box::new(
                    TracepointSource::new(&name, &events, filter.as_deref()).map_err(|e| {
                        at(ConfigFault::Events {
                            source: Box::new(e),
                        })
                    })?,
                )
            }
            SourceSpec::Vmstat { metrics, .. } => proc_src(ProcKind::Vmstat, metrics),
            SourceSpec::Stat { metrics, .. } => proc_src(ProcKind::Stat, metrics),
            SourceSpec::Snmp { metrics, .. } => proc_src(ProcKind::Snmp, metrics),
            SourceSpec::Netdev { metrics, .. } => proc_src(ProcKind::NetDev, metrics),
            SourceSpec::Netclass { metrics, .. } => proc_src(ProcKind::NetClass, metrics),
            SourceSpec::Pressure { metrics, .. } => proc_src(ProcKind::Pressure, metrics),
            SourceSpec::File {
                path,
                metric,
                kind,
                width,
                ..
            } => {
                let metric = metric.clone().unwrap_or_else(|| "value".to_owned());
                let kind = kind.unwrap_or(Kind::Gauge);
                let width = match *width {
                    None | Some(64) => None,
                    Some(w @ 1..=63) if kind == Kind::Counter => Some(w),
                    Some(width @ 1..=63) => {
                        return Err(at(ConfigFault::WidthOnGauge { width }));
                    }
                    Some(width) => {
                        return Err(at(ConfigFault::WidthRange { width }));
                    }
                };
                Box::new(ProcSource::new(
                    &name,
                    ProcKind::File {
                        path: path.clone(),
                        metric,
                        kind,
                        width,
                    },
                    root.dir(),
                    NameFilter::default(),
                ))
            }
            SourceSpec::BpfCount { .. }
            | SourceSpec::BpfMap { .. }
            | SourceSpec::BpfProgs { .. }
            | SourceSpec::Peek { .. } => {
                return Err(at(ConfigFault::BuiltElsewhere));
            }
        };
        Ok(src)
    }
}

#[cfg(test)]
mod tests;
