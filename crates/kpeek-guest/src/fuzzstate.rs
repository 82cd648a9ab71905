//! What the fuzzers compare before and after a non-root run: every counter (names, and values
//! outside the groups allowed to move on their own), the module's object counts and generation,
//! the ring size, and every probe's configuration. Unchanged state plus refused calls is the
//! evidence that no mutation went through.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use kpeek_client::SysRoot;
use kpeek_client::procfs::Procfs;

use crate::syscalls;
use crate::uapi::{self, get_u32, get_u64, put_u32};

/// Errno counts per label, printed as `EINVAL=12 EPERM=3 ok=40`.
#[derive(Default)]
pub struct Tally(pub BTreeMap<String, u64>);

impl Tally {
    pub fn add(&mut self, r: Result<i32, i32>) {
        *self.0.entry(errno_name(r)).or_default() += 1;
    }

    pub fn line(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `ok` or the errno's symbolic name (`E?123` when unknown).
pub fn errno_name(r: Result<i32, i32>) -> String {
    let e = match r {
        Ok(_) => return "ok".to_owned(),
        Err(e) => e,
    };
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOTTY => "ENOTTY",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOBUFS => "ENOBUFS",
        libc::EPROTO => "EPROTO",
        libc::ENXIO => "ENXIO",
        libc::ENODATA => "ENODATA",
        libc::ESRCH => "ESRCH",
        _ => return format!("E?{e}"),
    };
    n.to_owned()
}

/// Errnos a well-behaved driver may return to a bad request. Anything else (in particular the
/// kernel-internal 512..=530 ERESTART*/ENOIOCTLCMD values leaking out) is a finding.
pub fn plausible_errno(e: i32) -> bool {
    matches!(
        e,
        libc::EPERM
            | libc::ENOENT
            | libc::EACCES
            | libc::EFAULT
            | libc::EBUSY
            | libc::EEXIST
            | libc::ENODEV
            | libc::EINVAL
            | libc::ENOSPC
            | libc::ENOTTY
            | libc::ERANGE
            | libc::ENAMETOOLONG
            | libc::EOVERFLOW
            | libc::EOPNOTSUPP
            | libc::EMSGSIZE
            | libc::ENOBUFS
            | libc::ENOMEM
            | libc::E2BIG
            | libc::ENXIO
            | libc::EAGAIN
            | libc::ENODATA
    )
}

/// Module state that no unprivileged call may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// `group/counter` -> value (None for groups allowed to move on their own).
    pub counters: BTreeMap<String, Option<u64>>,
    /// groups, counters, generation, ring data size (from KPEEK_IOC_INFO), when a device fd is
    /// given.
    pub info: Option<[u64; 4]>,
    /// Per probe: probe, flags, filter, pid, min_len and dev (PROBE_GET without the hit counts).
    pub probes: Vec<Vec<u8>>,
}

impl State {
    pub fn capture(
        root: &SysRoot,
        dev: Option<RawFd>,
        volatile: &[String],
    ) -> anyhow::Result<Self> {
        let rows = Procfs::new(root).read_in_order()?;
        let counters = rows
            .into_iter()
            .map(|c| {
                let v = (!volatile.contains(&c.group)).then_some(c.value);
                (format!("{}/{}", c.group, c.counter), v)
            })
            .collect();
        let mut info = None;
        let mut probes = Vec::new();
        if let Some(fd) = dev {
            let mut b = [0u8; uapi::INFO_SIZE];
            put_u32(&mut b, uapi::info::SIZE, uapi::INFO_SIZE as u32);
            // SAFETY: b is INFO_SIZE bytes, the size the command encodes.
            unsafe { syscalls::ioctl(fd, uapi::IOC_INFO, b.as_mut_ptr() as u64) }
                .map_err(|e| anyhow::anyhow!("KPEEK_IOC_INFO: {}", errno_name(Err(e))))?;
            info = Some([
                get_u32(&b, uapi::info::GROUPS) as u64,
                get_u32(&b, uapi::info::COUNTERS) as u64,
                get_u64(&b, uapi::info::GENERATION),
                get_u32(&b, uapi::info::RING_DATA_SIZE) as u64,
            ]);
            for p in 1..=uapi::PROBE_MAX {
                let mut b = [0u8; uapi::PROBE_CONFIG_SIZE];
                put_u32(&mut b, uapi::probe::SIZE, uapi::PROBE_CONFIG_SIZE as u32);
                put_u32(&mut b, uapi::probe::PROBE, p);
                // SAFETY: b is PROBE_CONFIG_SIZE bytes, the size the command encodes.
                unsafe { syscalls::ioctl(fd, uapi::IOC_PROBE_GET, b.as_mut_ptr() as u64) }
                    .map_err(|e| {
                        anyhow::anyhow!("KPEEK_IOC_PROBE_GET {p}: {}", errno_name(Err(e)))
                    })?;
                probes.push(b[..uapi::probe::HITS].to_vec());
            }
        }
        Ok(State {
            counters,
            info,
            probes,
        })
    }

    /// Readable differences (empty when equal).
    pub fn diff(&self, after: &State) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.counters {
            match after.counters.get(k) {
                None => out.push(format!("{k} disappeared")),
                Some(w) if w != v => out.push(format!("{k}: {v:?} -> {w:?}")),
                _ => {}
            }
        }
        for k in after.counters.keys() {
            if !self.counters.contains_key(k) {
                out.push(format!("{k} appeared"));
            }
        }
        if self.info != after.info {
            out.push(format!(
                "info [groups, counters, generation, ring size] {:?} -> {:?}",
                self.info, after.info
            ));
        }
        for (i, (a, b)) in self.probes.iter().zip(&after.probes).enumerate() {
            if a != b {
                out.push(format!("probe {} configuration changed", i + 1));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_change() {
        let mut a = State {
            counters: BTreeMap::new(),
            info: Some([1, 2, 3, 0]),
            probes: vec![vec![0; 4]],
        };
        a.counters.insert("g/c".into(), Some(1));
        a.counters.insert("p/h".into(), None);
        assert!(a.diff(&a).is_empty());
        let mut b = a.clone();
        b.counters.insert("g/c".into(), Some(2));
        b.counters.insert("g/d".into(), Some(0));
        b.info = Some([1, 2, 4, 0]);
        b.probes[0][0] = 1;
        let d = b.diff(&a);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(a.diff(&b).iter().any(|s| s.contains("g/d appeared")));
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(Ok(0)), "ok");
        assert_eq!(errno_name(Err(libc::ENOTTY)), "ENOTTY");
        assert_eq!(errno_name(Err(515)), "E?515");
        assert!(!plausible_errno(515));
        assert!(plausible_errno(libc::EFAULT));
    }
}

/// The options both fuzzers share.
#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Number of calls (ioctl fuzzer) or messages sent (netlink fuzzer).
    #[arg(long, default_value_t = 100_000)]
    pub calls: u64,
    /// Seed (printed when chosen from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Open /dev/kpeek or the netlink socket as root, then drop to this uid (no capabilities)
    /// before fuzzing: the kernel must check privileges at each call, not only at open.
    #[arg(long, value_name = "UID")]
    pub drop_uid: Option<u32>,
    /// Groups whose values may change during the run on their own (not compared).
    #[arg(long, default_value = "kpeek_probes")]
    pub volatile_group: Vec<String>,
}
