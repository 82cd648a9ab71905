//! Vetting a read buffer at once (every byte, the spaces per line, the newlines marked), and
//! reading a line of the common shape in vetted text.

use memchr::memchr;

use crate::parse::{Line, hex_prefix, is_type, name_len, parse_hex};

/// One pass over the whole lines of a read buffer: `Some(has_tabs)` when every byte is
/// printable ASCII, a tab or a newline (the bytes of a well-formed table) and there are
/// exactly two spaces per line (those of `<address> <type> <name>`). `newlines` receives one
/// word per 64 bytes of `text`, bit `i` set where byte `i` of that block is a newline.
pub(super) fn survey(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU has AVX2 and POPCNT (checked just above; the answer is cached).
        return unsafe { survey_avx2(text, newlines) };
    }
    survey_blocks(text, newlines)
}

/// [`survey`] one 64-byte block at a time (SSE2 on x86-64, the baseline).
fn survey_blocks(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    newlines.clear();
    let (mut lines, mut spaces, mut tabs) = (0usize, 0usize, 0u64);
    let mut blocks = text.chunks_exact(64);
    let mut take = |m: Masks| {
        if m.bad != 0 {
            return false;
        }
        lines += m.newline.count_ones() as usize;
        spaces += m.space.count_ones() as usize;
        tabs |= m.tab;
        newlines.push(m.newline);
        true
    };
    for block in &mut blocks {
        if !take(masks(block.try_into().unwrap_or([0; 64]))) {
            return None;
        }
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding that is neither a newline nor a space nor a tab nor bad.
        let mut last = [b'x'; 64];
        last[..rest.len()].copy_from_slice(rest);
        if !take(masks(last)) {
            return None;
        }
    }
    (spaces == 2 * lines).then_some(tabs != 0)
}

/// [`survey`] with AVX2: 32 bytes per comparison, and only what the answer needs per block
/// (the newline mask; the bad bytes and tabs accumulated in vectors, the spaces counted).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn survey_avx2(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
        _mm256_setzero_si256,
    };
    newlines.clear();
    let (mut lines, mut spaces) = (0u64, 0u64);
    let mut ok_all = _mm256_set1_epi8(-1);
    let mut tabs = _mm256_setzero_si256();
    let mut half = |lane: &[u8; 32]| {
        // SAFETY: the load reads the 32 bytes of `lane`.
        let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
        let eq = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let (nl, sp, tab) = (eq(b'\n'), eq(b' '), eq(b'\t'));
        // Signed: bytes 0x20..=0x7f are above 0x1f, bytes 0x80 and up are negative.
        let printable = _mm256_andnot_si256(eq(0x7f), _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x1f)));
        ok_all = _mm256_and_si256(ok_all, _mm256_or_si256(printable, _mm256_or_si256(nl, tab)));
        tabs = _mm256_or_si256(tabs, tab);
        let (nl, sp) = (
            _mm256_movemask_epi8(nl) as u32,
            _mm256_movemask_epi8(sp) as u32,
        );
        spaces += u64::from(sp.count_ones());
        nl
    };
    let mut block64 = |block: &[u8; 64]| {
        let (a, b) = block.split_at(32);
        let lo = half(a.try_into().unwrap_or(&[0; 32]));
        let hi = half(b.try_into().unwrap_or(&[0; 32]));
        let m = u64::from(lo) | u64::from(hi) << 32;
        lines += u64::from(m.count_ones());
        newlines.push(m);
    };
    let mut blocks = text.chunks_exact(64);
    for block in &mut blocks {
        block64(block.try_into().unwrap_or(&[0; 64]));
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding that is neither a newline nor a space nor a tab nor bad.
        let mut last = [b'x'; 64];
        last[..rest.len()].copy_from_slice(rest);
        block64(&last);
    }
    if _mm256_movemask_epi8(ok_all) != -1 {
        return None;
    }
    (spaces == 2 * lines).then_some(_mm256_movemask_epi8(tabs) != 0)
}

