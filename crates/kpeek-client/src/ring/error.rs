//! What can be wrong with a ring: its header when it is mapped ([`crate::Error::Binary`] with
//! [`crate::BinaryFault::Ring`]) or its data while it is read ([`RingError`]).

use kpeek_abi::mmap::RING_MAGIC;

use super::BadRecord;

/// One thing wrong with a ring, with the numbers that show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingFault {
    /// `KPEEK_IOC_INFO` gave a data size that is not a power of two.
    #[error("data size {size} is not a power of two")]
    SizeNotPowerOfTwo {
        /// The data size in bytes.
        size: u32,
    },
    /// `mmap` succeeded but returned address 0.
    #[error("mmap returned NULL")]
    NullMapping,
    /// The header page does not start with the ring magic.
    #[error("magic {found:#010x}, expected {RING_MAGIC:#010x}")]
    Magic {
        /// The header's magic.
        found: u32,
    },
    /// The header describes another CPU's ring or another data layout than asked for.
    #[error(
        "header says cpu {cpu}, data at {data_offset} size {data_size}; expected cpu \
         {expected_cpu}, data at {expected_offset} size {expected_size}"
    )]
    Header {
        /// The header's `cpu`.
        cpu: u32,
        /// The header's `data_offset`.
        data_offset: u32,
        /// The header's `data_size`.
        data_size: u32,
        /// The CPU mapped.
        expected_cpu: u32,
        /// The page size (the data follows the header page).
        expected_offset: usize,
        /// The data size from `KPEEK_IOC_INFO`.
        expected_size: u32,
    },
    /// The consumer position in the header is not an 8-aligned offset inside the data.
    #[error("tail {tail} is outside the data")]
    TailOutside {
        /// The header's `tail`.
        tail: u64,
        /// The data size in bytes.
        size: u64,
    },
    /// The producer position is not an 8-aligned offset inside the data.
    #[error("head {head} is outside the data")]
    HeadOutside {
        /// The header's `head`.
        head: u64,
        /// The data size in bytes.
        size: u64,
    },
    /// The record at the reader's position is malformed.
    #[error(transparent)]
    Record(#[from] BadRecord),
    /// `KPEEK_IOC_RING_CONSUME` failed, so the space read was not handed back to the producer.
    #[error(
        "KPEEK_IOC_RING_CONSUME failed ({}): the space read stays taken",
        rustix::io::Errno::from_raw_os_error(*errno)
    )]
    ConsumeFailed {
        /// The errno of the ioctl.
        errno: i32,
    },
}

/// An error in a ring's data; the reader skipped everything up to `head`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ring of CPU {cpu} at offset {offset}: {fault}")]
#[non_exhaustive]
pub struct RingError {
    /// The ring's CPU.
    pub cpu: u32,
    /// Data offset of the bad record (the reader's position).
    pub offset: u64,
    /// What is wrong there.
    pub fault: RingFault,
}

impl RingError {
    /// `fault` in the ring of `cpu` at data offset `offset`.
    pub fn new(cpu: u32, offset: u64, fault: RingFault) -> Self {
        RingError { cpu, offset, fault }
    }
}
