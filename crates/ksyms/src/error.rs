//! Why a symbol table could not be loaded.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while loading a symbol table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{}: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (part of the message, not a separate `source()`).
        err: io::Error,
    },
    /// A line is not `ADDR TYPE NAME [\t[MODULE]]`.
    #[error("{source_name}:{line}: {reason}: {text:?}")]
    Malformed {
        /// File name (or `<memory>`).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
        /// The start of the offending line (lossy UTF-8, at most 80 bytes).
        text: String,
    },
    /// Every address is zero: the kernel hides them from this reader.
    #[error("{0}")]
    Hidden(Hidden),
    /// The input holds no symbol at all.
    #[error("{source_name}: no symbols (empty file?)")]
    Empty {
        /// File name (or `<memory>`).
        source_name: String,
    },
    /// The input exceeds what the compact index can address (4 GiB of names, 2^32 symbols).
    #[error("{source_name}: too large for the symbol index ({what})")]
    TooLarge {
        /// File name (or `<memory>`).
        source_name: String,
        /// Which limit.
        what: &'static str,
    },
}

/// Details of a table whose addresses are all zero (`kptr_restrict` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// File name.
    pub source_name: String,
    /// How many symbols were read (all with address zero).
    pub symbols: usize,
    /// `/proc/sys/kernel/kptr_restrict` when the live file was read, else `None`.
    pub kptr_restrict: Option<String>,
    /// `/proc/sys/kernel/perf_event_paranoid` when the live file was read, else `None`.
    pub perf_event_paranoid: Option<String>,
}

impl fmt::Display for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: all {} addresses are zero: the kernel hides symbol addresses from this reader",
            self.source_name, self.symbols
        )?;
        match (&self.kptr_restrict, &self.perf_event_paranoid) {
            (Some(k), p) => {
                write!(f, " (kernel.kptr_restrict = {k}")?;
                if let Some(p) = p {
                    write!(f, ", kernel.perf_event_paranoid = {p}")?;
                }
                f.write_str("). ")?;
                match k.as_str() {
                    "2" => f.write_str(
                        "kptr_restrict=2 hides them from everyone, root included: \
                         `sysctl kernel.kptr_restrict=1` and read as root (or with CAP_SYSLOG)",
                    ),
                    "0" => f.write_str(
                        "With kptr_restrict=0 the kernel shows them to readers with CAP_SYSLOG \
                         or when perf_event_paranoid <= 1: run as root (or with CAP_SYSLOG), \
                         or `sysctl kernel.perf_event_paranoid=1`",
                    ),
                    _ => f.write_str(
                        "kptr_restrict=1 shows them only to readers with CAP_SYSLOG: \
                         run as root (or grant CAP_SYSLOG)",
                    ),
                }
            }
            (None, _) => f.write_str(
                " (kptr_restrict, perf_event_paranoid or a missing CAP_SYSLOG when the file was \
                 captured). Capture it again as root (or with CAP_SYSLOG) with \
                 kernel.kptr_restrict <= 1",
            ),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