/// The bytes of one 64-byte block that matter to [`survey`], one bit per byte.
struct Masks {
    /// Neither printable ASCII nor a tab nor a newline.
    bad: u64,
    newline: u64,
    space: u64,
    tab: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(block: [u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut m = Masks {
        bad: 0,
        newline: 0,
        space: 0,
        tab: 0,
    };
    for (i, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86-64 baseline; the load reads the 16 bytes of `lane`
        // (`chunks_exact(16)`).
        let (bad, nl, sp, tab) = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let (nl, sp, tab) = (eq(b'\n'), eq(b' '), eq(b'\t'));
            // Signed: bytes 0x20..=0x7f are above 0x1f, bytes 0x80 and up are negative.
            let printable = _mm_andnot_si128(eq(0x7f), _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)));
            let ok = _mm_or_si128(printable, _mm_or_si128(nl, tab));
            (
                !_mm_movemask_epi8(ok) as u32 & 0xffff,
                _mm_movemask_epi8(nl) as u32,
                _mm_movemask_epi8(sp) as u32,
                _mm_movemask_epi8(tab) as u32,
            )
        };
        let at = 16 * i;
        m.bad |= u64::from(bad) << at;
        m.newline |= u64::from(nl) << at;
        m.space |= u64::from(sp) << at;
        m.tab |= u64::from(tab) << at;
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks(block: [u8; 64]) -> Masks {
    let mut m = Masks {
        bad: 0,
        newline: 0,
        space: 0,
        tab: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let printable = (0x20..0x7f).contains(&b);
        m.bad |= u64::from(!printable && b != b'\n' && b != b'\t') << i;
        m.newline |= u64::from(b == b'\n') << i;
        m.space |= u64::from(b == b' ') << i;
        m.tab |= u64::from(b == b'\t') << i;
    }
    m
}

/// The type letter and the rest of a line `<w hex digits> <letter> <rest>`: the two spaces where
/// the common shape has them and an ASCII letter between.
#[inline]
pub(super) fn head(line: &[u8], w: usize) -> Option<(u8, &[u8])> {
    if line.len() < w + 4 || line[w] != b' ' || line[w + 2] != b' ' {
        return None;
    }
    let kind = line[w + 1];
    is_type(kind).then(|| (kind, &line[w + 3..]))
}

/// The address in a line's first `w` bytes (hex digits, checked).
#[inline]
pub(super) fn address(line: &[u8], w: usize) -> Option<u64> {
    if w == 16
        && let Some(head) = line.first_chunk::<16>()
    {
        return hex_prefix::<16>(*head);
    }
    let mut chunk = [b'0'; 16];
    let k = line.len().min(16);
    chunk[..k].copy_from_slice(&line[..k]);
    match w {
        16 => hex_prefix::<16>(chunk),
        8 => hex_prefix::<8>(chunk),
        _ => parse_hex(line.get(..w)?),
    }
}

/// A line (without its newline) of text [`survey`] vouched for, in the common shape as
/// [`Scan::simple_line`](super::scan::Scan::simple_line) reads it: `<w hex digits> <letter>
/// <name>`, then `\t[module]` when `tabs` says the buffer has any. `None`: any other shape.
#[inline]
pub(super) fn clean_line(line: &[u8], w: usize, tabs: bool) -> Option<Line<'_>> {
    let (kind, rest) = head(line, w)?;
    // In vetted text the only byte `name_len` stops at is a tab.
    let (name, module) = match tabs.then(|| name_len(rest)).flatten() {
        None => (rest, None),
        Some(i) => {
            let col = &rest[i + 1..];
            let k = col.len();
            if k < 3 || col[0] != b'[' || col[k - 1] != b']' || memchr(b'\t', col).is_some() {
                return None;
            }
            (&rest[..i], Some(&col[1..k - 1]))
        }
    };
    if name.is_empty() {
        return None;
    }
    let addr = address(line, w)?;
    Some(Line {
        addr,
        digits: w as u8,
        kind,
        name,
        module,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 survey answers as the baseline one, newline marks included: clean text,
    /// every kind of byte it must refuse, tabs, text of every length around the block size.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_survey_answers_as_the_baseline_one() {
        if !(std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt"))
        {
            eprintln!("NOT RUN: this CPU has no AVX2/POPCNT, the AVX2 survey cannot run");
            return;
        }
        let table = crate::load::tests::table(40);
        let clean = table.as_bytes();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for len in (0..200).chain([clean.len() - 1, clean.len()]) {
            cases.push(clean[..len.min(clean.len())].to_vec());
        }
        for (at, b) in [
            (5, 0u8),
            (70, 0x7f),
            (100, 0x80),
            (130, 0xff),
            (64, b'\r'),
            (200, 0x1f),
        ] {
            let mut t = clean.to_vec();
            t[at] = b;
            cases.push(t);
        }
        let mut tabbed = clean.to_vec();
        tabbed.splice(90..90, *b"\t[m]");
        cases.push(tabbed);
        let mut spaced = clean.to_vec();
        spaced[300] = b' ';
        cases.push(spaced);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for t in &cases {
            // SAFETY: AVX2 and POPCNT are present (checked above).
            let fast = unsafe { survey_avx2(t, &mut a) };
            let base = survey_blocks(t, &mut b);
            assert_eq!(fast, base, "{:?}", String::from_utf8_lossy(t));
            if base.is_some() {
                assert_eq!(a, b);
            }
        }
    }
}
