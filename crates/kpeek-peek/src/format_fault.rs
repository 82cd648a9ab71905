//! What is wrong with a malformed file ([`Error::Format`](crate::Error::Format)).

/// What is wrong with a BTF, DWARF, ELF, kcore or sysfs file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatFault {
    /// BTF that does not parse.
    #[error("bad BTF: {0}")]
    Btf(BtfFault),
    /// Not an ELF file.
    #[error("not an ELF file: {0}")]
    NotElf(#[source] object::Error),
    /// An ELF file without `.debug_info`.
    #[error("no DWARF (.debug_info): built without debug info")]
    NoDwarf,
    /// A DWARF section that cannot be read.
    #[error("{section}: {source}")]
    Section {
        /// The section.
        section: &'static str,
        /// Why.
        #[source]
        source: object::Error,
    },
    /// A DWARF section whose relocations cannot be read.
    #[error("{section}: relocations: {source}")]
    Relocations {
        /// The section.
        section: &'static str,
        /// Why.
        #[source]
        source: object::Error,
    },
    /// `.debug_info` that cannot be walked.
    #[error(".debug_info: {0}")]
    DebugInfo(#[source] gimli::Error),
    /// A DWARF unit that cannot be read.
    #[error("unit at {offset:#x}: {source}")]
    Unit {
        /// Its offset in `.debug_info`.
        offset: u64,
        /// Why.
        #[source]
        source: gimli::Error,
    },
    /// Indexing the DWARF's variables and types failed.
    #[error("indexing DWARF: {0}")]
    Index(#[source] gimli::Error),
    /// A symbol's section that cannot be read.
    #[error("symbol `{name}`: section {index}: {source}")]
    SymbolSection {
        /// The symbol.
        name: String,
        /// The section index.
        index: usize,
        /// Why.
        #[source]
        source: object::Error,
    },
    /// A compressed file that does not decompress.
    #[error("cannot decompress ({method}): {source}")]
    Decompress {
        /// `xz`, `zstd` or `gzip`.
        method: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A compressed file that decompresses to too much.
    #[error(
        "cannot decompress (size): it decompresses to more than {cap} bytes ({ratio} times its {len} compressed bytes, at most {max}): corrupt, or not a module"
    )]
    TooBig {
        /// The limit.
        cap: u64,
        /// The ratio allowed.
        ratio: u64,
        /// The compressed size.
        len: usize,
        /// The largest module allowed.
        max: u64,
    },
    /// A section address that is not hex.
    #[error("`{0}` is not a hex address")]
    NotHex(String),
    /// A CPU list that does not parse.
    #[error("not a CPU list: {0:?}")]
    NotCpuList(String),
    /// A kcore file that is not ELF64 little-endian.
    #[error("not a 64-bit little-endian ELF file")]
    NotElf64,
    /// A kcore program header table that cannot be.
    #[error("bad program header table ({count} entries of {size} bytes)")]
    Phdrs {
        /// Entries.
        count: u64,
        /// Entry size.
        size: u64,
    },
    /// The kcore program headers cannot be read.
    #[error("reading program headers: {0}")]
    ReadPhdrs(#[source] std::io::Error),
}

/// What is wrong with BTF data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfFault {
    /// Shorter than a header.
    #[error("{0} bytes, shorter than a header")]
    Short(usize),
    /// Not BTF's magic.
    #[error("magic {0:#06x}, not {magic:#06x} (or big-endian BTF, unsupported)", magic = crate::btf::MAGIC)]
    Magic(u16),
    /// An unknown version.
    #[error("version {0}, only 1 is known")]
    Version(u8),
    /// A header length below the minimum.
    #[error("header length {0} < 24")]
    HeaderLen(usize),
    /// A section past the end of the data.
    #[error("{name} section ({len} bytes at {off}) runs past the end ({total} bytes)")]
    SectionPast {
        /// `type` or `string`.
        name: &'static str,
        /// Its length.
        len: usize,
        /// Its offset.
        off: usize,
        /// The data's length.
        total: usize,
    },
    /// More types than ids.
    #[error("too many types")]
    TooManyTypes,
    /// More strings than offsets.
    #[error("too many strings")]
    TooManyStrings,
    /// A type cut short (its index in this BTF).
    #[error("type {0} cut short")]
    TypeCut(usize),
    /// A kind BTF does not know.
    #[error("type {id} has unknown kind {kind}")]
    UnknownKind {
        /// The type id.
        id: usize,
        /// The kind.
        kind: u32,
    },
    /// A type section too large for 32-bit offsets.
    #[error("type section too large")]
    TypeSectionTooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_ones_the_cli_prints() {
        assert_eq!(
            FormatFault::Btf(BtfFault::Magic(0x1234)).to_string(),
            "bad BTF: magic 0x1234, not 0xeb9f (or big-endian BTF, unsupported)"
        );
        assert_eq!(
            FormatFault::TooBig {
                cap: 640,
                ratio: 64,
                len: 10,
                max: 1 << 30
            }
            .to_string(),
            "cannot decompress (size): it decompresses to more than 640 bytes (64 times its 10 \
             compressed bytes, at most 1073741824): corrupt, or not a module"
        );
        assert_eq!(
            FormatFault::NotCpuList("0-x".into()).to_string(),
            "not a CPU list: \"0-x\""
        );
        assert_eq!(
            FormatFault::Phdrs { count: 3, size: 8 }.to_string(),
            "bad program header table (3 entries of 8 bytes)"
        );
    }
}
