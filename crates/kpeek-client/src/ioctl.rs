//! ioctls on `/dev/kpeek` (kmod/kpeek_chardev.c): info, counters by id or by page, reset,
//! create/destroy, probe and ring configuration, counter-mapping sync.
//!
//! Every struct goes in with its `size` set and reserved fields zero; the kernel's errno comes
//! back as [`Error::Kernel`] with the rule it enforces (root needed, unknown id, ABI mismatch...).

use kpeek_abi::dev::{
    self, CounterGet, CounterRec, CountersGet, Create, Destroy, Info, ProbeConfig, Reset,
    RingConfig, RingConsume, to_cbuf,
};
use kpeek_abi::{NameKind, validate_name};
use rustix::ioctl::{NoArg, Updater, ioctl};
use std::os::fd::BorrowedFd;

use crate::chardev::{Device, check_names, rec_value};
use crate::error::{Error, Result};
use crate::fault::BinaryFault;
use crate::{Channel, CounterSource, Snapshot, SysRoot};

/// What a reset or destroy targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every counter (reset only).
    All,
    /// A group, by id.
    Group(u64),
    /// A counter, by id.
    Counter(u64),
}

impl Target {
    pub(crate) fn raw(self) -> (u32, u64) {
        match self {
            Target::All => (dev::TARGET_ALL, 0),
            Target::Group(id) => (dev::TARGET_GROUP, id),
            Target::Counter(id) => (dev::TARGET_COUNTER, id),
        }
    }
}

/// An in-kernel probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// net:netif_receive_skb.
    NetifReceiveSkb,
    /// sched:sched_switch.
    SchedSwitch,
    /// block:block_rq_issue.
    BlockRqIssue,
}

impl Probe {
    /// Every probe.
    pub const ALL: [Probe; 3] = [
        Probe::NetifReceiveSkb,
        Probe::SchedSwitch,
        Probe::BlockRqIssue,
    ];

    /// The `KPEEK_PROBE_*` number.
    pub fn id(self) -> u32 {
        match self {
            Probe::NetifReceiveSkb => dev::PROBE_NETIF_RECEIVE_SKB,
            Probe::SchedSwitch => dev::PROBE_SCHED_SWITCH,
            Probe::BlockRqIssue => dev::PROBE_BLOCK_RQ_ISSUE,
        }
    }

    /// The tracepoint's name (also the CLI's).
    pub fn name(self) -> &'static str {
        match self {
            Probe::NetifReceiveSkb => "netif_receive_skb",
            Probe::SchedSwitch => "sched_switch",
            Probe::BlockRqIssue => "block_rq_issue",
        }
    }

    /// The probe with this tracepoint name.
    pub fn from_name(s: &str) -> Option<Probe> {
        Probe::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The probe with this `KPEEK_PROBE_*` number.
    pub fn from_id(id: u32) -> Option<Probe> {
        Probe::ALL.into_iter().find(|p| p.id() == id)
    }
}

/// A probe's filter: each `Some` field is one condition (all must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeFilter {
    /// netif: the device name equals this (at most 15 bytes).
    pub dev: Option<String>,
    /// sched: prev or next pid; block: the issuing pid.
    pub pid: Option<i32>,
    /// netif: `skb->len >= min_len`; block: bytes.
    pub min_len: Option<u32>,
}

/// A `--filter` term [`ProbeFilter::add_term`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterTermError {
    /// No `=` in the term.
    #[error("filter {term:?} is not key=value (dev=NAME, pid=N, min_len=N)")]
    NotKeyValue {
        /// The term as given.
        term: String,
    },
    /// `dev=` with an impossible device name.
    #[error("filter dev={value:?}: a device name is 1..15 bytes without '/' or NUL")]
    BadDevice {
        /// The value as given.
        value: String,
    },
    /// `pid=` with something that is not a pid.
    #[error("filter pid={value:?}: expected a pid (0..2147483647)")]
    BadPid {
        /// The value as given.
        value: String,
    },
    /// `min_len=` with something that is not a byte count.
    #[error("filter min_len={value:?}: expected a byte count (0..4294967295)")]
    BadMinLen {
        /// The value as given.
        value: String,
    },
    /// A key no probe takes.
    #[error("unknown filter key {key:?} in {term:?} (expected dev, pid or min_len)")]
    UnknownKey {
        /// The key.
        key: String,
        /// The whole term.
        term: String,
    },
}

