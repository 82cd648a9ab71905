//! Per-CPU variables: which CPUs exist and where each CPU's area starts.
//!
//! A per-CPU variable's copy on CPU n lives at `base(n) + offset`, where `offset` is its place
//! in the `.data..percpu` section (BTF DATASEC) and `base(n)` is `__per_cpu_offset[n]`. Where
//! kallsyms lists `__per_cpu_offset` (CONFIG_KALLSYMS_ALL), or the backend resolves it in the
//! kernel (kpeek.ko links to it), `base(n)` is read from it (`unsigned long`s: 4 bytes each on a
//! 32-bit kernel). Otherwise `base(n)` is found from CPU n's run queue, which the calling task
//! reaches through its task group (`current->sched_task_group->cfs_rq[n]->rq`,
//! CONFIG_FAIR_GROUP_SCHED): `base(n)` is that address minus `runqueues`' offset, and the run
//! queue's own `cpu` field must say n.

use std::path::Path;

use crate::error::{Error, FormatFault};

/// Where the kernel lists the possible CPUs.
pub const POSSIBLE: &str = "/sys/devices/system/cpu/possible";

/// Parses a CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b - a > 65536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The possible CPUs of the running kernel.
pub fn possible_cpus() -> Result<Vec<u32>, Error> {
    let path = Path::new(POSSIBLE);
    let s = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_cpu_list(&s).ok_or_else(|| Error::Format {
        path: path.to_path_buf(),
        fault: FormatFault::NotCpuList(s.trim().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-3,7"), Some(vec![0, 2, 3, 7]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("x"), None);
    }
}
