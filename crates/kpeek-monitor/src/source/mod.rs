//! Sources: anything that reads a set of metrics on demand.
//!
//! Built in: [`procfs::ProcSource`] (procfs/sysfs files), [`tracepoint::TracepointSource`]
//! (perf counting mode), [`kpeek_ko::KpeekSource`] (kpeek.ko counters). Other engines plug in
//! by implementing [`Source`].

use std::path::PathBuf;

use crate::model::Reading;

pub mod bpf;
pub mod kpeek_ko;
pub mod peek;
pub mod procfs;
pub mod tracepoint;

/// A set of metrics read together. Each source runs in its own thread (so a slow one never
/// blocks the others): a `Send` source is moved there ([`Spawn::Ready`]); one that is not (it
/// holds `Rc`s, say) is built there ([`Spawn::Build`]).
pub trait Source {
    /// The source's name: the second word of every exported name (`kpeek_<source>_...`).
    fn name(&self) -> &str;

    /// Read every metric now. An error becomes a visible error row; the monitor keeps going and
    /// calls `read` again at the next refresh.
    fn read(&mut self) -> Result<Vec<Reading>, SourceError>;

    /// Does every read need privilege (it re-opens kernel objects by id, or reads kernel
    /// memory)? Such a source's thread keeps the capabilities that reading takes when
    /// `kpeek serve` drops the rest.
    fn privileged(&self) -> bool {
        false
    }
}

/// How a source gets into its thread.
#[non_exhaustive]
pub enum Spawn {
    /// Built already; moved into the thread.
    Ready(Box<dyn Source + Send>),
    /// Built in the thread by `build`; until it succeeds, every read reports its error.
    Build {
        /// The source's name.
        name: String,
        /// Makes the source, in its thread.
        build: Box<dyn FnOnce() -> Result<Box<dyn Source>, SourceError> + Send>,
    },
}

impl Spawn {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            Spawn::Ready(s) => s.name(),
            Spawn::Build { name, .. } => name,
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file's text is not what its parser expects.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Which line, and why.
        #[source]
        source: crate::parse::ParseError,
    },
    /// kpeek.ko's counters could not be read.
    #[error("kpeek.ko: {0}")]
    Kpeek(#[source] kpeek_client::Error),
    /// The tracepoint counters could not be opened or read.
    #[error("tracepoints: {0}")]
    Trace(#[source] kpeek_trace::record::RecordError),
    /// A BPF source could not be started or read.
    #[error("{0}")]
    Bpf(#[source] Box<bpf::BpfError>),
    /// A peek source could not be built.
    #[error("{0}")]
    Peek(#[source] Box<peek::PeekError>),
    /// The tracepoints could not be opened when the source was made (no tracefs, no
    /// permission), and still are not.
    #[error("tracepoints {events:?}: {source}")]
    Unopened {
        /// The events asked for.
        events: Vec<String>,
        /// Why they could not be opened.
        #[source]
        source: std::sync::Arc<kpeek_trace::record::RecordError>,
    },
    /// What the source reads from is not open (a bug of the source: it opens before reading).
    #[error("{what} not open")]
    NotOpen {
        /// What: `tracepoints`, `counter mapping`.
        what: &'static str,
    },
    /// Anything else, said in words: for sources outside this crate.
    #[error("{0}")]
    Other(String),
}

impl From<bpf::BpfError> for SourceError {
    fn from(e: bpf::BpfError) -> Self {
        SourceError::Bpf(Box::new(e))
    }
}

impl From<peek::PeekError> for SourceError {
    fn from(e: peek::PeekError) -> Self {
        SourceError::Peek(Box::new(e))
    }
}

/// Does `name` match the glob `pat` (`*` matches any run of characters, nothing else is
/// special)?
pub fn glob_match(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A metric filter: empty keeps everything, else names matching any glob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameFilter(pub Vec<String>);

impl NameFilter {
    /// Keep `name`?
    pub fn keeps(&self, name: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| glob_match(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_source_errors_say_what_is_missing() {
        let e = SourceError::NotOpen {
            what: "counter mapping",
        };
        assert_eq!(e.to_string(), "counter mapping not open");
        let cause = kpeek_trace::record::RecordError::permission(
            "reading /sys/kernel/tracing",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        let e = SourceError::Unopened {
            events: vec!["sched:*".into()],
            source: std::sync::Arc::new(cause),
        };
        assert!(
            e.to_string()
                .starts_with("tracepoints [\"sched:*\"]: reading /sys/kernel/tracing"),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }
    use proptest::prelude::*;

    #[test]
    fn globs() {
        assert!(glob_match("pg*", "pgfault"));
        assert!(glob_match("*fault", "pgmajfault"));
        assert!(glob_match("p*m*t", "pgmajfault"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("pg*x", "pgfault"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("oom_kill", "oom_kill"));
        assert!(NameFilter::default().keeps("x"));
        assert!(!NameFilter(vec!["a".into()]).keeps("x"));
    }

    proptest! {
        #[test]
        fn glob_star_matches_all(s in "\\PC*") {
            prop_assert!(glob_match("*", &s));
            prop_assert!(glob_match(&s.replace('*', ""), &s.replace('*', "")));
        }
    }
}