impl ProbeFilter {
    /// Parse one `key=value` term (`dev=lo`, `pid=42`, `min_len=64`) into this filter.
    pub fn add_term(&mut self, term: &str) -> std::result::Result<(), FilterTermError> {
        let (k, v) = term
            .split_once('=')
            .ok_or_else(|| FilterTermError::NotKeyValue {
                term: term.to_owned(),
            })?;
        let value = || v.to_owned();
        match k {
            "dev" => {
                if v.is_empty() || v.len() > 15 || v.contains('\0') || v.contains('/') {
                    return Err(FilterTermError::BadDevice { value: value() });
                }
                self.dev = Some(v.to_owned());
            }
            "pid" => {
                self.pid = Some(
                    v.parse::<i32>()
                        .ok()
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| FilterTermError::BadPid { value: value() })?,
                );
            }
            "min_len" => {
                self.min_len = Some(
                    v.parse::<u32>()
                        .map_err(|_| FilterTermError::BadMinLen { value: value() })?,
                );
            }
            _ => {
                return Err(FilterTermError::UnknownKey {
                    key: k.to_owned(),
                    term: term.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The `KPEEK_FILTER_*` bits.
    pub fn bits(&self) -> u32 {
        (if self.dev.is_some() {
            dev::FILTER_DEV
        } else {
            0
        }) | (if self.pid.is_some() {
            dev::FILTER_PID
        } else {
            0
        }) | (if self.min_len.is_some() {
            dev::FILTER_MINLEN
        } else {
            0
        })
    }
}

/// A probe's configuration, as set or as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeState {
    /// Which probe.
    pub probe: Probe,
    /// Attached to its tracepoint.
    pub enabled: bool,
    /// Writing records into the event rings.
    pub ring: bool,
    /// What an event must match to count (and to be written into the rings).
    pub filter: ProbeFilter,
    /// Events seen (PROBE_GET only).
    pub hits: u64,
    /// Events that passed the filter (PROBE_GET only).
    pub matched: u64,
}

impl ProbeState {
    /// The ioctl struct for `KPEEK_IOC_PROBE_SET`.
    pub fn to_config(&self) -> ProbeConfig {
        let mut c: ProbeConfig = bytemuck::Zeroable::zeroed();
        c.size = size_of::<ProbeConfig>() as u32;
        c.probe = self.probe.id();
        c.flags = (if self.enabled { dev::PROBE_F_ENABLE } else { 0 })
            | (if self.ring { dev::PROBE_F_RING } else { 0 });
        c.filter = self.filter.bits();
        c.pid = self.filter.pid.unwrap_or(0);
        c.min_len = self.filter.min_len.unwrap_or(0);
        if let Some(d) = &self.filter.dev {
            c.dev = to_cbuf::<16>(d).unwrap_or_default();
        }
        c
    }

    /// Read back a `KPEEK_IOC_PROBE_GET` answer.
    pub fn from_config(c: &ProbeConfig) -> Option<ProbeState> {
        Some(ProbeState {
            probe: Probe::from_id(c.probe)?,
            enabled: c.flags & dev::PROBE_F_ENABLE != 0,
            ring: c.flags & dev::PROBE_F_RING != 0,
            filter: ProbeFilter {
                dev: (c.filter & dev::FILTER_DEV != 0)
                    .then(|| dev::cstr(&c.dev).unwrap_or("?").to_owned()),
                pid: (c.filter & dev::FILTER_PID != 0).then_some(c.pid),
                min_len: (c.filter & dev::FILTER_MINLEN != 0).then_some(c.min_len),
            },
            hits: c.hits,
            matched: c.matched,
        })
    }
}

/// Records per `KPEEK_IOC_GET_COUNTERS` call.
const PAGE: usize = 512;
/// How often a paged read restarts when counters keep being created or destroyed.
const PAGE_RETRIES: usize = 20;

fn zeroed<T: bytemuck::Zeroable>() -> T {
    T::zeroed()
}

impl Device {
    fn kernel_err(&self, op: &str, e: rustix::io::Errno) -> Error {
        Error::kernel(op, self.path().to_path_buf(), e.raw_os_error(), None)
    }

    /// `KPEEK_IOC_INFO`; fails with [`Error::AbiMismatch`] when the module speaks another ABI.
    pub fn info(&self) -> Result<Info> {
        let mut info: Info = zeroed();
        info.size = size_of::<Info>() as u32;
        // SAFETY: KPEEK_IOC_INFO is _IOWR on struct kpeek_info, which Info mirrors (checked
        // against the header by kpeek-abi's tests).
        let r = unsafe { ioctl(self, Updater::<{ dev::IOC_INFO }, Info>::new(&mut info)) };
        match r {
            Ok(()) if info.abi_version != kpeek_abi::ABI_VERSION => Err(Error::AbiMismatch {
                path: self.path().to_path_buf(),
                found: info.abi_version,
                expected: kpeek_abi::ABI_VERSION,
            }),
            Ok(()) => Ok(info),
            // An older module knows neither this ioctl nor this struct size.
            Err(e) if e == rustix::io::Errno::NOTTY || e == rustix::io::Errno::INVAL => {
                Err(Error::kernel(
                    "KPEEK_IOC_INFO",
                    self.path().to_path_buf(),
                    e.raw_os_error(),
                    Some(format!(
                        "kpeek.ko refused the ABI version {} info request: is it another version \
                         than this kpeek?",
                        kpeek_abi::ABI_VERSION
                    )),
                ))
            }
            Err(e) => Err(self.kernel_err("KPEEK_IOC_INFO", e)),
        }
    }

    /// `KPEEK_IOC_GET_COUNTER`: one counter by id.
    pub fn counter(&self, id: u64) -> Result<CounterRec> {
        let mut g: CounterGet = zeroed();
        g.size = size_of::<CounterGet>() as u32;
        g.id = id;
        // SAFETY: _IOWR on struct kpeek_counter_get, mirrored by CounterGet.
        unsafe {
            ioctl(
                self,
                Updater::<{ dev::IOC_GET_COUNTER }, CounterGet>::new(&mut g),
            )
        }
        .map_err(|e| self.kernel_err(&format!("KPEEK_IOC_GET_COUNTER id {id}"), e))?;
        check_names(&g.rec.group, &g.rec.counter).map_err(|fault| Error::Binary {
            path: self.path().to_path_buf(),
            offset: 0,
            fault: Box::new(BinaryFault::RecordNames {
                request: "KPEEK_IOC_GET_COUNTER",
                id,
                fault,
            }),
        })?;
        Ok(g.rec)
    }

    /// One `KPEEK_IOC_GET_COUNTERS` call: up to `buf.len()` records from index `start`.
    /// Returns (records written, total counters, generation).
    pub fn counters_page(&self, start: u32, buf: &mut [CounterRec]) -> Result<(usize, u32, u64)> {
        let mut g: CountersGet = zeroed();
        g.size = size_of::<CountersGet>() as u32;
        g.recs = buf.as_mut_ptr() as u64;
        g.capacity = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        g.start = start;
        // SAFETY: _IOWR on struct kpeek_counters_get; `recs` points at `capacity` writable
        // records that outlive the call.
        unsafe {
            ioctl(
                self,
                Updater::<{ dev::IOC_GET_COUNTERS }, CountersGet>::new(&mut g),
            )
        }
        .map_err(|e| self.kernel_err("KPEEK_IOC_GET_COUNTERS", e))?;
        let n = g.count as usize;
        if n > buf.len() {
            return Err(Error::Binary {
                path: self.path().to_path_buf(),
                offset: 0,
                fault: Box::new(BinaryFault::Overfilled {
                    written: n,
                    capacity: buf.len(),
                }),
            });
        }
        Ok((n, g.total, g.generation))
    }

    /// Every counter through `KPEEK_IOC_GET_COUNTERS`, page by page; restarts when the
    /// generation changed between pages (a create or destroy happened), so the result is one
    /// consistent set of counters.
    pub fn counters(&self) -> Result<Vec<CounterRec>> {
        let mut buf = vec![zeroed::<CounterRec>(); PAGE];
        'retry: for _ in 0..PAGE_RETRIES {
            let mut out = Vec::new();
            let mut generation = None;
            loop {
                let (n, total, g) = self.counters_page(out.len() as u32, &mut buf)?;
                if generation.is_some_and(|x| x != g) {
                    continue 'retry;
                }
                generation = Some(g);
                out.extend_from_slice(&buf[..n]);
                if n == 0 || out.len() >= total as usize {
                    break;
                }
            }
            for r in &out {
                check_names(&r.group, &r.counter).map_err(|fault| Error::Binary {
                    path: self.path().to_path_buf(),
                    offset: 0,
                    fault: Box::new(BinaryFault::RecordNames {
                        request: "KPEEK_IOC_GET_COUNTERS",
                        id: r.id,
                        fault,
                    }),
                })?;
            }
            return Ok(out);
        }
        Err(Error::kernel(
            "KPEEK_IOC_GET_COUNTERS",
            self.path().to_path_buf(),
            11,
            Some(format!(
                "counters changed during each of {PAGE_RETRIES} paged reads; try again"
            )),
        ))
    }

    /// `KPEEK_IOC_RESET` (root).
    pub fn reset(&self, target: Target) -> Result<()> {
        let (t, id) = target.raw();
        let mut r = Reset {
            size: size_of::<Reset>() as u32,
            target: t,
            id,
        };
        // SAFETY: _IOW on struct kpeek_reset, mirrored by Reset.
        unsafe { ioctl(self, Updater::<{ dev::IOC_RESET }, Reset>::new(&mut r)) }
            .map_err(|e| self.kernel_err(&format!("KPEEK_IOC_RESET {target:?}"), e))
    }

    fn create(&self, group: &str, counter: Option<&str>) -> Result<u64> {
        validate_name(NameKind::Group, group)?;
        if let Some(c) = counter {
            validate_name(NameKind::Counter, c)?;
        }
        let mut c: Create = zeroed();
        c.size = size_of::<Create>() as u32;
        c.target = if counter.is_some() {
            dev::TARGET_COUNTER
        } else {
            dev::TARGET_GROUP
        };
        // Valid names fit (validate_name checked NAME_MAX).
        c.group = to_cbuf(group).unwrap_or_default();
        if let Some(n) = counter {
            c.counter = to_cbuf(n).unwrap_or_default();
        }
        // SAFETY: _IOWR on struct kpeek_create, mirrored by Create.
        unsafe { ioctl(self, Updater::<{ dev::IOC_CREATE }, Create>::new(&mut c)) }.map_err(
            |e| {
                let what = match counter {
                    Some(n) => format!("KPEEK_IOC_CREATE counter {group}/{n}"),
                    None => format!("KPEEK_IOC_CREATE group {group:?}"),
                };
                self.kernel_err(&what, e)
            },
        )?;
        Ok(c.id)
    }

    /// `KPEEK_IOC_CREATE` a group owned by user space (root); returns its id.
    pub fn create_group(&self, group: &str) -> Result<u64> {
        self.create(group, None)
    }

    /// `KPEEK_IOC_CREATE` a counter in a user-space group (root); returns its id.
    pub fn create_counter(&self, group: &str, counter: &str) -> Result<u64> {
        self.create(group, Some(counter))
    }

    /// `KPEEK_IOC_DESTROY` a user-space group or counter (root).
    pub fn destroy(&self, target: Target) -> Result<()> {
        let (t, id) = target.raw();
        let mut d = Destroy {
            size: size_of::<Destroy>() as u32,
            target: t,
            id,
        };
        // SAFETY: _IOW on struct kpeek_destroy, mirrored by Destroy.
        unsafe { ioctl(self, Updater::<{ dev::IOC_DESTROY }, Destroy>::new(&mut d)) }
            .map_err(|e| self.kernel_err(&format!("KPEEK_IOC_DESTROY {target:?}"), e))
    }

    /// `KPEEK_IOC_PROBE_SET` (root).
    pub fn probe_set(&self, state: &ProbeState) -> Result<()> {
        let mut c = state.to_config();
        // SAFETY: _IOW on struct kpeek_probe_config, mirrored by ProbeConfig.
        unsafe {
            ioctl(
                self,
                Updater::<{ dev::IOC_PROBE_SET }, ProbeConfig>::new(&mut c),
            )
        }
        .map_err(|e| self.kernel_err(&format!("KPEEK_IOC_PROBE_SET {}", state.probe.name()), e))
    }

    /// `KPEEK_IOC_PROBE_GET`: a probe's configuration and hit counts.
    pub fn probe_get(&self, probe: Probe) -> Result<ProbeState> {
        let mut c: ProbeConfig = zeroed();
        c.size = size_of::<ProbeConfig>() as u32;
        c.probe = probe.id();
        // SAFETY: _IOWR on struct kpeek_probe_config, mirrored by ProbeConfig.
        unsafe {
            ioctl(
                self,
                Updater::<{ dev::IOC_PROBE_GET }, ProbeConfig>::new(&mut c),
            )
        }
        .map_err(|e| self.kernel_err(&format!("KPEEK_IOC_PROBE_GET {}", probe.name()), e))?;
        ProbeState::from_config(&c).ok_or_else(|| Error::Binary {
            path: self.path().to_path_buf(),
            offset: 0,
            fault: Box::new(BinaryFault::UnknownProbe { probe: c.probe }),
        })
    }

    /// `KPEEK_IOC_RING_SETUP` (root): `data_size` bytes per CPU (a power of two, at least a
    /// page, at most 16 MiB), poll() watermark in bytes (0: any record).
    pub fn ring_setup(&self, data_size: u32, watermark: u32) -> Result<()> {
        let mut c = RingConfig {
            size: size_of::<RingConfig>() as u32,
            flags: 0,
            data_size,
            watermark,
        };
        // SAFETY: _IOW on struct kpeek_ring_config, mirrored by RingConfig.
        unsafe {
            ioctl(
                self,
                Updater::<{ dev::IOC_RING_SETUP }, RingConfig>::new(&mut c),
            )
        }
        .map_err(|e| {
            let hint = (e == rustix::io::Errno::BUSY).then(|| RINGS_BUSY.to_string());
            Error::kernel(
                &format!("KPEEK_IOC_RING_SETUP data_size {data_size}"),
                self.path().to_path_buf(),
                e.raw_os_error(),
                hint,
            )
        })
    }

    /// `KPEEK_IOC_MMAP_SYNC`: refresh the counter mapping now.
    pub fn mmap_sync(&self) -> Result<()> {
        // SAFETY: _IO, no argument.
        unsafe { ioctl(self, NoArg::<{ dev::IOC_MMAP_SYNC }>::new()) }
            .map_err(|e| self.kernel_err("KPEEK_IOC_MMAP_SYNC", e))
    }
}

/// Why `EBUSY` on the rings: ABI 4 gives them one owner.
pub(crate) const RINGS_BUSY: &str = "the event rings belong to another open /dev/kpeek (another \
     `kpeek mod events` or ring reader); they are free once that reader exits";

/// `KPEEK_IOC_RING_CONSUME` on `fd` (an open `/dev/kpeek` that owns the rings): the reader is
/// done with `cpu`'s ring up to `tail`.
pub(crate) fn ring_consume(fd: BorrowedFd<'_>, cpu: u32, tail: u32) -> rustix::io::Result<()> {
    let mut c = RingConsume {
        size: size_of::<RingConsume>() as u32,
        cpu,
        tail,
        flags: 0,
    };
    // SAFETY: _IOW on struct kpeek_ring_consume, mirrored by RingConsume (kpeek-abi's tests).
    unsafe {
        ioctl(
            fd,
            Updater::<{ dev::IOC_RING_CONSUME }, RingConsume>::new(&mut c),
        )
    }
}

/// The ioctl channel: `KPEEK_IOC_GET_COUNTERS` pages.
#[derive(Debug, Clone)]
pub struct IoctlSource {
    root: SysRoot,
}

impl IoctlSource {
    /// `/dev/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        IoctlSource { root: root.clone() }
    }
}

impl CounterSource for IoctlSource {
    fn channel(&self) -> Channel {
        Channel::Ioctl
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let dev = Device::open(&self.root)?;
        dev.info()?;
        Ok(Snapshot::new(
            dev.counters()?.iter().map(rec_value).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_refuse() {
        let mut f = ProbeFilter::default();
        f.add_term("dev=lo").unwrap();
        f.add_term("pid=42").unwrap();
        f.add_term("min_len=64").unwrap();
        assert_eq!(f.bits(), 7);
        let s = ProbeState {
            probe: Probe::NetifReceiveSkb,
            enabled: true,
            ring: true,
            filter: f.clone(),
            hits: 0,
            matched: 0,
        };
        let c = s.to_config();
        assert_eq!((c.probe, c.flags, c.pid, c.min_len), (1, 3, 42, 64));
        assert_eq!(&c.dev[..3], b"lo\0");
        assert_eq!(ProbeState::from_config(&c).unwrap(), s);
        for (bad, msg) in [
            ("dev", "not key=value"),
            ("dev=", "1..15 bytes"),
            ("dev=abcdefghijklmnop", "1..15 bytes"),
            ("pid=-1", "expected a pid"),
            ("pid=x", "expected a pid"),
            ("min_len=1.5", "expected a byte count"),
            ("cpu=1", "unknown filter key \"cpu\""),
        ] {
            let e = ProbeFilter::default()
                .add_term(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn probe_names() {
        for p in Probe::ALL {
            assert_eq!(Probe::from_name(p.name()), Some(p));
            assert_eq!(Probe::from_id(p.id()), Some(p));
        }
        assert_eq!(Probe::from_name("kprobe"), None);
    }

    #[test]
    fn a_regular_file_is_not_the_device() {
        // ioctl on a plain file: ENOTTY, reported as an ABI/version problem with the request.
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("dev")).unwrap();
        std::fs::write(d.path().join("dev/kpeek"), b"").unwrap();
        let dev = Device::open(&SysRoot::new(d.path())).unwrap();
        let e = dev.info().unwrap_err().to_string();
        assert!(e.contains("KPEEK_IOC_INFO") && e.contains("ENOTTY"), "{e}");
    }
}
