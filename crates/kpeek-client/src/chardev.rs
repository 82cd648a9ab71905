//! `/dev/kpeek` (kmod/kpeek_chardev.c): opening the device and its `read()` snapshot.
//!
//! A `read()` from offset 0 makes the kernel copy every counter into a self-describing binary
//! snapshot ([`kpeek_abi::dev::SnapHeader`], then `count` [`kpeek_abi::dev::CounterRec`]s);
//! later reads and `lseek` walk that one copy, so partial reads of any size see one consistent
//! state. [`parse_snapshot`] checks every field; [`Device`] is also where [`crate::ioctl`],
//! [`crate::mmap`] and [`crate::ring`] start.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use kpeek_abi::dev::{CounterRec, SnapHeader, cstr};
use kpeek_abi::{NameKind, validate_name};

use crate::error::{Error, Result};
use crate::fault::NameFault;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

/// Why a `read()` snapshot is malformed: the byte offset and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {fault}")]
#[non_exhaustive]
pub struct SnapError {
    /// Offset of the bad field or record from the start of the snapshot.
    pub offset: usize,
    /// What is wrong.
    pub fault: SnapFault,
}

/// What is wrong in a `read()` snapshot, with the values that show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapFault {
    /// Fewer bytes than the header.
    #[error("{len} bytes, shorter than the {header}-byte header (truncated read?)")]
    Short {
        /// The bytes read.
        len: usize,
        /// The size of [`SnapHeader`].
        header: usize,
    },
    /// Not the snapshot magic.
    #[error(
        "magic {found:#010x}, expected {:#010x} (\"KPSN\")",
        kpeek_abi::dev::SNAP_MAGIC
    )]
    Magic {
        /// The magic found.
        found: u32,
    },
    /// Another ABI version than this crate's.
    #[error("ABI version {found}, this kpeek speaks {}", kpeek_abi::ABI_VERSION)]
    AbiVersion {
        /// The snapshot's version.
        found: u16,
    },
    /// A header size below this ABI's header or past the end of the bytes.
    #[error("header_size {header_size} is not within {min}..={len}")]
    HeaderSize {
        /// The header's `header_size`.
        header_size: usize,
        /// The size of [`SnapHeader`].
        min: usize,
        /// The bytes read.
        len: usize,
    },
    /// A record size below this ABI's record or not a multiple of 8.
    #[error("record_size {record_size}: expected a multiple of 8 of at least {min}")]
    RecordSize {
        /// The header's `record_size`.
        record_size: usize,
        /// The size of [`CounterRec`].
        min: usize,
    },
    /// The bytes after the header are not `count` records.
    #[error(
        "count {count} x {record_size}-byte records = {} bytes, but {body} bytes follow the \
         header (torn or partial read?)",
        *.count as u128 * *.record_size as u128
    )]
    Count {
        /// The header's `count`.
        count: usize,
        /// The header's `record_size`.
        record_size: usize,
        /// The bytes after the header.
        body: usize,
    },
    /// A record whose names kpeek.ko could not have created.
    #[error("record {index} (id {id}): {fault}")]
    Names {
        /// The record's index.
        index: usize,
        /// Its counter id.
        id: u64,
        /// What is wrong with its names.
        fault: NameFault,
    },
}

/// A parsed `read()` snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevSnapshot {
    /// The header as the kernel wrote it.
    pub header: SnapHeader,
    /// Every counter, in the kernel's order.
    pub records: Vec<CounterRec>,
}

impl DevSnapshot {
    /// The records as [`CounterValue`]s (names were checked by [`parse_snapshot`]).
    pub fn values(&self) -> Vec<CounterValue> {
        self.records.iter().map(rec_value).collect()
    }
}

/// A record's names and value (its names must have passed [`check_rec_names`]).
pub(crate) fn rec_value(r: &CounterRec) -> CounterValue {
    CounterValue::new(
        cstr(&r.group).unwrap_or(""),
        cstr(&r.counter).unwrap_or(""),
        r.value,
    )
}

/// Both names of a record: NUL-terminated inside their field, valid kpeek names.
pub(crate) fn check_names(group: &[u8], counter: &[u8]) -> Result<(), NameFault> {
    for (kind, field) in [(NameKind::Group, group), (NameKind::Counter, counter)] {
        if !field.contains(&0) {
            return Err(NameFault::NoNul { kind });
        }
        let name = cstr(field).ok_or(NameFault::NotUtf8 { kind })?;
        validate_name(kind, name)?;
    }
    Ok(())
}

