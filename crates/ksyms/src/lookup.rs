//! Address → symbol, with the kernel's `%pS` semantics (rules on [`Ksyms::lookup`]).

use std::fmt;

use crate::entry::{MARKER, SMALL};
use crate::table::{Ksyms, Span, Symbol, bucket_of};

/// The answer of an address lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The address that was looked up.
    pub addr: u64,
    /// The symbol containing it.
    pub symbol: Symbol<'a>,
    /// `addr - symbol.addr`.
    pub offset: u64,
    /// Distance to the next symbol of the region; `None` for the region's last symbol.
    pub size: Option<u64>,
}

impl fmt::Display for Resolved<'_> {
    /// `name+0xoff/0xsize [module]`, like the kernel's `%pS` (`/0xsize` is left out when the
    /// size is unknown, ` [module]` for the core kernel).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}", self.symbol.name, self.offset)?;
        if let Some(size) = self.size {
            write!(f, "/{size:#x}")?;
        }
        if let Some(m) = self.symbol.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

/// Number of elements `<= q` among the `n <= SMALL` sorted ones at `s[from..]`: all `SMALL`
/// compared at once, those past `n` masked off. No branch, so random addresses cost no
/// mispredictions (a binary search over 1 to 8 elements would loop a varying number of times).
/// `s` has `SMALL` padding elements at its end (see `Addrs::pad`).
#[inline]
fn count_le_small(s: &[u32], from: usize, n: usize, q: u32) -> usize {
    let window: &[u32; SMALL] = match s.get(from..from + SMALL) {
        Some(w) => w.try_into().unwrap_or(&[u32::MAX; SMALL]),
        None => &[u32::MAX; SMALL], // unreachable with the padding
    };
    le_in_window(window, n, q)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn le_in_window(w: &[u32; SMALL], n: usize, q: u32) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpgt_epi32, _mm_loadu_si128, _mm_movemask_epi8, _mm_set_epi32,
        _mm_set1_epi32, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline; the loads read the 32 bytes of `w`.
    let mask = unsafe {
        // Unsigned comparison as a signed one with the sign bits flipped; lane `k` belongs to
        // the bucket when `n > k`.
        let flip = _mm_set1_epi32(i32::MIN);
        let qf = _mm_xor_si128(_mm_set1_epi32(q as i32), flip);
        let lo = _mm_xor_si128(_mm_loadu_si128(w.as_ptr().cast::<__m128i>()), flip);
        let hi = _mm_xor_si128(_mm_loadu_si128(w.as_ptr().add(4).cast::<__m128i>()), flip);
        let nn = _mm_set1_epi32(n as i32);
        let in_lo = _mm_cmpgt_epi32(nn, _mm_set_epi32(3, 2, 1, 0));
        let in_hi = _mm_cmpgt_epi32(nn, _mm_set_epi32(7, 6, 5, 4));
        let gt_lo = _mm_cmpgt_epi32(lo, qf);
        let gt_hi = _mm_cmpgt_epi32(hi, qf);
        // Lanes in the bucket and greater than `q`: what remains is `<= q`.
        let m_lo = _mm_movemask_epi8(_mm_and_si128(in_lo, gt_lo)) as u32;
        let m_hi = _mm_movemask_epi8(_mm_and_si128(in_hi, gt_hi)) as u32;
        m_lo | m_hi << 16
    };
    // Four mask bits per lane: lanes in the bucket minus those greater than `q`.
    n.min(SMALL) - (mask.count_ones() / 4) as usize
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn le_in_window(w: &[u32; SMALL], n: usize, q: u32) -> usize {
    w.iter()
        .enumerate()
        .filter(|&(k, &v)| k < n && v <= q)
        .count()
}

/// Number of elements `<= q` in a sorted slice, branch-free but for the loop's own count.
#[inline]
fn count_le(s: &[u32], q: u32) -> usize {
    let mut base = 0usize;
    let mut size = s.len();
    if size == 0 {
        return 0;
    }
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        // SAFETY: `base + size <= s.len()` holds throughout and `half < size`, so `mid` is in
        // bounds (the check would cost as much as the comparison).
        let le = unsafe { *s.get_unchecked(mid) } <= q;
        // Random addresses make this a coin toss: a conditional move, never a branch.
        base = std::hint::select_unpredictable(le, mid, base);
        size -= half;
    }
    base + usize::from(s[base] <= q)
}

