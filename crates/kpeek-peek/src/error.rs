//! Errors of `kpeek peek`, each naming what was wrong and where.

use std::path::PathBuf;

use crate::buildid::{self, RunningError};
use crate::expr::ParseError;
pub use crate::fault::{
    BackendFault, LocateFault, ModelFault, ModuleMismatch, PerCpuFault, StepFault, TypeNameFault,
};
pub use crate::format_fault::{BtfFault, FormatFault};

/// Everything that can go wrong between an expression and its value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The expression does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// No symbol of that name.
    #[error("{}", unknown_symbol(.name, .module.as_deref(), .close, .hint.as_deref()))]
    UnknownSymbol {
        /// The name asked for.
        name: String,
        /// The module it was asked in.
        module: Option<String>,
        /// Close names, best first.
        close: Vec<String>,
        /// Why the table may lack it.
        hint: Option<String>,
    },
    /// The name is defined by several modules (or the kernel and a module).
    #[error("`{name}` is defined in several places: {}; ask for one as MODULE:{name}", .places.join(", "))]
    Ambiguous {
        /// The name.
        name: String,
        /// `vmlinux` or the module names.
        places: Vec<String>,
    },
    /// The symbol table is unreadable or hides addresses.
    #[error("symbol table: {0}")]
    Symbols(#[source] ksyms::Error),
    /// The reading backend is not allowed to read.
    #[error("via {backend}: permission denied: {fault}")]
    Permission {
        /// Which backend.
        backend: &'static str,
        /// What is missing (capability, setting), as the backend says it.
        fault: BackendFault,
    },
    /// Kernel lockdown forbids reading kernel memory.
    #[error(
        "via {backend}: refused by kernel lockdown ({mode}): reading kernel memory is not allowed"
    )]
    Lockdown {
        /// Which backend.
        backend: &'static str,
        /// The lockdown mode in force.
        mode: String,
    },
    /// Reading the address faulted.
    #[error(
        "cannot read {len} byte(s) at {addr:#x} ({what}): the address faults (unmapped or not readable)"
    )]
    Fault {
        /// The address.
        addr: u64,
        /// Bytes asked for.
        len: usize,
        /// The expression (part) being read.
        what: String,
    },
    /// A field the type lacks.
    #[error("{}", no_field(.expr, .field, .ty, .close))]
    NoField {
        /// The expression up to the field.
        expr: String,
        /// The field asked for.
        field: String,
        /// The type that lacks it.
        ty: String,
        /// Close member names.
        close: Vec<String>,
    },
    /// A step does not apply to the type (e.g. `->` on a struct, `[i]` on an int).
    #[error("{expr}: {}", .fault.text(.expr))]
    BadStep {
        /// The expression up to the step.
        expr: String,
        /// What is wrong.
        fault: StepFault,
    },
    /// An index past the array's declared bound.
    #[error("{expr}[{index}]: index past the end of {ty} (valid: 0 to {})", .len - 1)]
    IndexOutOfBounds {
        /// The array expression.
        expr: String,
        /// The index asked for.
        index: u64,
        /// The array length.
        len: u64,
        /// The array type.
        ty: String,
    },
    /// A NULL pointer in a chain.
    #[error("NULL at {0}")]
    Null(String),
    /// A type name nobody knows.
    #[error("unknown type `{name}`: {fault}")]
    UnknownType {
        /// The type name.
        name: String,
        /// Why.
        fault: TypeNameFault,
    },
    /// A CPU selector on something that is not per-CPU, or its absence on something that is.
    #[error(transparent)]
    PerCpu(PerCpuFault),
    /// A type model problem (bad BTF/DWARF data).
    #[error("type information: {0}")]
    Type(ModelFault),
    /// No backend can read here: why each of kpeek.ko, BPF and `/proc/kcore` did not open
    /// ([`Via::open`](crate::via::Via::open) of `auto`).
    #[error("no backend can read kernel memory here:\n  {}", lines(.0))]
    NoBackend(Vec<Error>),
    /// A backend failed in a way not listed above.
    #[error("via {backend}: {fault}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What happened.
        fault: BackendFault,
    },
    /// A file could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A vmlinux with debug info that is not the running kernel's build (or whose build cannot
    /// be told).
    #[error("{}: {fault}", .path.display())]
    WrongBuild {
        /// The vmlinux.
        path: PathBuf,
        /// Which builds differ, or why the running one is unknown.
        fault: BuildFault,
    },
    /// A module's `.ko` that is not the loaded module's build (the message names both).
    #[error(transparent)]
    WrongModule(Box<ModuleMismatch>),
    /// A module's variable that its `.ko` and `/sys/module` cannot locate.
    #[error("locating a variable of `{module}` through its sections: {fault}")]
    Located {
        /// The module.
        module: String,
        /// Why not.
        fault: LocateFault,
    },
    /// A BTF or DWARF file is malformed.
    #[error("{}: {fault}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        fault: FormatFault,
    },
}