/// Parse a whole `read()` snapshot strictly: magic, ABI version, sizes, a length that is exactly
/// header + `count` records, and valid names in every record. Records larger than this ABI's
/// (a newer module that appended fields) are accepted and their known prefix used.
pub fn parse_snapshot(bytes: &[u8]) -> Result<DevSnapshot, SnapError> {
    let err = |offset, fault| SnapError { offset, fault };
    let hsize = size_of::<SnapHeader>();
    if bytes.len() < hsize {
        return Err(err(
            0,
            SnapFault::Short {
                len: bytes.len(),
                header: hsize,
            },
        ));
    }
    let header: SnapHeader = bytemuck::pod_read_unaligned(&bytes[..hsize]);
    if header.magic != kpeek_abi::dev::SNAP_MAGIC {
        return Err(err(
            0,
            SnapFault::Magic {
                found: header.magic,
            },
        ));
    }
    if u32::from(header.abi_version) != kpeek_abi::ABI_VERSION {
        return Err(err(
            4,
            SnapFault::AbiVersion {
                found: header.abi_version,
            },
        ));
    }
    let header_size = usize::from(header.header_size);
    if header_size < hsize || header_size > bytes.len() {
        return Err(err(
            6,
            SnapFault::HeaderSize {
                header_size,
                min: hsize,
                len: bytes.len(),
            },
        ));
    }
    let rsize = header.record_size as usize;
    if rsize < size_of::<CounterRec>() || !rsize.is_multiple_of(8) {
        return Err(err(
            8,
            SnapFault::RecordSize {
                record_size: rsize,
                min: size_of::<CounterRec>(),
            },
        ));
    }
    let body = bytes.len() - header_size;
    let count = header.count as usize;
    if body != count.saturating_mul(rsize) {
        return Err(err(
            12,
            SnapFault::Count {
                count,
                record_size: rsize,
                body,
            },
        ));
    }
    let mut records = Vec::with_capacity(count);
    for i in 0..count {
        let off = header_size + i * rsize;
        let rec: CounterRec =
            bytemuck::pod_read_unaligned(&bytes[off..off + size_of::<CounterRec>()]);
        check_names(&rec.group, &rec.counter).map_err(|fault| {
            err(
                off,
                SnapFault::Names {
                    index: i,
                    id: rec.id,
                    fault,
                },
            )
        })?;
        records.push(rec);
    }
    Ok(DevSnapshot { header, records })
}

/// An open `/dev/kpeek`.
#[derive(Debug)]
pub struct Device {
    file: File,
    path: PathBuf,
    writable: bool,
}

impl Device {
    /// Open `/dev/kpeek` under `root` read-write (needed to map rings), or read-only when only
    /// reading is allowed (a udev rule that grants read access).
    pub fn open(root: &SysRoot) -> Result<Device> {
        let path = root.path(kpeek_abi::dev::DEV_PATH);
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => Ok(Device {
                file,
                path,
                writable: true,
            }),
            Err(e) if matches!(e.raw_os_error(), Some(1 | 13 | 30)) => match File::open(&path) {
                Ok(file) => Ok(Device {
                    file,
                    path,
                    writable: false,
                }),
                Err(e) => Err(Self::open_error(root, path, e)),
            },
            Err(e) => Err(Self::open_error(root, path, e)),
        }
    }

    fn open_error(root: &SysRoot, path: PathBuf, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(2 | 6 | 19) if !root.path(kpeek_abi::PROC_PATH).exists() => {
                Error::NotLoaded { path }
            }
            Some(2) => Error::NoChannelDir {
                path,
                why: "kpeek.ko is loaded but the device node is missing: is devtmpfs mounted \
                      on /dev (or udev running)?",
            },
            Some(6 | 19) => Error::NotLoaded { path },
            Some(1 | 13) => Error::PermissionDenied {
                op: "opening",
                path,
                why: "/dev/kpeek is root-only (0600): run as root, or install kmod/99-kpeek.rules \
                      to grant a group access",
            },
            _ => Error::Io {
                op: "opening",
                path,
                error: e,
            },
        }
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the device is open for writing (rings can be mapped).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The raw snapshot: seek to 0 (the kernel takes a new copy) and read to the end in pieces
    /// of `chunk` bytes (0: 64 KiB).
    pub fn read_raw(&self, chunk: usize) -> Result<Vec<u8>> {
        let io_err = |op, error| Error::Io {
            op,
            path: self.path.clone(),
            error,
        };
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| io_err("seeking", e))?;
        let chunk = if chunk == 0 { 64 << 10 } else { chunk };
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match f.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("reading", e)),
            }
        }
    }

    /// One parsed snapshot through `read()`.
    pub fn read_snapshot(&self) -> Result<DevSnapshot> {
        let raw = self.read_raw(0)?;
        parse_snapshot(&raw).map_err(|e| match e.fault {
            SnapFault::AbiVersion { found } => Error::AbiMismatch {
                path: self.path.clone(),
                found: u32::from(found),
                expected: kpeek_abi::ABI_VERSION,
            },
            fault => Error::Binary {
                path: self.path.clone(),
                offset: e.offset,
                fault: Box::new(fault.into()),
            },
        })
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The `read()` channel: opens the device for each snapshot.
#[derive(Debug, Clone)]
pub struct Chardev {
    root: SysRoot,
}

impl Chardev {
    /// `/dev/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        Chardev { root: root.clone() }
    }
}

