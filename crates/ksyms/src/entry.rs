//! One symbol's name and type, and the split form of addresses.

/// What an address lookup needs about a symbol besides its address, in 8 bytes: the name
/// (offset and length: no need to read the names buffer to make a `&str`) and the type letter.
/// Addresses live in a separate, denser array (see `Addrs`) that the search runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Entry {
    /// Offset of the name in the names buffer.
    pub name: u32,
    /// Length of the name (at most `MAX_NAME`).
    pub len: u16,
    /// Type letter, with `MARKER` on section end markers.
    pub kind: u8,
}

/// Addresses as their low 32 bits, one `u32` per symbol, and their high 32 bits as runs
/// (`(first index, high bits)`, a handful per table: kernel addresses share their high half).
/// Half the size of `u64`s: the search array of a 120k-symbol table fits in an L2 cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Addrs {
    pub lows: Vec<u32>,
    pub highs: Vec<(u32, u32)>,
}

impl Addrs {
    pub(crate) fn with_capacity(n: usize) -> Addrs {
        Addrs {
            lows: Vec::with_capacity(n),
            highs: Vec::new(),
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, addr: u64) {
        self.note_high(self.lows.len() as u32, addr);
        self.lows.push(addr as u32);
    }

    /// Records the high half of the address of symbol `at` (the next one), whose low half the
    /// caller stores.
    #[inline(always)]
    pub(crate) fn note_high(&mut self, at: u32, addr: u64) {
        let high = (addr >> 32) as u32;
        if self.highs.last().is_none_or(|r| r.1 != high) {
            self.highs.push((at, high));
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        let high = match self.highs.as_slice() {
            [(_, h)] => *h,
            runs => runs[runs.partition_point(|r| r.0 as usize <= i) - 1].1,
        };
        (high as u64) << 32 | self.lows[i] as u64
    }

    pub(crate) fn extend(&mut self, other: &Addrs) {
        let base = self.lows.len() as u32;
        for &(at, high) in &other.highs {
            if self.highs.last().is_none_or(|r| r.1 != high) {
                self.highs.push((at + base, high));
            }
        }
        self.lows.extend_from_slice(&other.lows);
    }

    pub(crate) fn from_iter(addrs: impl ExactSizeIterator<Item = u64>) -> Addrs {
        let mut a = Addrs::with_capacity(addrs.len());
        for x in addrs {
            a.push(x);
        }
        a
    }

    /// Appends `SMALL` elements past the last symbol, so a search may read a fixed-size window
    /// from any symbol on (and mask off what is not its own).
    pub(crate) fn pad(&mut self) {
        self.lows.extend([u32::MAX; SMALL]);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.lows.capacity() * 4 + self.highs.capacity() * 8
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.lows.shrink_to_fit();
        self.highs.shrink_to_fit();
    }
}

/// High bit of an entry's `kind`: the symbol is a section end marker (`_etext`, `__stop_*`…).
pub(crate) const MARKER: u8 = 0x80;

/// Sort rank among aliases: global before local, end markers last.
#[inline]
pub(crate) fn rank(kind: u8) -> u8 {
    u8::from(kind & MARKER != 0) * 2 + u8::from((kind & !MARKER).is_ascii_lowercase())
}

/// Buckets up to this size are searched by `lookup::count_le_small`; the low-address array
/// carries this many padding elements.
pub(crate) const SMALL: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let all = [
            0,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0xffffffff81000000,
            0xffffffff81000010,
            u64::MAX,
            3,
        ];
        let a = Addrs::from_iter(all.iter().copied());
        assert_eq!((0..a.lows.len()).map(|i| a.get(i)).collect::<Vec<_>>(), all);
        assert_eq!(a.highs.len(), 4);
        let mut b = Addrs::from_iter(all[..5].iter().copied());
        b.extend(&Addrs::from_iter(all[5..].iter().copied()));
        assert_eq!(a, b);
        let mut c = Addrs::from_iter(all[..4].iter().copied());
        c.extend(&Addrs::from_iter(all[4..].iter().copied()));
        assert_eq!(a, c);
        assert_eq!(size_of::<Entry>(), 8);
    }
}
