//! Find tracefs, list its events and read their format files.
//!
//! [`instance`] manages a private tracefs instance (own buffer and enables); [`ring`] parses
//! the raw ring-buffer pages that `per_cpu/cpuN/trace_pipe_raw` returns.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use crate::event_name::EventName;
use crate::format::{EventFormat, FormatError};

pub mod instance;
pub mod ring;

/// Where tracefs is looked for, in order.
pub const DEFAULT_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The command that mounts tracefs at its usual place.
pub const MOUNT_HINT: &str = "mount -t tracefs nodev /sys/kernel/tracing";

/// A mounted tracefs (or a directory laid out like one, for tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracefs {
    root: PathBuf,
}

/// What went wrong finding tracefs or reading from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TracefsError {
    /// tracefs is mounted at none of the usual places.
    #[error(
        "tracefs is not mounted (looked in {}); mount it with: {MOUNT_HINT}",
        display_paths(.tried)
    )]
    NotMounted {
        /// The mount points looked at.
        tried: Vec<PathBuf>,
    },
    /// Reading tracefs needs privileges this process lacks.
    #[error("permission denied reading {}: tracefs needs root (or CAP_SYS_ADMIN / a readable tracefs)", .path.display())]
    PermissionDenied {
        /// The file or directory.
        path: PathBuf,
    },
    // `error`, not `source`: the message already includes it, and a `source` would make
    // anyhow's `{:#}` print it twice.
    /// Reading a file failed.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error (shown in the message, so not a `source`).
        error: io::Error,
    },
    /// No event has this name.
    #[error("unknown event `{event}`{}", suggest(.suggestions))]
    UnknownEvent {
        /// The name as given.
        event: String,
        /// Events with close names.
        suggestions: Vec<EventName>,
    },
    /// A name without a system that several systems have.
    #[error("`{spec}` matches several events: {}; name one as system:name", join(.candidates))]
    AmbiguousEvent {
        /// The name as given.
        spec: String,
        /// The events it could mean.
        candidates: Vec<EventName>,
    },
    /// A name that cannot be an event name.
    #[error("bad event name `{spec}`: {reason}")]
    BadEventName {
        /// The name as given.
        spec: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A format file that does not parse.
    #[error("{}: {error}", .path.display())]
    Format {
        /// The format file.
        path: PathBuf,
        /// What is wrong, and on which line (shown in the message, so not a `source`).
        error: FormatError,
    },
    /// A pattern that is not a glob.
    #[error("bad glob `{glob}`")]
    BadGlob {
        /// The pattern as given.
        glob: String,
        #[source]
        /// Why it does not parse.
        source: GlobSyntaxError,
    },
}

/// Why a glob does not parse: the glob compiler's explanation, which [`std::fmt::Display`]
/// prints (the compiler itself stays private).
#[derive(Debug)]
pub struct GlobSyntaxError(globset::Error);

impl fmt::Display for GlobSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for GlobSyntaxError {}

fn display_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(names: &[EventName]) -> String {
    names
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn suggest(s: &[EventName]) -> String {
    if s.is_empty() {
        "; no event has a similar name".to_string()
    } else {
        format!("; did you mean {}?", join(s))
    }
}

fn valid_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl FromStr for EventName {
    type Err = TracefsError;

    /// `system:name` (perf's and trace-cmd's spelling) or `system/name` (the tracefs path).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |reason| TracefsError::BadEventName {
            spec: spec.to_string(),
            reason,
        };
        let (system, name) = spec
            .split_once(':')
            .or_else(|| spec.split_once('/'))
            .ok_or_else(|| bad("expected system:name, e.g. sched:sched_switch"))?;
        if !valid_component(system) || !valid_component(name) {
            return Err(bad(
                "system and name must be non-empty and made of letters, digits, '_', '-', '.'",
            ));
        }
        Ok(EventName::new(system, name))
    }
}

fn io_err(path: &Path, source: io::Error) -> TracefsError {
    if source.kind() == io::ErrorKind::PermissionDenied {
        TracefsError::PermissionDenied {
            path: path.to_path_buf(),
        }
    } else {
        TracefsError::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }
}

impl Tracefs {
    /// `/sys/kernel/tracing`, else `/sys/kernel/debug/tracing`.
    pub fn discover() -> Result<Tracefs, TracefsError> {
        Self::discover_in(DEFAULT_ROOTS.iter().map(PathBuf::from))
    }