impl CounterSource for Chardev {
    fn channel(&self) -> Channel {
        Channel::Chardev
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let dev = Device::open(&self.root)?;
        Ok(Snapshot::new(dev.read_snapshot()?.values()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kpeek_abi::dev::{NameBuf, to_cbuf};
    use proptest::prelude::*;

    pub(crate) fn rec(id: u64, g: &str, c: &str, v: u64) -> CounterRec {
        CounterRec {
            id,
            group_id: id / 100,
            value: v,
            group: to_cbuf::<32>(g).unwrap() as NameBuf,
            counter: to_cbuf::<32>(c).unwrap(),
        }
    }

    pub(crate) fn encode(recs: &[CounterRec]) -> Vec<u8> {
        let h = SnapHeader {
            magic: kpeek_abi::dev::SNAP_MAGIC,
            abi_version: kpeek_abi::ABI_VERSION as u16,
            header_size: size_of::<SnapHeader>() as u16,
            record_size: size_of::<CounterRec>() as u32,
            count: recs.len() as u32,
            generation: 7,
        };
        let mut out = bytemuck::bytes_of(&h).to_vec();
        for r in recs {
            out.extend_from_slice(bytemuck::bytes_of(r));
        }
        out
    }

    #[test]
    fn parses_a_snapshot() {
        let recs = [rec(101, "g", "a", 5), rec(102, "g", "b", u64::MAX)];
        let s = parse_snapshot(&encode(&recs)).unwrap();
        assert_eq!(s.header.generation, 7);
        assert_eq!(s.records, recs);
        assert_eq!(
            s.values(),
            [
                CounterValue::new("g", "a", 5),
                CounterValue::new("g", "b", u64::MAX)
            ]
        );
        assert!(parse_snapshot(&encode(&[])).unwrap().records.is_empty());
    }

    #[test]
    fn rejects_every_malformed_snapshot() {
        let good = encode(&[rec(1, "g", "a", 5)]);
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..10].to_vec(), "shorter than the 24-byte header"),
            (good[..good.len() - 1].to_vec(), "torn or partial read"),
            ([&good[..], &[0u8; 8]].concat(), "torn or partial read"),
        ];
        let mut m = good.clone();
        m[0] = 0;
        cases.push((m, "magic"));
        let mut m = good.clone();
        m[4] = 9;
        cases.push((m, "ABI version 9"));
        let mut m = good.clone();
        m[8] = 80;
        cases.push((m, "record_size 80"));
        let mut m = good.clone();
        m[6] = 8;
        cases.push((m, "header_size 8"));
        let mut m = good.clone();
        m[24 + 24] = b'-';
        cases.push((m, "may only contain [A-Za-z0-9_]"));
        let mut m = good.clone();
        m[24 + 56..24 + 88].fill(b'a');
        cases.push((m, "counter name has no NUL"));
        let mut m = good.clone();
        m[24 + 24] = 0;
        cases.push((m, "group name is empty"));
        for (bytes, want) in cases {
            let e = parse_snapshot(&bytes).unwrap_err();
            assert!(e.fault.to_string().contains(want), "{want}: {e:?}");
        }
    }

