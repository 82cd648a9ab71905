//! What `kpeek top`, `kpeek watch` and `kpeek serve` share: the quick flags, the config file,
//! the default set, and a loop that takes rounds.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use kpeek_client::{Channel, SysRoot};
use kpeek_monitor::collect::{Collector, Outcome};
use kpeek_monitor::config::{self, SourceSpec};
use kpeek_monitor::model::Kind;
use kpeek_monitor::record::{Recorder, Replayer};

/// What to monitor. With none of these: kpeek.ko's counters (when loaded), scheduler, syscall,
/// network and block tracepoint rates, vmstat and /proc/stat highlights, pressure stall time.
#[derive(clap::Args, Clone, Debug)]
pub struct SourceArgs {
    /// A TOML file of sources (see docs/monitor.md); quick flags add to it.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Count a tracepoint (sys:name, a unique name or a glob); repeatable.
    #[arg(long = "tracepoint", value_name = "EVENT")]
    pub tracepoints: Vec<String>,
    /// Kernel filter for the --tracepoint events, in the kernel's syntax.
    #[arg(long, value_name = "EXPR", requires = "tracepoints")]
    pub filter: Option<String>,
    /// kpeek.ko's counters (an error row while the module is not loaded).
    #[arg(long)]
    pub kpeek: bool,
    /// The channel for kpeek.ko's counters (mmap: no system call per sample).
    #[arg(long, value_name = "CHANNEL", default_value = "mmap")]
    pub via: Channel,
    /// A file holding one number (sysfs attribute, /proc/sys entry); repeatable.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// A built-in source: kpeek, vmstat, stat, snmp, netdev, netclass, pressure, bpf_progs
    /// (run counts and times of every BPF program); repeatable.
    #[arg(long = "source", value_name = "TYPE")]
    pub sources: Vec<String>,
    /// A kernel or module variable, as `kpeek peek` reads it (jiffies, mod:sym,
    /// runqueues@all.nr_running); repeatable.
    #[arg(long = "peek", value_name = "EXPR")]
    pub peeks: Vec<String>,
    /// Every entry of an existing BPF map (id, name or pinned path); repeatable.
    #[arg(long = "bpf-map", value_name = "MAP")]
    pub bpf_maps: Vec<String>,
    /// A count aggregated in the kernel by BPF: 'EVENT[,EVENT] [--by KEY[,KEY]] [--filter
    /// EXPR]' (as `kpeek bpf count`); repeatable.
    #[arg(long = "bpf-count", value_name = "'EVENT --by KEY'")]
    pub bpf_counts: Vec<String>,
    /// Per-source read timeout: a slower source shows as an error for that round.
    #[arg(long, value_name = "D", value_parser = config::parse_duration)]
    pub timeout: Option<Duration>,
}

/// The sources to open and the config's timing.
pub struct Plan {
    pub specs: Vec<SourceSpec>,
    pub interval: Option<Duration>,
    pub timeout: Duration,
}

