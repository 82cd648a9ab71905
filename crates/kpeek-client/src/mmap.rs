//! The counter mapping of `/dev/kpeek` (kmod/kpeek_mmap.c): every counter's value in shared
//! memory that the kernel refreshes, read with **no system call** per snapshot.
//!
//! The kernel rewrites the mapping inside a seqcount write section (`seq` odd while writing).
//! [`CounterMap::snapshot`] follows the reader side of that protocol: load `seq` with acquire,
//! retry while odd, copy, fence (the `smp_rmb()`), and retry if `seq` moved. The copy is made
//! with relaxed atomic loads, so a torn read is a retry, never undefined behaviour. The mapping
//! is refreshed every `mmap_refresh_ms` (module parameter) and on [`CounterMap::sync`]
//! (`KPEEK_IOC_MMAP_SYNC`, one ioctl) when the caller asks for values as of now.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use kpeek_abi::mmap::{MMAP_COUNTERS, MMAP_MAGIC, MmapCounters, MmapSlot};
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};

use crate::chardev::{Device, check_names};
use crate::error::{Error, Result};
use crate::fault::BinaryFault;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

/// How long [`CounterMap::read`] keeps retrying a copy the kernel overwrote meanwhile. Bounded
/// by time, not by tries: the kernel's writer can be preempted inside its write section, and
/// how many spins that lasts depends on the machine.
const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// Spins before each retry starts yielding the CPU (to a writer that may share it).
const SPINS_BEFORE_YIELD: u32 = 64;

/// A consistent copy of the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSnapshot {
    /// The header (its `seq` is the even value the copy is consistent with).
    pub header: MmapCounters,
    /// The slots in use.
    pub slots: Vec<MmapSlot>,
    /// How many copies were discarded because the kernel was writing.
    pub retries: u32,
}

/// What is wrong with a copy of the counter mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Fewer bytes than the header.
    #[error("{len} bytes, shorter than the header")]
    Short {
        /// The bytes there are.
        len: usize,
    },
    /// Fewer bytes than the header's `count` slots need.
    #[error("count {count} slots need {need} bytes, the mapping has {len}")]
    Truncated {
        /// The header's slot count.
        count: usize,
        /// The bytes they need, header included.
        need: u128,
        /// The bytes there are.
        len: usize,
    },
    /// Not the magic of the counter mapping.
    #[error("magic {found:#010x}, expected {expected:#010x} (\"KPMC\")")]
    BadMagic {
        /// The magic found.
        found: u32,
        /// [`MMAP_MAGIC`].
        expected: u32,
    },
    /// More slots in use than there are.
    #[error("count {count} is larger than capacity {capacity}")]
    CountOverCapacity {
        /// The header's count.
        count: u32,
        /// The header's capacity.
        capacity: u32,
    },
    /// A slot whose names are not valid kpeek names.
    #[error("slot {index} (id {id}): {reason}")]
    BadSlot {
        /// The slot's index.
        index: usize,
        /// The slot's counter id.
        id: u64,
        /// What is wrong with the names.
        reason: crate::NameFault,
    },
}

/// Check a consistent copy: magic, `count <= capacity`, names.
pub fn check_map_snapshot(header: &MmapCounters, slots: &[MmapSlot]) -> Result<(), LayoutError> {
    if header.magic != MMAP_MAGIC {
        return Err(LayoutError::BadMagic {
            found: header.magic,
            expected: MMAP_MAGIC,
        });
    }
    if header.count > header.capacity {
        return Err(LayoutError::CountOverCapacity {
            count: header.count,
            capacity: header.capacity,
        });
    }
    for (i, s) in slots.iter().enumerate() {
        check_names(&s.group, &s.counter).map_err(|reason| LayoutError::BadSlot {
            index: i,
            id: s.id,
            reason,
        })?;
    }
    Ok(())
}

/// Parse a copy of the mapping's bytes (header then slots), as [`CounterMap`] makes them; for
/// tests and fuzzing of the layout checks.
pub fn parse_map_bytes(bytes: &[u8]) -> Result<(MmapCounters, Vec<MmapSlot>), LayoutError> {
    let hs = size_of::<MmapCounters>();
    if bytes.len() < hs {
        return Err(LayoutError::Short { len: bytes.len() });
    }
    let header: MmapCounters = bytemuck::pod_read_unaligned(&bytes[..hs]);
    let count = header.count as usize;
    let need = hs as u128 + count as u128 * size_of::<MmapSlot>() as u128;
    if need > bytes.len() as u128 {
        return Err(LayoutError::Truncated {
            count,
            need,
            len: bytes.len(),
        });
    }
    let slots = (0..count)
        .map(|i| {
            let off = hs + i * size_of::<MmapSlot>();
            bytemuck::pod_read_unaligned(&bytes[off..off + size_of::<MmapSlot>()])
        })
        .collect::<Vec<MmapSlot>>();
    check_map_snapshot(&header, &slots)?;
    Ok((header, slots))
}