/// Why a vmlinux's debug info is not used ([`Error::WrongBuild`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildFault {
    /// The running kernel's build-id cannot be told.
    #[error(
        "cannot tell whether this vmlinux is the running kernel's build ({0}): its debug info is not used"
    )]
    Unknown(#[source] RunningError),
    /// Another build (or one without a build-id note).
    #[error(
        "build-id {} is not the running kernel's ({}, from /sys/kernel/notes): \
         the debug info of another build describes other layouts; use the vmlinux of this build",
        .file.as_deref().map_or_else(|| "(none: no build-id note)".to_string(), buildid::hex),
        buildid::hex(.running)
    )]
    Differs {
        /// The vmlinux's build-id (`None`: it has no build-id note).
        file: Option<Vec<u8>>,
        /// The running kernel's.
        running: Vec<u8>,
    },
}

fn unknown_symbol(
    name: &str,
    module: Option<&str>,
    close: &[String],
    hint: Option<&str>,
) -> String {
    let mut s = match module {
        Some(m) => format!("unknown symbol `{name}` in module `{m}`"),
        None => format!("unknown symbol `{name}`"),
    };
    if !close.is_empty() {
        s.push_str(&format!(" (close names: {})", close.join(", ")));
    }
    if let Some(h) = hint {
        s.push_str(&format!("; {h}"));
    }
    s
}

fn no_field(expr: &str, field: &str, ty: &str, close: &[String]) -> String {
    let mut s = format!("{expr}: {ty} has no field `{field}`");
    if !close.is_empty() {
        s.push_str(&format!(" (close names: {})", close.join(", ")));
    }
    s
}

/// Up to `n` names from `candidates` closest to `want` (edit distance, then prefix/substring).
pub fn close_names<'a>(
    want: &str,
    candidates: impl Iterator<Item = &'a str>,
    n: usize,
) -> Vec<String> {
    let limit = (want.len() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter(|c| *c != want)
        .filter_map(|c| {
            let d = edit_distance(want, c, limit + 1);
            if d <= limit {
                Some((d, c))
            } else if want.len() >= 4 && (c.contains(want) || want.contains(c) && c.len() >= 4) {
                Some((limit + 1 + c.len().abs_diff(want.len()), c))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(n)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Levenshtein distance, giving up (returning `cap`) once it is sure to be at least `cap`.
fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) >= cap {
        return cap;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min >= cap {
            return cap;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(cap)
}

/// Errors one per line, for [`Error::NoBackend`].
fn lines(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_rank_by_distance() {
        let c = [
            "nr_running",
            "nr_switches",
            "cpu",
            "nr_numa_running",
            "clock",
        ];
        assert_eq!(close_names("nr_runing", c.into_iter(), 3)[0], "nr_running");
        assert_eq!(close_names("cpus", c.into_iter(), 3), ["cpu"]);
        assert!(close_names("zzzzzzzzzzzz", c.into_iter(), 3).is_empty());
    }
}
