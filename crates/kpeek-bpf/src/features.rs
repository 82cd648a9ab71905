//! What `kpeek bpf count` needs of the kernel, checked when the kernel refuses a count, so that an
//! old kernel gets "this kernel lacks X (needs Linux V or later)" instead of a bare EINVAL.
//!
//! Each [`Feature`] is probed the way libbpf probes (`libbpf_probe_bpf_prog_type`, `_map_type`,
//! `_helper`: a tiny program or map is made and freed), not guessed from the version number:
//! distribution kernels backport features. [`Probe`] lets tests inject the answers.
//!
//! ```
//! use kpeek_bpf::features::{self, Feature, Probe};
//! struct Old;
//! impl Probe for Old {
//!     fn has(&self, f: Feature) -> Option<bool> {
//!         Some(f != Feature::ProbeReadKernel)
//!     }
//! }
//! let err = features::require(&Old, &[Feature::TracepointProgs, Feature::ProbeReadKernel]);
//! assert_eq!(
//!     err.unwrap_err().to_string(),
//!     "this kernel lacks the BPF helpers bpf_probe_read_kernel and bpf_probe_read_kernel_str \
//!      (needs Linux 5.5 or later)"
//! );
//! ```

use crate::error::{Error, Result};

/// A kernel facility a count uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `BPF_PROG_TYPE_TRACEPOINT` programs (attached with `PERF_EVENT_IOC_SET_BPF`).
    TracepointProgs,
    /// `BPF_MAP_TYPE_PERCPU_HASH` (the counts) and `PERCPU_ARRAY` (loss counters, scratch).
    PercpuMaps,
    /// `bpf_probe_read_kernel` and `bpf_probe_read_kernel_str` (fields, strings).
    ProbeReadKernel,
    /// `BPF_MAP_TYPE_STACK_TRACE` and `bpf_get_stackid` (`--by kstack`).
    StackTraces,
}

impl Feature {
    /// What the feature is, as an error names it.
    pub fn what(self) -> &'static str {
        match self {
            Feature::TracepointProgs => "BPF programs on tracepoints",
            Feature::PercpuMaps => "per-CPU BPF maps",
            Feature::ProbeReadKernel => {
                "the BPF helpers bpf_probe_read_kernel and bpf_probe_read_kernel_str"
            }
            Feature::StackTraces => "BPF stack trace maps (bpf_get_stackid)",
        }
    }

    /// The first Linux version that has it.
    pub fn since(self) -> &'static str {
        match self {
            Feature::TracepointProgs => "4.7",
            Feature::PercpuMaps => "4.6",
            Feature::ProbeReadKernel => "5.5",
            Feature::StackTraces => "4.6",
        }
    }
}

/// Answers whether the kernel has a feature: `None` when it cannot tell (no permission to
/// probe, for instance; then the real operation reports what is wrong).
pub trait Probe {
    /// Does the kernel have `f`? `None`: cannot tell.
    fn has(&self, f: Feature) -> Option<bool>;
}

/// Probes the running kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelProbe;

fn answer(ret: i32) -> Option<bool> {
    match ret {
        1 => Some(true),
        0 => Some(false),
        _ => None,
    }
}

impl Probe for KernelProbe {
    fn has(&self, f: Feature) -> Option<bool> {
        use libbpf_sys as b;
        crate::prog::init();
        let map = |t| {
            // SAFETY: the probe creates and frees a small map; a null opts is allowed.
            answer(unsafe { b::libbpf_probe_bpf_map_type(t, std::ptr::null()) })
        };
        let helper = |h| {
            // SAFETY: the probe loads and frees a tiny program; a null opts is allowed.
            answer(unsafe {
                b::libbpf_probe_bpf_helper(b::BPF_PROG_TYPE_TRACEPOINT, h, std::ptr::null())
            })
        };
        let both = |x: Option<bool>, y: Option<bool>| Some(x? && y?);
        match f {
            Feature::TracepointProgs => {
                // SAFETY: the probe loads and frees a tiny program; a null opts is allowed.
                answer(unsafe {
                    b::libbpf_probe_bpf_prog_type(b::BPF_PROG_TYPE_TRACEPOINT, std::ptr::null())
                })
            }
            Feature::PercpuMaps => both(
                map(b::BPF_MAP_TYPE_PERCPU_HASH),
                map(b::BPF_MAP_TYPE_PERCPU_ARRAY),
            ),
            Feature::ProbeReadKernel => both(
                helper(b::BPF_FUNC_probe_read_kernel),
                helper(b::BPF_FUNC_probe_read_kernel_str),
            ),
            Feature::StackTraces => both(
                map(b::BPF_MAP_TYPE_STACK_TRACE),
                helper(b::BPF_FUNC_get_stackid),
            ),
        }
    }
}

/// [`Error::Unsupported`] for the first feature the probe says is missing.
pub fn require(probe: &dyn Probe, features: &[Feature]) -> Result<()> {
    for &f in features {
        if probe.has(f) == Some(false) {
            return Err(Error::Unsupported {
                feature: f.what(),
                needs: f.since(),
            });
        }
    }
    Ok(())
}
