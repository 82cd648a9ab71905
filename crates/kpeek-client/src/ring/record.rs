//! Ring records: their layouts (`kpeek_abi::mmap`), parsed into [`Record`]s.

use kpeek_abi::dev::cstr;
use kpeek_abi::mmap::{
    REC_ALIGN, REC_BLOCK_RQ_ISSUE, REC_NETIF_RECEIVE_SKB, REC_PAD, REC_SCHED_SWITCH, RecBlockRq,
    RecHeader, RecNetif, RecSchedSwitch,
};
use serde::Serialize;

pub(super) const HDR: usize = size_of::<RecHeader>();
/// `type` and `len`: all a pad record has.
pub(super) const PREFIX: usize = 8;

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds: add it to a record's `ts_ns` for
/// wall-clock time.
pub fn realtime_offset_ns() -> i128 {
    use rustix::time::{ClockId, Timespec, clock_gettime};
    let ns = |t: Timespec| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    let mono = clock_gettime(ClockId::Monotonic);
    let real = clock_gettime(ClockId::Realtime);
    ns(real) - ns(mono)
}

/// What a record says, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RecordBody {
    /// net:netif_receive_skb.
    NetifReceiveSkb {
        dev: String,
        len: u32,
        protocol: u16,
    },
    /// sched:sched_switch.
    SchedSwitch {
        prev_comm: String,
        next_comm: String,
        prev_pid: i32,
        next_pid: i32,
        prev_state: i64,
    },
    /// block:block_rq_issue.
    BlockRqIssue {
        sector: u64,
        /// `new_encode_dev`-style device number.
        dev: u32,
        bytes: u32,
        rwbs: String,
    },
    /// A type this kpeek does not know (a newer module): its bytes after the header.
    Unknown { ty: u16, payload: Vec<u8> },
}

impl RecordBody {
    /// The event's name, as lttng-view prints it.
    pub fn name(&self) -> &'static str {
        match self {
            RecordBody::NetifReceiveSkb { .. } => "netif_receive_skb",
            RecordBody::SchedSwitch { .. } => "sched_switch",
            RecordBody::BlockRqIssue { .. } => "block_rq_issue",
            RecordBody::Unknown { .. } => "unknown",
        }
    }
}

/// One record from a ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// `ktime_get_ns()` when produced (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    /// Per-CPU sequence number.
    pub seq: u32,
    pub cpu: u32,
    /// The task that was running.
    pub pid: i32,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// What [`parse_record`] found at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A record and its length in bytes.
    Record(Record, usize),
    /// A pad record of this length: skip to the end of the ring data.
    Pad(usize),
}

/// Text from a fixed-size C string field, lossily (a comm may hold any bytes).
fn text(field: &[u8]) -> String {
    match cstr(field) {
        Some(s) => s.to_owned(),
        None => {
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        }
    }
}

/// Why [`parse_record`] refused the bytes at a position (the ring is corrupt there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadRecord {
    /// Fewer bytes than a record's type and length.
    #[error("{left} bytes left, less than a record's {PREFIX}-byte type and length")]
    NoPrefix {
        /// Bytes up to the end of the readable region.
        left: usize,
    },
    /// A pad record whose length is 0, not a multiple of 8, or past the end.
    #[error("pad record of length {len} ({left} bytes left)")]
    BadPad {
        /// The pad's length field.
        len: usize,
        /// Bytes up to the end of the readable region.
        left: usize,
    },
    /// Fewer bytes than a record header.
    #[error("{left} bytes left, less than a {HDR}-byte record header")]
    NoHeader {
        /// Bytes up to the end of the readable region.
        left: usize,
    },
    /// A length shorter than a header, not a multiple of 8, or past the end.
    #[error(
        "record type {ty} seq {seq} has length {len}: expected a multiple of {REC_ALIGN} from \
         {HDR} to {left}"
    )]
    BadLength {
        /// The record's type.
        ty: u16,
        /// The record's sequence number.
        seq: u32,
        /// Its length field.
        len: usize,
        /// Bytes up to the end of the readable region.
        left: usize,
    },
    /// A length too short for the record's type.
    #[error("record type {ty} seq {seq} has length {len}, its type needs {need}")]
    TooShort {
        /// The record's type.
        ty: u16,
        /// The record's sequence number.
        seq: u32,
        /// Its length field.
        len: usize,
        /// The size of the type's record.
        need: usize,
    },
}

