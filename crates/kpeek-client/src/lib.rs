//! `kpeek-client`: read and drive kpeek.ko through each of its channels.
//!
//! One module per channel, named like the C file that implements it (`kmod/kpeek_procfs.c` ↔
//! [`procfs`]): [`procfs`], [`sysfs`], [`configfs`], [`chardev`] (`read()` of `/dev/kpeek`),
//! [`ioctl`], [`mmap`] (no system call per snapshot) and [`netlink`] read counters and return the
//! same [`Snapshot`] (through the [`CounterSource`] trait); [`configfs`], [`ioctl`] and
//! [`netlink`] create and delete groups and counters; [`sysfs`] resets groups; [`ring`] reads the
//! per-CPU event rings the in-kernel probes fill (configured through [`ioctl`] or [`netlink`]);
//! [`notify`] listens to the notifications of the netlink `events` multicast group; [`debugfs`] reads the module's
//! internals and [`params`] its module parameters; [`peek`] reads kernel memory by symbol name.
//!
//! Every channel is opened under a [`SysRoot`]: `/` on a real system, a directory laid out like
//! one in tests. Errors ([`Error`]) say what to do: load the module, mount the filesystem, run as
//! root, or which naming rule a name broke.
//!
//! Reading a snapshot through procfs, here from a directory laid out like `/` (on a real system,
//! [`SysRoot::real`]):
//!
//! ```
//! use kpeek_client::{Channel, CounterValue, Error, SysRoot};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("proc"))?;
//! let root = SysRoot::new(dir.path());
//!
//! // No /proc/kpeek: the module is not loaded, and the error says so.
//! let e = Channel::Procfs.open(&root).snapshot().unwrap_err();
//! assert!(matches!(e, Error::NotLoaded { .. }));
//! assert!(e.to_string().contains("modprobe kpeek"));
//!
//! std::fs::write(dir.path().join("proc/kpeek"), "net rx_packets 42\nnet drops 0\n")?;
//! let snap = Channel::Procfs.open(&root).snapshot()?;
//! assert_eq!(
//!     snap.counters(),
//!     [CounterValue::new("net", "drops", 0), CounterValue::new("net", "rx_packets", 42)]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod chardev;
pub mod configfs;
pub mod debugfs;
mod error;
mod fault;
pub mod ioctl;
pub mod mmap;
pub mod netlink;
pub mod notify;
pub mod params;
pub mod peek;
pub mod procfs;
mod pseudofile;
// The fields of `ring::RecordBody`, `ring::Record` and `ring::RingItem::Lost`
// are not documented yet.
#[allow(missing_docs)]
pub mod ring;
pub mod snapshot;
pub mod sysfs;

pub use error::{Action, Error, Result};
pub use fault::{BinaryFault, NameFault, TextFault};
pub use kpeek_abi::{NameError, NameKind};
pub use snapshot::{CounterValue, Snapshot};

/// The environment variable that points every channel at a fake tree instead of `/` (for tests).
pub const SYSROOT_ENV: &str = "KPEEK_SYSROOT";

/// The directory the channels' absolute paths (`/proc/kpeek`, `/sys/kernel/kpeek`, ...) are
/// resolved under: `/` for the running kernel, a test's fake tree otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot(PathBuf);

impl SysRoot {
    /// The running system.
    pub fn real() -> Self {
        SysRoot(PathBuf::from("/"))
    }

    /// A tree laid out like `/` (it holds `proc/kpeek`, `sys/kernel/kpeek`, ...).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SysRoot(dir.into())
    }

    /// `$KPEEK_SYSROOT` when set and non-empty, else the running system.
    pub fn from_env() -> Self {
        match std::env::var_os(SYSROOT_ENV) {
            Some(dir) if !dir.is_empty() => SysRoot::new(dir),
            _ => SysRoot::real(),
        }
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// Resolve an absolute system path (`/proc/kpeek`) under this root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }
}

impl Default for SysRoot {
    fn default() -> Self {
        SysRoot::real()
    }
}