    /// The first of `candidates` that holds a mounted tracefs (a directory with `events/`).
    /// An empty mount point does not count; one we may not read is a permission error, not
    /// "not mounted".
    pub fn discover_in(
        candidates: impl IntoIterator<Item = PathBuf>,
    ) -> Result<Tracefs, TracefsError> {
        let mut tried = Vec::new();
        let mut denied = None;
        for root in candidates {
            let events = root.join("events");
            match std::fs::metadata(&events) {
                Ok(m) if m.is_dir() => return Ok(Tracefs { root }),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    denied.get_or_insert(events);
                }
                _ => {}
            }
            tried.push(root);
        }
        match denied {
            Some(path) => Err(TracefsError::PermissionDenied { path }),
            None => Err(TracefsError::NotMounted { tried }),
        }
    }

    /// Like [`Tracefs::discover`], but when tracefs is not mounted anywhere, mount it at
    /// `/sys/kernel/tracing` first, as libtracefs (trace-cmd) does. Needs CAP_SYS_ADMIN; when
    /// the mount fails the error is still [`TracefsError::NotMounted`], which says how to mount.
    pub fn discover_or_mount() -> Result<Tracefs, TracefsError> {
        match Self::discover() {
            Err(TracefsError::NotMounted { tried }) => {
                let target = Path::new(DEFAULT_ROOTS[0]);
                if mount_tracefs(target).is_ok() {
                    Self::discover_in([target.to_path_buf()])
                } else {
                    Err(TracefsError::NotMounted { tried })
                }
            }
            other => other,
        }
    }

    /// A tracefs at `root`, unchecked (for tests and instances).
    pub fn at(root: impl Into<PathBuf>) -> Tracefs {
        Tracefs { root: root.into() }
    }

    /// The tracefs directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `events/<system>/<name>` of an event.
    pub fn event_dir(&self, event: &EventName) -> PathBuf {
        self.root
            .join("events")
            .join(&event.system)
            .join(&event.name)
    }

    /// Every `system:name`, sorted; `glob` matches `system:name` (e.g. `net:*`, `*skb*`), or
    /// the bare name when it has no `:`.
    pub fn events(&self, glob: Option<&str>) -> Result<Vec<EventName>, TracefsError> {
        let pattern = glob.map(Glob::new).transpose()?;
        let events_dir = self.root.join("events");
        let mut out = Vec::new();
        for system in read_dirs(&events_dir)? {
            let sys_dir = events_dir.join(&system);
            for name in read_dirs(&sys_dir)? {
                let ev = EventName::new(system.clone(), name);
                if pattern.as_ref().is_none_or(|p| p.matches_event(&ev)) {
                    out.push(ev);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Read and parse `events/<system>/<name>/format`. An unknown event is
    /// [`TracefsError::UnknownEvent`] with close names.
    pub fn format(&self, event: &EventName) -> Result<EventFormat, TracefsError> {
        if !valid_component(&event.system) || !valid_component(&event.name) {
            return Err(TracefsError::BadEventName {
                spec: event.to_string(),
                reason: "system and name must be non-empty and made of letters, digits, '_', '-', '.'",
            });
        }
        let path = self.event_dir(event).join("format");
        let text = match read_text(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(TracefsError::UnknownEvent {
                    event: event.to_string(),
                    suggestions: self.suggestions(event),
                });
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        let mut f = EventFormat::parse(&text).map_err(|error| TracefsError::Format {
            path: path.clone(),
            error,
        })?;
        f.name.system = event.system.clone();
        Ok(f)
    }

    /// Resolve what a user typed: `system:name`, or a bare name that exists in exactly one
    /// system.
    pub fn lookup(&self, spec: &str) -> Result<EventName, TracefsError> {
        if spec.contains(':') || spec.contains('/') {
            let ev: EventName = spec.parse()?;
            if self.event_dir(&ev).join("format").is_file() {
                return Ok(ev);
            }
            return Err(TracefsError::UnknownEvent {
                event: spec.to_string(),
                suggestions: self.suggestions(&ev),
            });
        }
        let all = self.events(None)?;
        let mut hits: Vec<EventName> = all.iter().filter(|e| e.name == spec).cloned().collect();
        match hits.len() {
            1 => Ok(hits.remove(0)),
            0 => Err(TracefsError::UnknownEvent {
                event: spec.to_string(),
                suggestions: closest(&all, &EventName::new("", spec)),
            }),
            _ => Err(TracefsError::AmbiguousEvent {
                spec: spec.to_string(),
                candidates: hits,
            }),
        }
    }

    /// Close names for an event that does not exist: the same name in other systems, then
    /// names within a small edit distance. Empty if tracefs cannot be listed.
    pub fn suggestions(&self, event: &EventName) -> Vec<EventName> {
        match self.events(None) {
            Ok(all) => closest(&all, event),
            Err(_) => Vec::new(),
        }
    }
}

/// Read a whole tracefs file as text.
///
/// With large reads: some tracefs files (`events/header_page` on 6.x) return a truncated text
/// to a reader that asks for a few bytes at a time, as `std::fs::read_to_string` first does.
pub fn read_text(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `mount -t tracefs nodev <target>`.
fn mount_tracefs(target: &Path) -> io::Result<()> {
    rustix::mount::mount(
        c"nodev",
        target,
        c"tracefs",
        rustix::mount::MountFlags::empty(),
        None,
    )?;
    Ok(())
}

/// At most five suggestions for `wanted` among `all`, best first.
pub fn closest(all: &[EventName], wanted: &EventName) -> Vec<EventName> {
    const MAX: usize = 5;
    let full = wanted.to_string();
    let mut scored: Vec<(usize, &EventName)> = Vec::new();
    for ev in all {
        let score = if ev.name == wanted.name {
            0
        } else {
            let d_name = levenshtein(&ev.name, &wanted.name);
            let d_full = if wanted.system.is_empty() {
                usize::MAX
            } else {
                levenshtein(&ev.to_string(), &full)
            };
            let d = d_name.min(d_full);
            let limit = (wanted.name.chars().count() / 3).max(2);
            if d > limit {
                continue;
            }
            // Prefer the wanted system when only the name is misspelt.
            d * 2 + usize::from(ev.system != wanted.system)
        };
        scored.push((score, ev));
    }
    scored.sort();
    scored
        .into_iter()
        .take(MAX)
        .map(|(_, e)| e.clone())
        .collect()
}

/// Edit distance (insertions, deletions, substitutions), on chars.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The names of the subdirectories of `dir`, unsorted.
fn read_dirs(dir: &Path) -> Result<Vec<String>, TracefsError> {
    let rd = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let is_dir = match entry.file_type() {
            Ok(t) => t.is_dir(),
            Err(e) => return Err(io_err(&entry.path(), e)),
        };
        if is_dir && let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    Ok(out)
}

/// A shell glob over event names, in the dialect of every kpeek command (globset's, as
/// `ksyms::compile_glob`): `*` any run, `?` one character, `[abc]`/`[a-z]`/`[!a]` a class,
/// `{a,b}` alternatives, `\\` escapes. It must match the whole text.
#[derive(Clone, Debug)]
pub struct Glob {
    matcher: globset::GlobMatcher,
    has_colon: bool,
}

impl Glob {
    /// Compiles `glob`; a malformed one is [`TracefsError::BadGlob`].
    pub fn new(glob: &str) -> Result<Glob, TracefsError> {
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| TracefsError::BadGlob {
                glob: glob.to_string(),
                source: GlobSyntaxError(e),
            })?
            .compile_matcher();
        Ok(Glob {
            has_colon: glob.contains(':'),
            matcher,
        })
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    /// `system:name` against the pattern; without a `:` in the pattern, the bare name too.
    pub fn matches_event(&self, ev: &EventName) -> bool {
        self.matches(&ev.to_string()) || (!self.has_colon && self.matches(&ev.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        let g = |p: &str, t: &str| Glob::new(p).unwrap().matches(t);
        assert!(g("net:*", "net:netif_receive_skb"));
        assert!(g("*skb*", "skb:kfree_skb"));
        assert!(!g("net:*", "sched:sched_switch"));
        assert!(g("sched:sched_?witch", "sched:sched_switch"));
        assert!(g("sys_enter_get[a-p]*", "sys_enter_getppid"));
        assert!(!g("sys_enter_get[!p]*", "sys_enter_getppid"));
        assert!(g("*", ""));
        assert!(g("a*b*c", "aXbYbZc"));
        assert!(!g("a*b*c", "aXbYbZ"));
        assert!(Glob::new("a[bc").is_err());
        assert!(g("net:{netif_rx,napi_gro_receive_entry}", "net:netif_rx"));
        let ev = EventName::new("sched", "sched_switch");
        assert!(Glob::new("sched_sw*").unwrap().matches_event(&ev));
        assert!(!Glob::new("x:sched_sw*").unwrap().matches_event(&ev));
    }

    #[test]
    fn names() {
        let e: EventName = "sched:sched_switch".parse().unwrap();
        assert_eq!(e, EventName::new("sched", "sched_switch"));
        assert_eq!(e.to_string(), "sched:sched_switch");
        assert_eq!("sched/sched_switch".parse::<EventName>().unwrap(), e);
        for bad in ["sched", ":x", "x:", "../x:y", "a:b/c", "a:.."] {
            assert!(bad.parse::<EventName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn close_names() {
        let all = vec![
            EventName::new("sched", "sched_switch"),
            EventName::new("sched", "sched_wakeup"),
            EventName::new("net", "netif_rx"),
            EventName::new("other", "netif_rx"),
        ];
        let s = closest(&all, &EventName::new("sched", "sched_swich"));
        assert_eq!(s[0], EventName::new("sched", "sched_switch"));
        let s = closest(&all, &EventName::new("foo", "netif_rx"));
        assert_eq!(s.len(), 2);
        assert!(closest(&all, &EventName::new("x", "completely_else")).is_empty());
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
