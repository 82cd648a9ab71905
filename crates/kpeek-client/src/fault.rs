//! What is wrong in what kpeek.ko gave: the text of a pseudo-file ([`TextFault`], in
//! [`Error::Malformed`](crate::Error::Malformed)) or a binary structure ([`BinaryFault`], in
//! [`Error::Binary`](crate::Error::Binary)). Each variant carries the values that show the fault;
//! the text of a fault is part of its error's message, and a fault caused by another error keeps
//! that error as its `source`.

use std::time::Duration;

use kpeek_abi::NameError;
use kpeek_abi::mmap::MMAP_MAGIC;

use crate::chardev::SnapFault;
use crate::debugfs::StatsError;
use crate::mmap::LayoutError;
use crate::netlink::AttrError;
use crate::procfs::LineFault;
use crate::ring::RingFault;
use crate::sysfs::BadValue;

/// What is wrong in a line of a pseudo-file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextFault {
    /// A line of `/proc/kpeek` (or debugfs' `counters`, which has the same format).
    #[error(transparent)]
    Line(#[from] LineFault),
    /// debugfs' `stats`.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// A file holding one number: a sysfs counter or `info`, a configfs `value`, a module
    /// parameter.
    #[error(transparent)]
    Value(#[from] BadValue),
    /// sysfs `info` holds a number too large for an ABI version.
    #[error("ABI version {value} out of range")]
    AbiOutOfRange {
        /// The number in the file.
        value: u64,
    },
    /// A sysfs group directory whose name kpeek.ko's rules forbid.
    #[error("a group directory with a name kpeek.ko forbids: {rule}")]
    ForbiddenGroupName {
        /// The rule the name breaks.
        rule: NameError,
    },
}

/// Why the names of a counter record (a snapshot record, an ioctl answer) are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameFault {
    /// The name fills its whole field: no NUL terminator.
    #[error("{kind} name has no NUL terminator")]
    NoNul {
        /// Group or counter.
        kind: kpeek_abi::NameKind,
    },
    /// The bytes before the NUL are not UTF-8.
    #[error("{kind} name is not UTF-8")]
    NotUtf8 {
        /// Group or counter.
        kind: kpeek_abi::NameKind,
    },
    /// A name that breaks kpeek.ko's naming rules.
    #[error(transparent)]
    Rule(#[from] NameError),
}

/// What is wrong in a binary structure from kpeek.ko: a `read()` snapshot, an ioctl answer, a
/// mapping, a ring header, a netlink message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryFault {
    /// The `read()` snapshot of `/dev/kpeek`.
    #[error(transparent)]
    Snapshot(#[from] SnapFault),
    /// The header of a CPU's event ring, when it is mapped.
    #[error("ring of CPU {cpu}: {fault}")]
    Ring {
        /// The ring's CPU.
        cpu: u32,
        /// What is wrong with it.
        fault: RingFault,
    },
    /// A counter record of an ioctl answer with names kpeek.ko could not have created.
    #[error("{request} counter id {id}: {fault}")]
    RecordNames {
        /// The ioctl (`KPEEK_IOC_GET_COUNTER`...).
        request: &'static str,
        /// The record's counter id.
        id: u64,
        /// What is wrong with its names.
        fault: NameFault,
    },
    /// `KPEEK_IOC_GET_COUNTERS` says it wrote more records than the buffer holds.
    #[error("KPEEK_IOC_GET_COUNTERS wrote {written} records into room for {capacity}")]
    Overfilled {
        /// The count it returned.
        written: usize,
        /// The records the buffer holds.
        capacity: usize,
    },
    /// `KPEEK_IOC_PROBE_GET` answered for a probe this kpeek does not know.
    #[error("KPEEK_IOC_PROBE_GET answered for unknown probe {probe}")]
    UnknownProbe {
        /// The probe id in the answer.
        probe: u32,
    },
    /// `KPEEK_IOC_INFO` gives a counter mapping too small for its header.
    #[error("KPEEK_IOC_INFO says the counter mapping is {len} bytes")]
    MapTooSmall {
        /// The size it gave.
        len: usize,
        /// The size of the mapping's header.
        need: usize,
    },
    /// `mmap` succeeded but returned address 0.
    #[error("mmap returned NULL")]
    NullMapping,
    /// The counter mapping does not start with its magic.
    #[error("counter mapping magic {found:#010x}, expected {MMAP_MAGIC:#010x}")]
    MapMagic {
        /// The magic found.
        found: u32,
    },
    /// A copy of the counter mapping that does not follow its layout.
    #[error("counter mapping: {0}")]
    MapLayout(LayoutError),
    /// The counter mapping's seqcount kept changing (or stayed odd) for too long.
    #[error("counter mapping: no stable seqcount within {budget:?} ({tries} tries, seq {seq})")]
    Unstable {
        /// How long the reader tried.
        budget: Duration,
        /// How many copies it took.
        tries: u32,
        /// The last seqcount seen.
        seq: u32,
    },
    /// The generic netlink controller's answer about kpeek's family lacks its id.
    #[error(
        "resolving the generic netlink family {family:?}: the controller's answer has no family \
         id ({source})"
    )]
    NoFamilyId {
        /// The family asked for.
        family: String,
        /// Why its id did not decode.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An answer of the `kpeek` family whose attributes do not decode.
    #[error("{request}: {fault}")]
    Attributes {
        /// The command answered (`KPEEK_CMD_GET_INFO`...).
        request: &'static str,
        /// What is wrong with its attributes.
        fault: AttrError,
    },
    /// The family has no `events` multicast group.
    #[error("the family has no \"events\" multicast group (another kpeek.ko version?)")]
    NoEventsGroup,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn binary(fault: BinaryFault) -> Error {
        Error::Binary {
            path: "/dev/kpeek".into(),
            offset: 0,
            fault: Box::new(fault),
        }
    }

    /// The faults only a live kpeek.ko can produce keep the text they had as strings.
    #[test]
    fn binary_faults_read_as_before() {
        let e = binary(BinaryFault::RecordNames {
            request: "KPEEK_IOC_GET_COUNTER",
            id: 7,
            fault: NameFault::NoNul {
                kind: kpeek_abi::NameKind::Group,
            },
        });
        assert!(
            matches!(&e, Error::Binary { fault, .. } if matches!(**fault, BinaryFault::RecordNames { id: 7, .. }))
        );
        assert_eq!(
            e.to_string(),
            "/dev/kpeek: at byte 0: KPEEK_IOC_GET_COUNTER counter id 7: group name has no NUL \
             terminator"
        );
        assert_eq!(
            BinaryFault::Overfilled {
                written: 9,
                capacity: 8
            }
            .to_string(),
            "KPEEK_IOC_GET_COUNTERS wrote 9 records into room for 8"
        );
        assert_eq!(
            BinaryFault::MapMagic { found: 1 }.to_string(),
            format!("counter mapping magic 0x00000001, expected {MMAP_MAGIC:#010x}")
        );
        assert_eq!(
            BinaryFault::Unstable {
                budget: Duration::from_secs(2),
                tries: 40,
                seq: 3
            }
            .to_string(),
            "counter mapping: no stable seqcount within 2s (40 tries, seq 3)"
        );
        assert_eq!(
            BinaryFault::Ring {
                cpu: 3,
                fault: RingFault::SizeNotPowerOfTwo { size: 100 }
            }
            .to_string(),
            "ring of CPU 3: data size 100 is not a power of two"
        );
        let e = BinaryFault::NoFamilyId {
            family: "kpeek".into(),
            source: "short attribute".into(),
        };
        assert_eq!(
            e.to_string(),
            "resolving the generic netlink family \"kpeek\": the controller's answer has no \
             family id (short attribute)"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            BinaryFault::Attributes {
                request: "KPEEK_CMD_GET_INFO",
                fault: AttrError::Stray { offset: 8, len: 2 }
            }
            .to_string(),
            "KPEEK_CMD_GET_INFO: 2 stray bytes at offset 8"
        );
    }

    #[test]
    fn text_faults_are_their_parsers_errors() {
        let f = TextFault::from(crate::sysfs::parse_value(b"x").unwrap_err());
        assert!(matches!(f, TextFault::Value(BadValue::NoNewline { .. })));
        let f = TextFault::from(crate::debugfs::parse_stats(b"k v").unwrap_err());
        assert!(
            matches!(f, TextFault::Stats(StatsError::Unterminated { line: 1 })),
            "{f:?}"
        );
        assert_eq!(f.to_string(), "last line has no newline (torn read?)");
    }
}