/// Parse the record at the start of `buf` (the bytes up to the end of the readable region).
/// Checks the length (at least a header, a multiple of 8, within `buf`, large enough for its
/// type).
///
/// # Errors
///
/// [`BadRecord`], saying which check failed.
pub fn parse_record(buf: &[u8]) -> std::result::Result<Parsed, BadRecord> {
    if buf.len() < PREFIX {
        return Err(BadRecord::NoPrefix { left: buf.len() });
    }
    let ty = u16::from_ne_bytes([buf[0], buf[1]]);
    let len = usize::from(u16::from_ne_bytes([buf[2], buf[3]]));
    if ty == REC_PAD {
        if len % REC_ALIGN != 0 || len == 0 || len > buf.len() {
            return Err(BadRecord::BadPad {
                len,
                left: buf.len(),
            });
        }
        return Ok(Parsed::Pad(len));
    }
    if buf.len() < HDR {
        return Err(BadRecord::NoHeader { left: buf.len() });
    }
    let h: RecHeader = bytemuck::pod_read_unaligned(&buf[..HDR]);
    if len < HDR || len % REC_ALIGN != 0 || len > buf.len() {
        return Err(BadRecord::BadLength {
            ty: h.ty,
            seq: h.seq,
            len,
            left: buf.len(),
        });
    }
    let need = |n: usize| {
        if len < n {
            Err(BadRecord::TooShort {
                ty: h.ty,
                seq: h.seq,
                len,
                need: n,
            })
        } else {
            Ok(())
        }
    };
    let body = match h.ty {
        REC_NETIF_RECEIVE_SKB => {
            need(size_of::<RecNetif>())?;
            let r: RecNetif = bytemuck::pod_read_unaligned(&buf[..size_of::<RecNetif>()]);
            RecordBody::NetifReceiveSkb {
                dev: text(&r.dev),
                len: r.len,
                protocol: r.protocol,
            }
        }
        REC_SCHED_SWITCH => {
            need(size_of::<RecSchedSwitch>())?;
            let r: RecSchedSwitch =
                bytemuck::pod_read_unaligned(&buf[..size_of::<RecSchedSwitch>()]);
            RecordBody::SchedSwitch {
                prev_comm: text(&r.prev_comm),
                next_comm: text(&r.next_comm),
                prev_pid: r.prev_pid,
                next_pid: r.next_pid,
                prev_state: r.prev_state,
            }
        }
        REC_BLOCK_RQ_ISSUE => {
            need(size_of::<RecBlockRq>())?;
            let r: RecBlockRq = bytemuck::pod_read_unaligned(&buf[..size_of::<RecBlockRq>()]);
            RecordBody::BlockRqIssue {
                sector: r.sector,
                dev: r.dev,
                bytes: r.bytes,
                rwbs: text(&r.rwbs),
            }
        }
        ty => RecordBody::Unknown {
            ty,
            payload: buf[HDR..len].to_vec(),
        },
    };
    Ok(Parsed::Record(
        Record {
            ts_ns: h.ts_ns,
            seq: h.seq,
            cpu: h.cpu,
            pid: h.pid,
            body,
        },
        len,
    ))
}

/// What a ring reader yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingItem {
    /// A record.
    Record(Record),
    /// `count` records of `cpu` were lost before the next record (a seq gap).
    Lost { cpu: u32, count: u64 },
}
