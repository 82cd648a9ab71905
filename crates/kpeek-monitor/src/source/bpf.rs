//! BPF sources, through kpeek-bpf: `kpeek bpf count` aggregations, any existing BPF map, and
//! the run statistics of every BPF program.

use kpeek_bpf::count::{Counter, KeyValue, Request};
use kpeek_bpf::decode::Decoded;
use kpeek_bpf::objects::{self, MapSummary};
use kpeek_trace::tracefs::Tracefs;

use crate::model::{DescCache, Kind, MetricDesc, Reading};

use super::{Source, SourceError};

fn bpf_err(e: kpeek_bpf::Error) -> SourceError {
    SourceError::from(BpfError::Read(e))
}

/// Why a BPF source could not be started, or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BpfError {
    /// `--by kstack` asked of a metric source.
    #[error("--by kstack: stacks cannot be labels of a metric")]
    StackLabel,
    /// The count's filter does not parse.
    #[error("filter {filter:?}: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// Where and why it does not parse.
        #[source]
        source: kpeek_filter::ParseError,
    },
    /// tracefs could not be found, or an event's format not read.
    #[error("{0}")]
    Tracefs(#[source] kpeek_trace::tracefs::TracefsError),
    /// An event name or glob matched nothing.
    #[error("{0}")]
    Events(#[source] kpeek_trace::record::RecordError),
    /// The count's programs or maps could not be made, loaded or attached.
    #[error("{0}")]
    Count(#[source] kpeek_bpf::Error),
    /// No such BPF map.
    #[error("bpf map {spec:?}: {source}")]
    Map {
        /// The map as given: id, name or pinned path.
        spec: String,
        /// Why it was not found.
        #[source]
        source: kpeek_bpf::Error,
    },
    /// BPF run statistics could not be turned on.
    #[error("BPF run statistics: {0}")]
    Stats(#[source] kpeek_bpf::Error),
    /// Reading the counts, the map or the programs failed.
    #[error("bpf: {0}")]
    Read(#[source] kpeek_bpf::Error),
}

/// A `--bpf-count` flag: events, keys, filter.
pub type CountFlag = (Vec<String>, Vec<String>, Option<String>);

/// Why [`parse_count_flag`] refused a flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CountFlagError {
    /// Nothing before the first ` --`.
    #[error("{flag:?}: no event (expected 'EVENT --by KEY')")]
    NoEvent {
        /// The flag's value.
        flag: String,
    },
    /// An option other than `--by` and `--filter`.
    #[error("{flag:?}: unknown option --{option} (expected --by or --filter)")]
    UnknownOption {
        /// The flag's value.
        flag: String,
        /// The option, without its dashes.
        option: String,
    },
}

/// Parse the quick flag's `EVENT[,EVENT] [--by KEY[,KEY]] [--filter EXPR]`.
///
/// # Errors
///
/// [`CountFlagError`] when no event is given or an option is neither `--by` nor `--filter`.
///
/// ```
/// use kpeek_monitor::source::bpf::parse_count_flag;
///
/// let (events, by, filter) = parse_count_flag("sched:sched_switch --by prev_comm").unwrap();
/// assert_eq!((events, by, filter), (vec!["sched:sched_switch".into()], vec!["prev_comm".into()], None));
/// assert!(parse_count_flag("sched:sched_switch --sort x").is_err());
/// ```
pub fn parse_count_flag(s: &str) -> Result<CountFlag, CountFlagError> {
    let mut parts = s.split(" --");
    let events: Vec<String> = parts
        .next()
        .unwrap_or("")
        .split([',', ' '])
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    if events.is_empty() {
        return Err(CountFlagError::NoEvent { flag: s.to_owned() });
    }
    let (mut by, mut filter) = (Vec::new(), None);
    for p in parts {
        let (flag, rest) = p.split_once(' ').unwrap_or((p, ""));
        match flag {
            "by" => by.extend(
                rest.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
            ),
            "filter" => filter = Some(rest.trim().to_owned()),
            _ => {
                return Err(CountFlagError::UnknownOption {
                    flag: s.to_owned(),
                    option: flag.to_owned(),
                });
            }
        }
    }
    Ok((events, by, filter))
}

/// A `kpeek bpf count` aggregation: one counter `events{<key names>}` per key, plus the
/// aggregation's losses (`keys_dropped` when the map is full, `read_errors`, `missed`).
pub struct BpfCountSource {
    name: String,
    counter: Counter,
    keys: Vec<String>,
    descs: DescCache,
}

impl BpfCountSource {
    /// Resolve the events, check the filter and keys, load and attach the programs.
    ///
    /// # Errors
    ///
    /// [`BpfError`]: a `kstack` key, a filter that does not parse, no tracefs, an unknown
    /// event, or programs the kernel refuses (without CAP_BPF and CAP_PERFMON, say).
    pub fn start(
        name: &str,
        events: &[String],
        by: &[String],
        filter: Option<&str>,
        max_keys: u32,
    ) -> Result<Self, BpfError> {
        if by.iter().any(|k| k == "kstack") {
            return Err(BpfError::StackLabel);
        }
        let filter = filter
            .map(|f| {
                kpeek_filter::parse(f).map_err(|source| BpfError::Filter {
                    filter: f.to_owned(),
                    source,
                })
            })
            .transpose()?;
        let tfs = Tracefs::discover().map_err(BpfError::Tracefs)?;
        let names = kpeek_trace::record::resolve_events(&tfs, events).map_err(BpfError::Events)?;
        let formats = names
            .iter()
            .map(|n| tfs.format(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BpfError::Tracefs)?;
        let req = Request {
            by: by.to_vec(),
            filter,
            sum: None,
            hist: None,
            linear: None,
        };
        let counter = Counter::start(&formats, &req, max_keys).map_err(BpfError::Count)?;
        Ok(BpfCountSource {
            name: name.to_owned(),
            keys: counter.key_names(),
            counter,
            descs: DescCache::default(),
        })
    }

    fn loss(&mut self, what: &str, help: &str, v: u64) -> Reading {
        let source = &self.name;
        let d = self.descs.get(&format!("\0{what}"), || {
            MetricDesc::new(source, what, Kind::Counter, help)
        });
        Reading::int(d, v)
    }
}

fn key_text(k: &KeyValue) -> String {
    match k {
        KeyValue::Int(v) => v.to_string(),
        KeyValue::UInt(v) => v.to_string(),
        KeyValue::Str(s) | KeyValue::Event(s) => s.clone(),
        KeyValue::Stack(v) => format!("{} frames", v.len()),
    }
}

impl Source for BpfCountSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let snap = self.counter.snapshot().map_err(bpf_err)?;
        let mut out = Vec::with_capacity(snap.entries.len() + 3);
        for e in &snap.entries {
            let labels: Vec<(String, String)> = self
                .keys
                .iter()
                .zip(&e.key)
                .map(|(k, v)| (k.clone(), key_text(v)))
                .collect();
            let mut key = String::new();
            for (_, v) in &labels {
                key.push_str(v);
                key.push('\0');
            }
            let source = &self.name;
            let d = self.descs.get(&key, || MetricDesc {
                labels,
                ..MetricDesc::new(
                    source,
                    "events",
                    Kind::Counter,
                    "events counted in the kernel by BPF",
                )
            });
            out.push(Reading::int(d, e.count));
        }
        out.push(self.loss(
            "keys_dropped",
            "new keys dropped: the map was full",
            snap.full,
        ));
        out.push(self.loss(
            "read_errors",
            "fields that could not be read",
            snap.read_errors,
        ));
        out.push(self.loss(
            "missed",
            "events the kernel did not run the program for",
            snap.missed,
        ));
        Ok(out)
    }
}

/// The bits a map's counter value wraps at: a plain integer value narrower than 64 bits in a
/// map with one value per key (a per-CPU map's values are summed over CPUs, each wrapping on
/// its own, so the sum has no width; a struct's fields carry no size here).
fn value_width(value: &Decoded, value_size: u32, per_cpu: bool) -> Option<u8> {
    let plain = matches!(value, Decoded::Int(_) | Decoded::UInt(_));
    (plain && !per_cpu && (1..8).contains(&value_size)).then(|| (value_size * 8) as u8)
}

fn decoded_number(d: &Decoded) -> Option<f64> {
    match d {
        Decoded::Int(v) => Some(*v as f64),
        Decoded::UInt(v) => Some(*v as f64),
        Decoded::Bool(b) => Some(f64::from(u8::from(*b))),
        Decoded::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// Labels from a decoded key: a struct's fields by name, anything else as `key`.
fn key_labels(d: &Decoded) -> Vec<(String, String)> {
    match d {
        Decoded::Struct(fields) => fields
            .iter()
            .map(|(n, v)| (n.clone(), label_text(v)))
            .collect(),
        other => vec![("key".to_owned(), label_text(other))],
    }
}

/// A label value: strings as they are (their Display quotes them), the rest as displayed.
fn label_text(d: &Decoded) -> String {
    match d {
        Decoded::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every entry of an existing BPF map (by id, name or pin): keys become labels (a struct key's
/// fields by name, decoded through the map's BTF when it has one), numeric values the values
/// (a struct value: one metric per numeric field).
pub struct BpfMapSource {
    name: String,
    map: MapSummary,
    kind: Kind,
    descs: DescCache,
}

impl BpfMapSource {
    /// Find the map now (by id, name or pinned path).
    ///
    /// # Errors
    ///
    /// [`BpfError::Map`] when there is no such map (or it cannot be seen without privilege).
    pub fn open(name: &str, spec: &str, kind: Kind) -> Result<Self, BpfError> {
        let map = objects::find_map(spec).map_err(|source| BpfError::Map {
            spec: spec.to_owned(),
            source,
        })?;
        Ok(BpfMapSource {
            name: name.to_owned(),
            map,
            kind,
            descs: DescCache::default(),
        })
    }
}

impl Source for BpfMapSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn privileged(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let dump = objects::dump(&self.map).map_err(bpf_err)?;
        let mut out = Vec::new();
        for e in &dump.entries {
            let labels = key_labels(&e.key);
            let values: Vec<(String, f64)> = match &e.value {
                Decoded::Struct(fields) => fields
                    .iter()
                    .filter_map(|(n, v)| decoded_number(v).map(|x| (format!("value_{n}"), x)))
                    .collect(),
                v => decoded_number(v)
                    .map(|x| vec![("value".to_owned(), x)])
                    .unwrap_or_default(),
            };
            for (metric, x) in values {
                let mut key = metric.clone();
                for (k, v) in &labels {
                    key.push('\0');
                    key.push_str(k);
                    key.push('\0');
                    key.push_str(v);
                }
                let (source, kind, map) = (&self.name, self.kind, &self.map);
                let width = match kind {
                    Kind::Counter => value_width(&e.value, map.value_size, e.per_cpu.is_some()),
                    _ => None,
                };
                let d = self.descs.get(&key, || MetricDesc {
                    labels: labels.clone(),
                    width,
                    ..MetricDesc::new(
                        source,
                        &metric,
                        kind,
                        &format!("BPF map {} (id {}, {})", map.name, map.id, map.ty),
                    )
                });
                out.push(Reading::new(d, x));
            }
        }
        Ok(out)
    }
}

/// Run count and run time of every BPF program (statistics are on while the source lives).
pub struct BpfProgsSource {
    name: String,
    _stats: objects::StatsGuard,
    descs: DescCache,
}

impl BpfProgsSource {
    /// Turn on BPF run statistics (`BPF_ENABLE_STATS`).
    ///
    /// # Errors
    ///
    /// [`BpfError::Stats`] when the kernel refuses (it takes CAP_SYS_ADMIN).
    pub fn open(name: &str) -> Result<Self, BpfError> {
        let stats = objects::enable_stats().map_err(BpfError::Stats)?;
        Ok(BpfProgsSource {
            name: name.to_owned(),
            _stats: stats,
            descs: DescCache::default(),
        })
    }
}

impl Source for BpfProgsSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn privileged(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let progs = objects::progs().map_err(bpf_err)?;
        let mut out = Vec::with_capacity(progs.len() * 2);
        for p in progs {
            let id = p.id.to_string();
            for (metric, unit, v, help) in [
                ("runs", "", p.run_count as f64, "times the program ran"),
                (
                    "run_time",
                    "seconds",
                    p.run_time_ns as f64 / 1e9,
                    "time spent running",
                ),
            ] {
                let source = &self.name;
                let d = self.descs.get(&format!("{metric}\0{id}\0{}", p.name), || {
                    MetricDesc::new(source, metric, Kind::Counter, help)
                        .label("id", &id)
                        .label("name", &p.name)
                        .label("type", &p.ty)
                        .unit(unit)
                });
                out.push(if unit.is_empty() {
                    Reading::int(d, p.run_count)
                } else {
                    Reading::new(d, v)
                });
            }
        }
        Ok(out)
    }
}

/// The key labels of a map source, for tests.
pub fn labels_of(d: &Decoded) -> Vec<(String, String)> {
    key_labels(d)
}

#[allow(dead_code)]
fn sources_are_send() {
    fn send<T: Send>() {}
    send::<BpfCountSource>();
    send::<BpfMapSource>();
    send::<BpfProgsSource>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_flag() {
        assert_eq!(
            parse_count_flag("syscalls:sys_enter_getppid --by pid,comm --filter pid > 1"),
            Ok((
                vec!["syscalls:sys_enter_getppid".into()],
                vec!["pid".into(), "comm".into()],
                Some("pid > 1".into())
            ))
        );
        assert!(parse_count_flag(" --by x").is_err());
        assert!(
            parse_count_flag("e --colour red")
                .unwrap_err()
                .to_string()
                .contains("--colour")
        );
    }

    #[test]
    fn decoded_keys_become_labels() {
        let k = Decoded::Struct(vec![
            ("pid".into(), Decoded::UInt(7)),
            ("comm".into(), Decoded::Str("sh".into())),
        ]);
        assert_eq!(
            labels_of(&k),
            vec![("pid".into(), "7".into()), ("comm".into(), "sh".into())]
        );
        assert_eq!(
            labels_of(&Decoded::UInt(3)),
            vec![("key".into(), "3".into())]
        );
        assert_eq!(decoded_number(&Decoded::Int(-2)), Some(-2.0));
        assert_eq!(decoded_number(&Decoded::Str("x".into())), None);
    }

    #[test]
    fn narrow_plain_values_wrap_at_their_width() {
        assert_eq!(value_width(&Decoded::UInt(1), 4, false), Some(32));
        assert_eq!(value_width(&Decoded::Int(1), 2, false), Some(16));
        assert_eq!(value_width(&Decoded::UInt(1), 8, false), None);
        // Summed over CPUs, or fields of a struct: no width to declare.
        assert_eq!(value_width(&Decoded::UInt(1), 4, true), None);
        assert_eq!(value_width(&Decoded::Struct(vec![]), 4, false), None);
    }
}
