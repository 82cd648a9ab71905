//! Errors of the configuration: [`ConfigError`] says where ([`Place`]) and what
//! ([`ConfigFault`]); [`DurationError`] and [`SpecError`] are the faults of one value or source.

use std::fmt;
use std::sync::Arc;

use crate::source::bpf::{BpfError, CountFlagError};
use crate::source::peek::PeekError;

/// A configuration error: where (file:line:column, or the flag) and what.
///
/// Its message is complete, `place: fault`, the fault's text including that of its cause: so a
/// `ConfigError` has no `source()` (a `{:#}` chain prints each text once). The typed cause, when
/// another error is one, is the fault's `source`.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {fault}")]
#[non_exhaustive]
pub struct ConfigError {
    /// Where: a position in a file, a file, a flag or a source.
    pub place: Place,
    /// What was wrong.
    pub fault: ConfigFault,
}

impl ConfigError {
    /// `fault` at `place`.
    pub fn new(place: Place, fault: impl Into<ConfigFault>) -> Self {
        ConfigError {
            place,
            fault: fault.into(),
        }
    }

    /// `fault` in the value of the command-line flag `flag` (`--tracepoint`).
    pub fn flag(flag: &'static str, fault: impl Into<ConfigFault>) -> Self {
        ConfigError::new(Place::Flag(flag), fault)
    }
}

/// Where a configuration error is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// A position in a configuration file: `kpeek.toml:3:1`.
    File {
        /// The file, as named to the parser.
        file: String,
        /// The line, from 1.
        line: usize,
        /// The column, from 1 (in bytes).
        col: usize,
    },
    /// A configuration file as a whole (it cannot be read, or the error has no position).
    WholeFile {
        /// The file, as named to the parser.
        file: String,
    },
    /// A command-line flag: `--tracepoint`.
    Flag(&'static str),
    /// A source, by the name it exports under, found wrong when it was opened: `source rx`.
    Source(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File { file, line, col } => write!(f, "{file}:{line}:{col}"),
            Place::WholeFile { file } => f.write_str(file),
            Place::Flag(flag) => f.write_str(flag),
            Place::Source(name) => write!(f, "source {name}"),
        }
    }
}

/// What is wrong in a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFault {
    /// The file cannot be read.
    #[error("cannot read: {source}")]
    Read {
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file is not TOML, or not the configuration's schema (unknown key, wrong type).
    #[error("{}", source.message().trim())]
    Toml {
        /// The TOML parser's error.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// `interval` or `timeout` is not a duration.
    #[error("{source}")]
    Duration {
        /// Why.
        #[source]
        source: DurationError,
    },
    /// A source fails the checks of [`check_spec`](super::check_spec).
    #[error("{source}")]
    Spec {
        /// The check that failed.
        #[source]
        source: Box<SpecError>,
    },
    /// Two sources export under one name.
    #[error(
        "a second source named {name:?}{}",
        if *in_file { " (give one a different `name`)" } else { "" }
    )]
    DuplicateName {
        /// The name.
        name: String,
        /// Whether it is in a file, where a `name` key tells them apart.
        in_file: bool,
    },
    /// `--source` names no built-in source type.
    #[error(
        "unknown source {ty:?} (expected kpeek, vmstat, stat, snmp, netdev, netclass, pressure \
         or bpf_progs; tracepoints, BPF counts and maps, peek expressions and files have their \
         own flags)"
    )]
    UnknownSource {
        /// The type asked for.
        ty: String,
    },
    /// A `--bpf-count` value that does not parse.
    #[error("{source}")]
    CountFlag {
        /// Why.
        #[source]
        source: CountFlagError,
    },
    /// tracefs cannot be found (to check a source's events).
    #[error("{source}")]
    Tracefs {
        /// Why.
        #[source]
        source: Box<kpeek_trace::tracefs::TracefsError>,
    },
    /// A source's events or filter do not resolve.
    #[error("{source}")]
    Events {
        /// Why.
        #[source]
        source: Box<kpeek_trace::record::RecordError>,
    },
    /// A BPF map source names no map, or the map cannot be read.
    #[error("{source}")]
    Bpf {
        /// Why.
        #[source]
        source: Box<BpfError>,
    },
    /// A peek source's expressions do not resolve.
    #[error("{source}")]
    Peek {
        /// Why.
        #[source]
        source: Box<PeekError>,
    },
    /// A file source's `width` on a gauge.
    #[error("width {width} is for counters; this source is a gauge")]
    WidthOnGauge {
        /// The width given.
        width: u8,
    },
    /// A file source's `width` out of 1..=64.
    #[error("width {width}: want 1 to 64 bits")]
    WidthRange {
        /// The width given.
        width: u8,
    },
    /// A source built in its own thread was given to the in-place builder (a bug of kpeek).
    #[error("built in its own thread, not here")]
    BuiltElsewhere,
}

impl From<DurationError> for ConfigFault {
    fn from(source: DurationError) -> Self {
        ConfigFault::Duration { source }
    }
}

impl From<SpecError> for ConfigFault {
    fn from(source: SpecError) -> Self {
        ConfigFault::Spec {
            source: Box::new(source),
        }
    }
}

impl From<CountFlagError> for ConfigFault {
    fn from(source: CountFlagError) -> Self {
        ConfigFault::CountFlag { source }
    }
}

/// Why [`parse_duration`](super::parse_duration) refused a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The text does not start with a number.
    #[error("{text:?} is not a duration (e.g. 1s, 500ms, 2m)")]
    NotANumber {
        /// The text, trimmed.
        text: String,
    },
    /// The number is followed by something other than `ms`, `s`, `m` or `h`.
    #[error("{text:?}: unknown unit {unit:?} (ms, s, m, h)")]
    UnknownUnit {
        /// The text, trimmed.
        text: String,
        /// What follows the number.
        unit: String,
    },
    /// Zero, or too large to be a period (10^9 s or more).
    #[error("{text:?} must be positive")]
    NotPositive {
        /// The text, trimmed.
        text: String,
    },
}

/// Why [`check_spec`](super::check_spec) refused a source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The source's name cannot be part of a metric name.
    #[error("source name {name:?} must be letters, digits and '_' (not starting with a digit)")]
    BadName {
        /// The name, as given or derived.
        name: String,
    },
    /// `via` names no kpeek-client channel.
    #[error(transparent)]
    UnknownChannel(#[from] kpeek_client::UnknownChannel),
    /// A tracepoint or BPF count source with an empty `events` list.
    #[error("the source needs at least one event in `events`")]
    NoEvents,
    /// A BPF count's filter does not parse.
    #[error("filter {filter:?}: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// Where and why it does not parse.
        #[source]
        source: kpeek_filter::ParseError,
    },
    /// A peek source with an empty `exprs` list.
    #[error("a peek source needs at least one expression in `exprs`")]
    NoExprs,
}
