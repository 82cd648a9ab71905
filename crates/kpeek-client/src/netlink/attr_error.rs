//! Why a kpeek netlink message's attributes do not decode.

use kpeek_abi::NameError;
use kpeek_abi::genl::attr;

/// A malformed, missing or invalid attribute in a message from the `kpeek` family.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttrError {
    /// Bytes after the last attribute too few to be one.
    #[error("{len} stray bytes at offset {offset}")]
    Stray {
        /// Where they start.
        offset: usize,
        /// How many.
        len: usize,
    },
    /// An attribute whose length is below its header's or past the end of the message.
    #[error("attribute {ty} at offset {offset} has length {len} ({left} bytes left)")]
    BadLength {
        /// The attribute type.
        ty: u16,
        /// Where it starts.
        offset: usize,
        /// The length it claims.
        len: usize,
        /// The bytes left in the message from there.
        left: usize,
    },
    /// An integer attribute of the wrong size.
    #[error("{} has {len} bytes, expected {expected}", attr_name(*.ty))]
    Size {
        /// The attribute type.
        ty: u16,
        /// Its payload size.
        len: usize,
        /// The integer's size.
        expected: usize,
    },
    /// A string attribute with a NUL before its end.
    #[error("{} has a NUL inside", attr_name(*.ty))]
    NulInside {
        /// The attribute type.
        ty: u16,
    },
    /// A string attribute that is not UTF-8.
    #[error("{} is not UTF-8", attr_name(*.ty))]
    NotUtf8 {
        /// The attribute type.
        ty: u16,
    },
    /// A required attribute is absent.
    #[error("{} is missing", attr_name(*.ty))]
    Missing {
        /// The attribute type.
        ty: u16,
    },
    /// A group or counter name that breaks kpeek.ko's rules.
    #[error(transparent)]
    Name(#[from] NameError),
}

/// `KPEEK_A_*` as the header spells it.
pub(crate) fn attr_name(ty: u16) -> String {
    let n = match ty {
        attr::ABI_VERSION => "ABI_VERSION",
        attr::GROUPS => "GROUPS",
        attr::COUNTERS => "COUNTERS",
        attr::GENERATION => "GENERATION",
        attr::TARGET => "TARGET",
        attr::ID => "ID",
        attr::GROUP_ID => "GROUP_ID",
        attr::GROUP => "GROUP",
        attr::COUNTER => "COUNTER",
        attr::VALUE => "VALUE",
        attr::THRESHOLD => "THRESHOLD",
        attr::EVENT => "EVENT",
        attr::PROBE => "PROBE",
        attr::PROBE_FLAGS => "PROBE_FLAGS",
        _ => return format!("attribute {ty}"),
    };
    format!("KPEEK_A_{n}")
}