/// The counter mapping (read-only, shared).
#[derive(Debug)]
pub struct CounterMap {
    dev: Device,
    ptr: NonNull<u64>,
    len: usize,
}

// SAFETY: the mapping is only read, through atomics; the pointer stays valid until drop.
unsafe impl Send for CounterMap {}
// SAFETY: as for Send: every access through `&self` is an atomic load from the read-only
// mapping or an ioctl on the device, so concurrent callers cannot race.
unsafe impl Sync for CounterMap {}

impl CounterMap {
    /// Map the counters of `dev` (size from `KPEEK_IOC_INFO`). The device stays open with the
    /// mapping (for [`CounterMap::sync`]).
    pub fn new(dev: Device) -> Result<CounterMap> {
        let info = dev.info()?;
        let len = info.mmap_counters_size as usize;
        if len < size_of::<MmapCounters>() {
            return Err(Error::Binary {
                path: dev.path().to_path_buf(),
                offset: 0,
                fault: Box::new(BinaryFault::MapTooSmall {
                    len,
                    need: size_of::<MmapCounters>(),
                }),
            });
        }
        // SAFETY: a fresh shared read-only mapping of the device; nothing else aliases it in
        // this process, and it is unmapped on drop.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &dev,
                MMAP_COUNTERS,
            )
        }
        .map_err(|e| {
            Error::kernel(
                "mmap of the counters",
                dev.path().to_path_buf(),
                e.raw_os_error(),
                None,
            )
        })?;
        let ptr = NonNull::new(p.cast::<u64>()).ok_or_else(|| Error::Binary {
            path: dev.path().to_path_buf(),
            offset: 0,
            fault: Box::new(BinaryFault::NullMapping),
        })?;
        let map = CounterMap { dev, ptr, len };
        let magic = map.word32(0).load(Ordering::Relaxed);
        if magic != MMAP_MAGIC {
            return Err(Error::Binary {
                path: map.dev.path().to_path_buf(),
                offset: 0,
                fault: Box::new(BinaryFault::MapMagic { found: magic }),
            });
        }
        Ok(map)
    }

    /// Open `/dev/kpeek` under `root` and map its counters.
    pub fn open(root: &SysRoot) -> Result<CounterMap> {
        CounterMap::new(Device::open(root)?)
    }

    /// The device behind the mapping.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never empty (the header is always there); for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn word32(&self, byte_off: usize) -> &AtomicU32 {
        debug_assert!(byte_off.is_multiple_of(4) && byte_off + 4 <= self.len);
        // SAFETY: in bounds and aligned (the mapping is page-aligned); the kernel writes this
        // memory concurrently, so it is only ever accessed atomically.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().cast::<u8>().add(byte_off).cast()) }
    }

    fn word64(&self, idx: usize) -> &AtomicU64 {
        debug_assert!((idx + 1) * 8 <= self.len);
        // SAFETY: as in word32.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(idx)) }
    }

    /// `KPEEK_IOC_MMAP_SYNC`: make the kernel refresh the mapping now (one ioctl).
    pub fn sync(&self) -> Result<()> {
        self.dev.mmap_sync()
    }

    /// The current `seq` (even: stable).
    pub fn seq(&self) -> u32 {
        self.word32(4).load(Ordering::Acquire)
    }

    /// A consistent copy of every slot in use, without any system call.
    pub fn read(&self) -> Result<MapSnapshot> {
        let hwords = size_of::<MmapCounters>() / 8;
        let swords = size_of::<MmapSlot>() / 8;
        let max_slots = (self.len - size_of::<MmapCounters>()) / size_of::<MmapSlot>();
        let mut words: Vec<u64> = Vec::new();
        let mut retries = 0;
        let start = std::time::Instant::now();
        loop {
            let s = self.seq();
            if s & 1 == 0 {
                // The count is part of the copy: a changed count shows up as a changed seq.
                let count = (self.word32(8).load(Ordering::Relaxed) as usize).min(max_slots);
                let n = hwords + count * swords;
                words.clear();
                words.extend((0..n).map(|i| self.word64(i).load(Ordering::Relaxed)));
                fence(Ordering::Acquire);
                if self.word32(4).load(Ordering::Relaxed) == s {
                    let bytes: &[u8] = bytemuck::cast_slice(&words);
                    let (header, slots) = parse_map_bytes(bytes).map_err(|e| Error::Binary {
                        path: self.dev.path().to_path_buf(),
                        offset: 0,
                        fault: Box::new(BinaryFault::MapLayout(e)),
                    })?;
                    return Ok(MapSnapshot {
                        header,
                        slots,
                        retries,
                    });
                }
            }
            retries += 1;
            if retries < SPINS_BEFORE_YIELD {
                std::hint::spin_loop();
                continue;
            }
            if start.elapsed() > RETRY_BUDGET {
                return Err(Error::Binary {
                    path: self.dev.path().to_path_buf(),
                    offset: 4,
                    fault: Box::new(BinaryFault::Unstable {
                        budget: RETRY_BUDGET,
                        tries: retries,
                        seq: s,
                    }),
                });
            }
            std::thread::yield_now();
        }
    }

    /// A [`Snapshot`] of the mapping as it is (no system call).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let m = self.read()?;
        Ok(Snapshot::new(
            m.slots
                .iter()
                .map(|s| {
                    CounterValue::new(
                        kpeek_abi::dev::cstr(&s.group).unwrap_or(""),
                        kpeek_abi::dev::cstr(&s.counter).unwrap_or(""),
                        s.value,
                    )
                })
                .collect(),
        ))
    }
}

