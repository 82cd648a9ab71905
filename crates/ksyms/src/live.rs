//! The running kernel's `/proc/kallsyms`, and why its addresses may be hidden.
//!
//! The kernel prints zeros instead of addresses when `kallsyms_show_value()` says no:
//! `kptr_restrict=0` shows them to readers with CAP_SYSLOG or when `perf_event_paranoid <= 1`,
//! `kptr_restrict=1` only to readers with CAP_SYSLOG, `kptr_restrict=2` to nobody. The check uses
//! the credentials of whoever *opened* the file.

use std::path::Path;

use crate::error::{Error, Result};
use crate::table::{Ksyms, LoadOptions};

/// The live symbol table.
pub const KALLSYMS: &str = "/proc/kallsyms";
/// The sysctl that hides kernel pointers.
pub const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";
/// The sysctl that, with `kptr_restrict=0`, also decides who sees addresses.
pub const PERF_EVENT_PARANOID: &str = "/proc/sys/kernel/perf_event_paranoid";

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

pub(crate) fn load_live(opts: &LoadOptions) -> Result<Ksyms> {
    Ksyms::from_path_with(KALLSYMS, opts).map_err(explain_hidden)
}

/// Adds the current sysctl values to a [`Error::Hidden`] from the live file.
pub(crate) fn explain_hidden(err: Error) -> Error {
    match err {
        Error::Hidden(mut h) => {
            h.kptr_restrict = sysctl(KPTR_RESTRICT);
            h.perf_event_paranoid = sysctl(PERF_EVENT_PARANOID);
            Error::Hidden(h)
        }
        other => other,
    }
}

impl Ksyms {
    /// Loads the running kernel's `/proc/kallsyms`.
    ///
    /// Fails with [`Error::Hidden`] naming the current `kptr_restrict` (and
    /// `perf_event_paranoid`) when the kernel hides the addresses from this process.
    pub fn load_live() -> Result<Ksyms> {
        crate::live::load_live(&LoadOptions::default())
    }

    /// Loads the live `/proc/kallsyms` with options.
    pub fn load_live_with(opts: &LoadOptions) -> Result<Ksyms> {
        load_live(opts)
    }

    /// Loads `path`, or the live table when `path` is `None`; a hidden-address error on
    /// `/proc/kallsyms` (given explicitly or not) names the current sysctl values.
    pub fn load(path: Option<&Path>, opts: &LoadOptions) -> Result<Ksyms> {
        match path {
            None => load_live(opts),
            Some(p) if p == Path::new(KALLSYMS) => load_live(opts),
            Some(p) => Ksyms::from_path_with(p, opts),
        }
    }
}
