//! One symbol's address and name offset, side by side.

/// Address and name offset of one symbol in 12 bytes: an address lookup reads both from the
/// same cache line (a `u64` field would pad the pair to 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Entry {
    lo: u32,
    hi: u32,
    /// Offset of the name (its length first) in the names buffer.
    pub name: u32,
}

impl Entry {
    #[inline]
    pub fn new(addr: u64, name: u32) -> Entry {
        Entry {
            lo: addr as u32,
            hi: (addr >> 32) as u32,
            name,
        }
    }

    #[inline]
    pub fn addr(self) -> u64 {
        (self.hi as u64) << 32 | self.lo as u64
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
            let e = Entry::new(a, 7);
            assert_eq!((e.addr(), e.name), (a, 7));
        }
        assert_eq!(size_of::<Entry>(), 12);
    }
}
