//! One symbol's address, name and type, side by side.

/// Everything an address lookup reads about one symbol, in 16 bytes: the search, the size (next
/// address), the end-marker check and the name (offset and length) come from one cache line,
/// without touching the names buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Entry {
    pub addr: u64,
    /// Offset of the name in the names buffer.
    pub name: u32,
    /// Length of the name (at most `MAX_NAME`).
    pub len: u16,
    /// Type letter, with `MARKER` on section end markers.
    pub kind: u8,
}

impl Entry {
    #[inline]
    pub fn new(addr: u64, name: u32, len: u16, kind: u8) -> Entry {
        Entry {
            addr,
            name,
            len,
            kind,
        }
    }

    #[inline]
    pub fn addr(self) -> u64 {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for a in [
            0,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            0xffffffff81000000,
            u64::MAX,
        ] {
            let e = Entry::new(a, 7, 3, b't');
            assert_eq!((e.addr(), e.name, e.len, e.kind), (a, 7, 3, b't'));
        }
        assert_eq!(size_of::<Entry>(), 16);
    }
}