    #[test]
    fn each_snapshot_fault_is_its_own_variant() {
        let good = encode(&[rec(1, "g", "a", 5)]);
        let fault = |b: &[u8]| parse_snapshot(b).unwrap_err();
        assert_eq!(
            fault(&good[..10]),
            SnapError {
                offset: 0,
                fault: SnapFault::Short {
                    len: 10,
                    header: 24
                }
            }
        );
        let mut m = good.clone();
        m[0] ^= 1;
        assert!(matches!(
            fault(&m).fault,
            SnapFault::Magic { found } if found == kpeek_abi::dev::SNAP_MAGIC ^ 1
        ));
        let mut m = good.clone();
        m[4] = 9;
        assert_eq!(fault(&m).fault, SnapFault::AbiVersion { found: 9 });
        let mut m = good.clone();
        m[6] = 8;
        assert!(matches!(
            fault(&m).fault,
            SnapFault::HeaderSize {
                header_size: 8,
                min: 24,
                ..
            }
        ));
        let mut m = good.clone();
        m[8] = 80;
        assert_eq!(
            fault(&m).fault,
            SnapFault::RecordSize {
                record_size: 80,
                min: 88
            }
        );
        let e = fault(&good[..good.len() - 8]);
        assert_eq!(
            e,
            SnapError {
                offset: 12,
                fault: SnapFault::Count {
                    count: 1,
                    record_size: 88,
                    body: 80
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "at byte 12: count 1 x 88-byte records = 88 bytes, but 80 bytes follow the header \
             (torn or partial read?)"
        );
        let mut m = good.clone();
        m[24 + 56..24 + 88].fill(b'a');
        assert_eq!(
            fault(&m).fault,
            SnapFault::Names {
                index: 0,
                id: 1,
                fault: NameFault::NoNul {
                    kind: NameKind::Counter
                }
            }
        );
        let mut m = good.clone();
        m[24 + 24] = 0xff;
        assert!(matches!(
            fault(&m).fault,
            SnapFault::Names {
                fault: NameFault::NotUtf8 {
                    kind: NameKind::Group
                },
                ..
            }
        ));
        let mut m = good.clone();
        m[24 + 24] = b'-';
        assert!(matches!(
            fault(&m).fault,
            SnapFault::Names {
                fault: NameFault::Rule(kpeek_abi::NameError::BadChar { .. }),
                ..
            }
        ));
    }

    #[test]
    fn a_device_snapshot_fault_is_binary_and_another_abi_a_mismatch() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("dev")).unwrap();
        let mut bytes = encode(&[rec(1, "g", "a", 5)]);
        bytes.pop();
        std::fs::write(d.path().join("dev/kpeek"), &bytes).unwrap();
        let dev = Device::open(&SysRoot::new(d.path())).unwrap();
        let e = dev.read_snapshot().unwrap_err();
        assert!(
            matches!(&e, Error::Binary { offset: 12, fault, .. }
                if matches!(**fault, crate::BinaryFault::Snapshot(SnapFault::Count { body: 87, .. }))),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("dev/kpeek: at byte 12: count 1 x 88-byte records"),
            "{e}"
        );
        bytes[4] = 9;
        std::fs::write(d.path().join("dev/kpeek"), &bytes).unwrap();
        let e = dev.read_snapshot().unwrap_err();
        assert!(matches!(e, Error::AbiMismatch { found: 9, .. }), "{e:?}");
    }

    #[test]
    fn larger_records_from_a_newer_module_are_read_by_prefix() {
        let r = rec(1, "g", "a", 5);
        let mut bytes = encode(&[]);
        bytes[8] = 96; // record_size
        bytes[12] = 1; // count
        bytes.extend_from_slice(bytemuck::bytes_of(&r));
        bytes.extend_from_slice(&[0xee; 8]);
        assert_eq!(parse_snapshot(&bytes).unwrap().records, [r]);
    }

    #[test]
    fn missing_device_means_not_loaded() {
        let d = tempfile::tempdir().unwrap();
        let e = Device::open(&SysRoot::new(d.path())).unwrap_err();
        assert!(matches!(e, Error::NotLoaded { .. }), "{e}");
        std::fs::create_dir_all(d.path().join("proc")).unwrap();
        std::fs::write(d.path().join("proc/kpeek"), "").unwrap();
        let e = Device::open(&SysRoot::new(d.path())).unwrap_err();
        assert!(e.to_string().contains("device node is missing"), "{e}");
    }

    #[test]
    fn reads_a_file_in_small_pieces() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("dev")).unwrap();
        let recs: Vec<_> = (0..50)
            .map(|i| rec(i, "grp", &format!("c{i}"), i * 3))
            .collect();
        std::fs::write(d.path().join("dev/kpeek"), encode(&recs)).unwrap();
        let dev = Device::open(&SysRoot::new(d.path())).unwrap();
        for chunk in [1, 7, 88, 4096] {
            assert_eq!(dev.read_raw(chunk).unwrap(), encode(&recs));
        }
        let snap = Chardev::new(&SysRoot::new(d.path())).snapshot().unwrap();
        assert_eq!(snap.len(), 50);
        assert_eq!(snap.get("grp", "c7"), Some(21));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_snapshot(&bytes);
        }

        #[test]
        fn never_panics_on_a_valid_header(tail in proptest::collection::vec(any::<u8>(), 0..400), count in 0u32..8) {
            let mut bytes = encode(&[]);
            bytes[12..16].copy_from_slice(&count.to_ne_bytes());
            bytes.extend_from_slice(&tail);
            let _ = parse_snapshot(&bytes);
        }

        #[test]
        fn round_trips(rows in proptest::collection::vec(("[A-Za-z0-9_]{1,31}", "[A-Za-z0-9_]{1,31}", any::<u64>()), 0..20)) {
            let recs: Vec<_> = rows.iter().enumerate()
                .filter(|(_, (g, c, _))| g != "info" && c != "reset")
                .map(|(i, (g, c, v))| rec(i as u64, g, c, *v)).collect();
            prop_assert_eq!(parse_snapshot(&encode(&recs)).unwrap().records, recs);
        }
    }
}