impl Ksyms {
    /// The symbol containing `addr`, as the kernel's `%pS` would print it.
    ///
    /// The answer for an address is the symbol with the greatest address ≤ it, its offset, and its
    /// size: the next distinct address *in the same region* (core kernel or one module) minus its
    /// own. Rules, and why:
    /// - absolute symbols (`A`/`a`, e.g. per-CPU offsets), mapping symbols (`$a`, `$d`, `$x.N`…) and
    ///   address zero never answer: they name no code;
    /// - below a region's first symbol, or past its last one, there is no answer. The last symbol of
    ///   a region has no next address, so its size is unknown: it answers only for its own address
    ///   (offset 0, size `None`). The kernel knows the true end of a module (its memory layout) and of
    ///   the core kernel (`_etext`/`_einittext`/`_end`); a kallsyms file does not, and guessing would
    ///   attribute whatever follows (another allocation, a BPF program) to the wrong function, which
    ///   is the classic flaw of symbolizers that just take the nearest lower symbol. Regions may
    ///   interleave (a BPF program between a module's text and its data): the nearest symbol below
    ///   the address decides the region, and past the last symbol of *that* region there is no
    ///   answer, rather than one from a farther region;
    /// - a section end marker (`_etext`, `_end`, `__stop_*`, `__end_*`…) starts no function: an
    ///   address past it and before the next symbol has no answer (the kernel stops text lookups at
    ///   `_etext` / `_einittext` the same way); it still answers for its own address;
    /// - aliases (several names at one address) are all kept; the answer prefers a global name over a
    ///   local one, then the file's order (which is the kernel's own preference order).
    ///
    /// ```
    /// let ks = ksyms::Ksyms::parse(b"ffffffff81000000 T a\nffffffff81000100 t b\nffffffff81000180 T c\n")?;
    /// let r = ks.lookup(0xffffffff81000124).unwrap();
    /// assert_eq!(r.to_string(), "b+0x24/0x80");
    /// assert!(ks.lookup(0xffffffff81000190).is_none()); // past the last symbol
    /// # Ok::<(), ksyms::Error>(())
    /// ```
    #[inline]
    pub fn lookup(&self, addr: u64) -> Option<Resolved<'_>> {
        let (region, pos, found) = self.locate(addr)?;
        let r = &self.regions[region];
        let (start, mid) = (r.start as usize, r.mid as usize);
        let size = if pos + 1 < mid {
            Some(self.addr(pos + 1) - found)
        } else if addr == found {
            None
        } else {
            return None; // past the last symbol of its region
        };
        // First alias at this address: the preferred one (global, non-marker) sorts first.
        // Equal low halves first (rarely true), then the whole address.
        let lows = &self.addrs.lows;
        let mut first = pos;
        while first > start && lows[first - 1] == found as u32 && self.addr(first - 1) == found {
            first -= 1;
        }
        let e = self.entries[first];
        if addr != found && e.kind & MARKER != 0 {
            return None; // past a section end: padding or data, not a function
        }
        Some(Resolved {
            addr,
            symbol: Symbol {
                name: self.name_of(e),
                addr: found,
                kind: (e.kind & !MARKER) as char,
                module: r.module.as_deref(),
                index: first as u32,
            },
            offset: addr - found,
            size,
        })
    }

    /// Region, position and address of the greatest eligible symbol address `<= addr` over all
    /// regions. Spans are sorted by first address with a running maximum of last addresses, so
    /// the walk stops as soon as no earlier region can hold a closer symbol (one step for the
    /// core kernel).
    #[inline]
    fn locate(&self, addr: u64) -> Option<(usize, usize, u64)> {
        if addr == 0 {
            return None;
        }
        let mut j = self.spans.partition_point(|s| s.lo <= addr);
        let mut best: Option<(usize, usize, u64)> = None;
        while j > 0 {
            j -= 1;
            let span = &self.spans[j];
            let pos = self.below_in(span, addr);
            let at = self.addr(pos);
            let closest = match best {
                Some((_, _, b)) if b >= at => b,
                _ => {
                    best = Some((span.region as usize, pos, at));
                    at
                }
            };
            // No earlier span reaches past this answer: done (at once, for the core kernel).
            if j == 0 || self.spans[j - 1].max_hi <= closest {
                break;
            }
        }
        best
    }

    /// Position of the greatest eligible symbol address `<= addr` in the region of `span`, which
    /// starts at or below `addr`.
    #[inline]
    fn below_in(&self, span: &Span, addr: u64) -> usize {
        let r = &self.regions[span.region as usize];
        if span.hi <= addr {
            return r.mid as usize - 1;
        }
        // The radix bucket of `addr` holds every candidate; everything before it is lower,
        // everything after it higher. An empty match means the previous symbol.
        let b = r.radix_at as usize + bucket_of(addr - r.base, r.shift) as usize;
        let (from, to) = match self.radix.get(b..b + 2) {
            Some(&[from, to]) => (from as usize, to as usize),
            _ => return r.mid as usize - 1, // unreachable: `addr` is within the span
        };
        let below = if r.shift <= 32 && to - from <= SMALL {
            // One bucket, one high half: compare the low halves, 16 to a cache line.
            count_le_small(&self.addrs.lows, from, to - from, addr as u32)
        } else if r.shift <= 32 {
            count_le(&self.addrs.lows[from..to], addr as u32)
        } else {
            // Buckets over 4 GiB wide (tables spread over the whole address space).
            (from..to).take_while(|&i| self.addr(i) <= addr).count()
        };
        from + below - 1
    }

    /// Every eligible alias at the address of `resolved` (the preferred one first).
    pub fn aliases<'a>(&'a self, resolved: &Resolved<'a>) -> Vec<Symbol<'a>> {
        let i = resolved.symbol.index();
        let region = &self.regions[self.region_of(i)];
        let at = self.addr(i);
        (i..region.mid as usize)
            .take_while(|&k| self.addr(k) == at)
            .map(|k| self.symbol(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
0000000000000000 A fixed_percpu_data
0000000000001000 A cpu_number
ffffffff81000000 T _stext
ffffffff81000000 t local_alias
ffffffff81000000 T _text
ffffffff81000010 t $x
ffffffff81000020 T schedule
ffffffff81000020 t schedule_alias
ffffffff810000d0 T _etext
ffffffff81000200 R rodata_thing
ffffffff81000300 R last_core
ffffffffc0001000 t mod_a_fn\t[mod_a]
ffffffffc0001000 t $a\t[mod_a]
ffffffffc0001040 T mod_a_fn2\t[mod_a]
ffffffffc0001100 d mod_a_data\t[mod_a]
ffffffffc0000800 t bpf_prog_x\t[bpf]
ffffffffc0000900 t bpf_prog_y\t[bpf]
";

    fn t() -> Ksyms {
        Ksyms::parse(TABLE.as_bytes()).unwrap()
    }

    #[track_caller]
    fn check(ks: &Ksyms, addr: u64, want: Option<&str>) {
        assert_eq!(
            ks.lookup(addr).map(|r| r.to_string()).as_deref(),
            want,
            "{addr:#x}"
        );
    }

    #[test]
    fn pss_semantics() {
        let ks = t();
        check(&ks, 0, None);
        check(&ks, 0x1000, None); // absolute symbols never answer
        check(&ks, 0xffffffff80ffffff, None); // below the first
        check(&ks, 0xffffffff81000000, Some("_stext+0x0/0x20")); // global, first in file order
        check(&ks, 0xffffffff81000018, Some("_stext+0x18/0x20")); // $x skipped
        check(&ks, 0xffffffff81000024, Some("schedule+0x4/0xb0"));
        check(&ks, 0xffffffff810000d0, Some("_etext+0x0/0x130")); // marker: exact only
        check(&ks, 0xffffffff810000d8, None);
        check(&ks, 0xffffffff81000210, Some("rodata_thing+0x10/0x100"));
        check(&ks, 0xffffffff81000300, Some("last_core+0x0")); // last: exact only
        check(&ks, 0xffffffff81000301, None);
        check(&ks, 0xffffffffc0001004, Some("mod_a_fn+0x4/0x40 [mod_a]"));
        check(&ks, 0xffffffffc0001100, Some("mod_a_data+0x0 [mod_a]"));
        check(&ks, 0xffffffffc0001101, None);
        check(&ks, 0xffffffffc0000810, Some("bpf_prog_x+0x10/0x100 [bpf]"));
        check(&ks, 0xffffffffc0000910, None); // past bpf's last, before mod_a's first
        check(&ks, u64::MAX, None);
    }

    #[test]
    fn aliases_all_available() {
        let ks = t();
        let r = ks.lookup(0xffffffff81000004).unwrap();
        let names: Vec<_> = ks.aliases(&r).iter().map(|s| s.name).collect();
        assert_eq!(names, ["_stext", "_text", "local_alias"]);
        let r = ks.lookup(0xffffffff81000020).unwrap();
        let names: Vec<_> = ks.aliases(&r).iter().map(|s| s.name).collect();
        assert_eq!(names, ["schedule", "schedule_alias"]);
    }

    #[test]
    fn interleaved_regions_pick_the_closest() {
        // A BPF program allocated between a module's text and its data.
        let ks = Ksyms::parse(
            b"ffffffffc0001000 t f\t[m]\nffffffffc0009000 d dat\t[m]\n\
              ffffffffc0005000 t bpf_prog_1\t[bpf]\n",
        )
        .unwrap();
        check(&ks, 0xffffffffc0001010, Some("f+0x10/0x8000 [m]"));
        check(&ks, 0xffffffffc0005000, Some("bpf_prog_1+0x0 [bpf]"));
        check(&ks, 0xffffffffc0004ff0, Some("f+0x3ff0/0x8000 [m]"));
        check(&ks, 0xffffffffc0005010, None); // past the BPF program: not f's
        check(&ks, 0xffffffffc0009000, Some("dat+0x0 [m]"));
    }

    #[test]
    fn regions_spanning_the_whole_address_space() {
        let ks = Ksyms::parse(
            b"0000000000000001 D low\n0000000000000100 D low2\nffffffff81000000 T a\n\
              fffffffffffffff0 T top\nffffffffffffffff T end_of_all\n",
        )
        .unwrap();
        check(&ks, 0x80, Some("low+0x7f/0xff"));
        check(
            &ks,
            0x8000_0000_0000_0000,
            Some("low2+0x7fffffffffffff00/0xffffffff80ffff00"),
        );
        check(&ks, 0xffffffff81000010, Some("a+0x10/0x7efffff0"));
        check(&ks, u64::MAX, Some("end_of_all+0x0"));
    }

    #[test]
    fn count_le_matches_linear() {
        let s = [1u32, 3, 3, 5, 9];
        for q in 0..12 {
            assert_eq!(
                count_le(&s, q),
                s.iter().filter(|&&x| x <= q).count(),
                "{q}"
            );
        }
        assert_eq!(count_le(&[], 4), 0);
        let mut padded = s.to_vec();
        padded.extend([u32::MAX; SMALL]);
        for q in 0..12 {
            for from in 0..s.len() {
                for n in 0..=s.len() - from {
                    let want = s[from..from + n].iter().filter(|&&x| x <= q).count();
                    assert_eq!(count_le_small(&padded, from, n, q), want, "{q} {from} {n}");
                }
            }
        }
    }
}
