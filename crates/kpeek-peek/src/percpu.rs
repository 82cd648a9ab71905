//! Per-CPU variables: which CPUs exist and where each CPU's area starts.
//!
//! A per-CPU variable's copy on CPU n lives at `base(n) + offset`, where `offset` is its place
//! in the `.data..percpu` section (BTF DATASEC) and `base(n)` is `__per_cpu_offset[n]`. Where
//! kallsyms lists `__per_cpu_offset` (CONFIG_KALLSYMS_ALL), `base(n)` is read from it. Where it
//! does not, `base(n)` is found from CPU n's run queue: the task running on CPU n (the caller,
//! pinned there) reaches it as `current->se.cfs_rq->rq`, and `base(n)` is that address minus
//! `runqueues`' offset.

use std::path::Path;

use crate::error::Error;

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
        msg: format!("not a CPU list: {:?}", s.trim()),
    })
}

/// Runs `f` on a thread pinned to `cpu` (so that "the current task" is on that CPU).
pub fn on_cpu<T: Send>(cpu: u32, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    std::thread::scope(|s| {
        s.spawn(move || {
            pin(cpu)?;
            Ok(f())
        })
        .join()
        .map_err(|_| Error::PerCpu(format!("the thread pinned to CPU {cpu} panicked")))?
    })
}

fn pin(cpu: u32) -> Result<(), Error> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu as usize);
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| {
        Error::PerCpu(format!(
            "cannot run on CPU {cpu} (sched_setaffinity: {e}); is it online?"
        ))
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