impl SourceArgs {
    /// Resolve config + flags (+ the default set when both are empty).
    pub fn plan(&self, root: &SysRoot) -> anyhow::Result<Plan> {
        let mut cfg = match &self.config {
            Some(p) => config::load_config(p)?,
            None => config::Config::default(),
        };
        let mut add = |spec: SourceSpec, flag: &'static str| -> anyhow::Result<()> {
            config::check_spec(&spec).map_err(|e| config::ConfigError::flag(flag, e))?;
            if cfg.sources.iter().any(|s| s.name() == spec.name()) {
                anyhow::bail!(config::ConfigError::flag(
                    flag,
                    config::ConfigFault::DuplicateName {
                        name: spec.name(),
                        in_file: false,
                    }
                ));
            }
            cfg.sources.push(spec);
            Ok(())
        };
        if !self.tracepoints.is_empty() {
            add(
                SourceSpec::Tracepoint {
                    name: None,
                    events: self.tracepoints.clone(),
                    filter: self.filter.clone(),
                },
                "--tracepoint",
            )?;
        }
        let mut flag_sources = self.sources.clone();
        if self.kpeek && !flag_sources.iter().any(|s| s == "kpeek") {
            flag_sources.insert(0, "kpeek".into());
        }
        for ty in &flag_sources {
            let mut spec = SourceSpec::builtin(ty)?;
            if let SourceSpec::Kpeek { via, .. } = &mut spec {
                *via = Some(self.via.name().to_owned());
            }
            add(spec, "--source")?;
        }
        if !self.peeks.is_empty() {
            add(
                SourceSpec::Peek {
                    name: None,
                    exprs: self.peeks.clone(),
                    kind: None,
                },
                "--peek",
            )?;
        }
        for m in &self.bpf_maps {
            add(
                SourceSpec::BpfMap {
                    name: None,
                    map: m.clone(),
                    kind: None,
                },
                "--bpf-map",
            )?;
        }
        for (i, c) in self.bpf_counts.iter().enumerate() {
            let (events, by, filter) = kpeek_monitor::source::bpf::parse_count_flag(c)
                .map_err(|e| config::ConfigError::flag("--bpf-count", e))?;
            add(
                SourceSpec::BpfCount {
                    name: Some(if i == 0 {
                        "bpf_count".to_owned()
                    } else {
                        format!("bpf_count{}", i + 1)
                    }),
                    events,
                    by,
                    filter,
                    max_keys: None,
                },
                "--bpf-count",
            )?;
        }
        for f in &self.files {
            add(
                SourceSpec::File {
                    name: None,
                    path: f.clone(),
                    metric: None,
                    kind: Some(Kind::Gauge),
                    width: None,
                },
                "--file",
            )?;
        }
        if cfg.sources.is_empty() {
            cfg.sources = config::default_specs(root);
            for s in &mut cfg.sources {
                if let SourceSpec::Kpeek { via, .. } = s {
                    *via = Some(self.via.name().to_owned());
                }
            }
        }
        Ok(Plan {
            specs: cfg.sources,
            interval: cfg.interval,
            timeout: self
                .timeout
                .or(cfg.timeout)
                .unwrap_or(Duration::from_millis(500)),
        })
    }
}

/// Where rounds come from: live sources or a recording.
pub enum Feed {
    Live {
        collector: Collector,
        timeout: Duration,
        start: Instant,
        recorder: Option<Recorder<BufWriter<File>>>,
    },
    Replay(Replayer<BufReader<File>>),
}

/// One round: monotonic seconds, Unix seconds, outcomes.
pub type Round = (f64, f64, Vec<Outcome>);

impl Feed {
    /// Open the planned sources (and the recording, if any).
    pub fn live(plan: &Plan, root: &SysRoot, record: Option<&PathBuf>) -> anyhow::Result<Feed> {
        let sources = config::build(&plan.specs, root)?;
        let recorder = record
            .map(|p| -> anyhow::Result<_> {
                let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
                Ok(Recorder::new(BufWriter::new(f))?)
            })
            .transpose()?;
        Ok(Feed::Live {
            collector: Collector::new(sources),
            timeout: plan.timeout,
            start: Instant::now(),
            recorder,
        })
    }

    /// Replay a recording.
    pub fn replay(path: &PathBuf) -> anyhow::Result<Feed> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Feed::Replay(
            Replayer::new(BufReader::new(f)).with_context(|| format!("{}", path.display()))?,
        ))
    }

    /// The next round (`None` at the end of a replay).
    pub fn next(&mut self) -> anyhow::Result<Option<Round>> {
        match self {
            Feed::Live {
                collector,
                timeout,
                start,
                recorder,
            } => {
                let outcomes = collector.collect(*timeout);
                let t = start.elapsed().as_secs_f64();
                let wall = kpeek_monitor::wall_now();
                if let Some(r) = recorder {
                    r.round(t, wall, &outcomes)?;
                }
                Ok(Some((t, wall, outcomes)))
            }
            Feed::Replay(r) => Ok(r.next_round()?),
        }
    }
}

/// The root the sources read under: `$KPEEK_SYSROOT` (tests) or `/`.
pub fn root() -> SysRoot {
    SysRoot::from_env()
}