/// A channel that reports counter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `/proc/kpeek`: every counter, one line each.
    Procfs,
    /// `/sys/kernel/kpeek/<group>/<counter>`: every counter, one file each.
    Sysfs,
    /// `/sys/kernel/config/kpeek/groups/<group>/<counter>/value`: only groups created through
    /// configfs.
    Configfs,
    /// `/sys/kernel/debug/kpeek/counters`: every counter, one line each (root only).
    Debugfs,
    /// `read()` of `/dev/kpeek`: a binary snapshot of every counter.
    Chardev,
    /// `KPEEK_IOC_GET_COUNTERS` on `/dev/kpeek`, page by page.
    Ioctl,
    /// The counter mapping of `/dev/kpeek` (here refreshed by one `KPEEK_IOC_MMAP_SYNC` per
    /// snapshot; [`mmap::CounterMap`] reads without any system call).
    Mmap,
    /// A `KPEEK_CMD_GET_COUNTERS` dump of the generic netlink family `kpeek`.
    Netlink,
}

impl Channel {
    /// Every counter channel, in the order the CLI lists them.
    pub const ALL: [Channel; 8] = [
        Channel::Procfs,
        Channel::Sysfs,
        Channel::Configfs,
        Channel::Debugfs,
        Channel::Chardev,
        Channel::Ioctl,
        Channel::Mmap,
        Channel::Netlink,
    ];

    /// The channel's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Procfs => "procfs",
            Channel::Sysfs => "sysfs",
            Channel::Configfs => "configfs",
            Channel::Debugfs => "debugfs",
            Channel::Chardev => "chardev",
            Channel::Ioctl => "ioctl",
            Channel::Mmap => "mmap",
            Channel::Netlink => "netlink",
        }
    }

    /// Open this channel under `root` (the device or socket is opened at the first snapshot;
    /// netlink ignores `root`: it talks to the running kernel).
    pub fn open(self, root: &SysRoot) -> Box<dyn CounterSource> {
        match self {
            Channel::Procfs => Box::new(procfs::Procfs::new(root)),
            Channel::Sysfs => Box::new(sysfs::Sysfs::new(root)),
            Channel::Configfs => Box::new(configfs::Configfs::new(root)),
            Channel::Debugfs => Box::new(debugfs::Debugfs::new(root)),
            Channel::Chardev => Box::new(chardev::Chardev::new(root)),
            Channel::Ioctl => Box::new(ioctl::IoctlSource::new(root)),
            Channel::Mmap => Box::new(mmap::MmapSource::new(root, true)),
            Channel::Netlink => Box::new(netlink::NetlinkSource::new()),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is none of kpeek.ko's channels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown channel {name:?} (expected procfs, sysfs, configfs, debugfs, chardev, ioctl, mmap \
     or netlink)"
)]
#[non_exhaustive]
pub struct UnknownChannel {
    /// The name as given.
    pub name: String,
}

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> std::result::Result<Self, UnknownChannel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownChannel { name: s.to_owned() })
    }
}

/// Anything that can take a [`Snapshot`] of kpeek.ko's counters.
pub trait CounterSource {
    /// Which channel this is.
    fn channel(&self) -> Channel;

    /// Every counter this channel shows, sorted by group then counter (see [`Snapshot`]).
    fn snapshot(&self) -> Result<Snapshot>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysroot_resolves_absolute_paths() {
        assert_eq!(
            SysRoot::real().path("/proc/kpeek"),
            Path::new("/proc/kpeek")
        );
        assert_eq!(
            SysRoot::new("/tmp/x").path("/proc/kpeek"),
            Path::new("/tmp/x/proc/kpeek")
        );
    }

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.name().parse::<Channel>(), Ok(c));
            assert_eq!(c.open(&SysRoot::real()).channel(), c);
        }
        assert!(
            "carrier_pigeon"
                .parse::<Channel>()
                .unwrap_err()
                .to_string()
                .contains("procfs, sysfs, configfs, debugfs, chardev, ioctl, mmap or netlink")
        );
    }
}