impl Drop for CounterMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; no reference into it outlives self.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The mmap channel as a [`CounterSource`]: maps on first use and keeps the mapping. With
/// `sync`, every snapshot first asks the kernel to refresh (`KPEEK_IOC_MMAP_SYNC`), so values
/// are as of the call (the CLI does this); without it, snapshots take no system call and are
/// as of the last periodic refresh.
#[derive(Debug)]
pub struct MmapSource {
    root: SysRoot,
    sync: bool,
    map: std::sync::OnceLock<CounterMap>,
}

impl MmapSource {
    /// `/dev/kpeek` under `root`.
    pub fn new(root: &SysRoot, sync: bool) -> Self {
        MmapSource {
            root: root.clone(),
            sync,
            map: std::sync::OnceLock::new(),
        }
    }

    fn map(&self) -> Result<&CounterMap> {
        if let Some(m) = self.map.get() {
            return Ok(m);
        }
        let m = CounterMap::open(&self.root)?;
        Ok(self.map.get_or_init(|| m))
    }
}

impl CounterSource for MmapSource {
    fn channel(&self) -> Channel {
        Channel::Mmap
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let m = self.map()?;
        if self.sync {
            m.sync()?;
        }
        m.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpeek_abi::dev::to_cbuf;
    use proptest::prelude::*;

    fn slot(id: u64, g: &str, c: &str, v: u64) -> MmapSlot {
        MmapSlot {
            id,
            value: v,
            group: to_cbuf(g).unwrap(),
            counter: to_cbuf(c).unwrap(),
        }
    }

    fn bytes(count: u32, capacity: u32, slots: &[MmapSlot]) -> Vec<u8> {
        let h = MmapCounters {
            magic: MMAP_MAGIC,
            seq: 2,
            count,
            capacity,
            generation: 1,
            refresh_ns: 5,
        };
        let mut b = bytemuck::bytes_of(&h).to_vec();
        for s in slots {
            b.extend_from_slice(bytemuck::bytes_of(s));
        }
        b
    }

    #[test]
    fn parses_the_mapping() {
        let s = [slot(1, "g", "a", 1), slot(2, "g", "b", 2)];
        let (h, got) = parse_map_bytes(&bytes(2, 4, &s)).unwrap();
        assert_eq!(h.capacity, 4);
        assert_eq!(got, s);
        // Slots past `count` are ignored.
        let (_, got) = parse_map_bytes(&bytes(1, 4, &s)).unwrap();
        assert_eq!(got, s[..1]);
    }

    #[test]
    fn rejects_bad_mappings() {
        let s = [slot(1, "g", "a", 1)];
        let mut b = bytes(1, 1, &s);
        b[0] = 0;
        assert!(
            parse_map_bytes(&b)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
        assert!(
            parse_map_bytes(&bytes(2, 1, &s))
                .unwrap_err()
                .to_string()
                .contains("need")
        );
        assert!(
            parse_map_bytes(&bytes(1, 0, &s))
                .unwrap_err()
                .to_string()
                .contains("larger than capacity")
        );
        let mut b = bytes(1, 1, &s);
        b[32 + 16] = b'.';
        let e = parse_map_bytes(&b).unwrap_err();
        assert!(
            matches!(
                e,
                LayoutError::BadSlot {
                    index: 0,
                    id: 1,
                    reason: crate::NameFault::Rule(kpeek_abi::NameError::BadChar { ch: '.', .. })
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("slot 0 (id 1): group name"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_map_bytes(&b);
        }
    }
}
