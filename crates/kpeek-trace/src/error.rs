//! Why opening or running a recording or counting session failed. Texts name the kernel's
//! knobs (sysctls, capabilities), never a command-line flag.

use std::io;

use crate::perf;
use crate::tracefs::{EventName, TracefsError};

/// Something went wrong opening or running a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error(transparent)]
    /// Finding tracefs, an event or its format failed.
    Tracefs(#[from] TracefsError),
    #[error("{}", permission_message(.what, *.paranoid, .error))]
    /// The kernel refused for lack of privilege (explained with `perf_event_paranoid`).
    Permission {
        /// What was refused (the system call and its arguments).
        what: String,
        /// `/proc/sys/kernel/perf_event_paranoid`, when readable.
        paranoid: Option<i32>,
        /// The errno (not a `source`: the message already shows it).
        error: io::Error,
    },
    #[error(
        "the kernel rejected the filter for {event}:\n{explanation}\nfields of {event}: {}",
        .fields.join(", ")
    )]
    /// The kernel refused an event filter.
    BadFilter {
        /// The event the filter was set on.
        event: EventName,
        /// The filter as given.
        filter: String,
        /// What the kernel said is wrong with it.
        explanation: String,
        /// The fields the filter may name.
        fields: Vec<String>,
    },
    #[error("no process with pid {0}")]
    /// The process (or thread) to record does not exist.
    NoProcess(i32),
    /// A system call or a file operation failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The error (shown in the message, so not a `source`).
        error: io::Error,
    },
    /// Writing to the sink failed.
    #[error("writing output")]
    Output(#[source] io::Error),
    /// Options that cannot work together (e.g. a zero ring size).
    #[error("bad option: {0}")]
    BadOption(OptionFault),
    /// Mapping or reading a CPU's perf ring failed.
    #[error("the perf ring of cpu {cpu}")]
    Ring {
        /// The CPU whose ring failed.
        cpu: i32,
        /// What failed.
        #[source]
        source: crate::perf::RingError,
    },
}

fn permission_message(what: &str, paranoid: Option<i32>, source: &io::Error) -> String {
    let now = match paranoid {
        Some(v) => format!("it is {v} now"),
        None => "it could not be read".to_string(),
    };
    format!(
        "{what}: {source}. Recording kernel tracepoints needs root or CAP_PERFMON \
         (CAP_SYS_ADMIN before Linux 5.8), or /proc/sys/kernel/perf_event_paranoid set to -1 \
         ({now}); e.g. run with sudo"
    )
}

impl RecordError {
    /// A permission error, with the current `perf_event_paranoid`.
    pub fn permission(what: impl Into<String>, source: io::Error) -> RecordError {
        RecordError::Permission {
            what: what.into(),
            paranoid: perf::perf_event_paranoid(),
            error: source,
        }
    }

    /// Map tracefs permission errors to the same explanation as perf's.
    pub fn from_tracefs(e: TracefsError) -> RecordError {
        match e {
            TracefsError::PermissionDenied { path } => RecordError::permission(
                format!("reading {}", path.display()),
                io::Error::from(io::ErrorKind::PermissionDenied),
            ),
            e => RecordError::Tracefs(e),
        }
    }
}

/// The error for a failed `perf_event_open`: permission problems explained.
pub(crate) fn open_error(
    name: &EventName,
    tid: Option<i32>,
    cpu: i32,
    pid: Option<i32>,
    e: io::Error,
) -> RecordError {
    let what = match tid {
        Some(t) => format!("perf_event_open({name}, tid {t}, cpu {cpu})"),
        None => format!("perf_event_open({name}, cpu {cpu})"),
    };
    if is_permission(&e) {
        RecordError::permission(what, e)
    } else if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) {
        RecordError::NoProcess(pid.unwrap_or(-1))
    } else if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) {
        RecordError::Io {
            what: format!(
                "{what}: one descriptor per event per CPU exceeds the open-file limit; \
                 raise it (ulimit -n) or record fewer events"
            ),
            error: e,
        }
    } else {
        RecordError::Io { what, error: e }
    }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM)
    )
}

/// Which options cannot work ([`RecordError::BadOption`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionFault {
    /// No events given.
    #[error("no events to {0}")]
    NoEvents(&'static str),
    /// A ring size that is not a power of two.
    #[error("the ring size must be a power of two (1, 2, 4, ... data pages per CPU), got {0}")]
    RingSize(usize),
    /// A filter with a NUL byte (the kernel takes C strings).
    #[error("the filter contains a NUL byte")]
    NulInFilter,
}
