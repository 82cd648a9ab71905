//! The line format: `ADDR TYPE NAME` with an optional `\t[MODULE]` column.
//!
//! Hand-written on purpose: one pass over bytes, hex parsed eight digits at a time,
//! no allocation per line. Every failure carries its line number.

/// One parsed line, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub addr: u64,
    pub digits: u8,
    pub kind: u8,
    pub name: &'a [u8],
    pub module: Option<&'a [u8]>,
}

/// Value of each byte as a hex digit, 0xff when it is not one.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[cfg(any(test, not(target_arch = "x86_64")))]
const fn rep(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

#[cfg(any(test, not(target_arch = "x86_64")))]
/// Eight hex digits at once (SWAR): validates every byte and packs the nibbles.
#[inline]
pub(crate) fn hex8(chunk: [u8; 8]) -> Option<u32> {
    let x = u64::from_be_bytes(chunk);
    if x & rep(0x80) != 0 {
        return None;
    }
    // Per-byte range tests without carries between bytes (every byte is < 0x80 here).
    let digit = (x + rep(0x80 - b'0')) & !(x + rep(0x7f - b'9'));
    let lower = x | rep(0x20);
    let letter = (lower + rep(0x80 - b'a')) & !(lower + rep(0x7f - b'f'));
    if (digit | letter) & rep(0x80) != rep(0x80) {
        return None;
    }
    let nibbles = (x & rep(0x0f)) + ((letter & rep(0x80)) >> 7) * 9;
    let v = (nibbles | (nibbles >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    Some(((v | (v >> 16)) & 0xffff_ffff) as u32)
}

/// The value of the first `W` (8 or 16) of `chunk`'s bytes read as hex digits, all sixteen
/// bytes examined at once; `None` when one of the `W` is not a hex digit.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn hex_prefix<const W: usize>(chunk: [u8; 16]) -> Option<u64> {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64,
        _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi16, _mm_set1_epi8,
        _mm_set1_epi16, _mm_setzero_si128, _mm_slli_epi16, _mm_srli_epi16, _mm_sub_epi8,
        _mm_subs_epu8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline; the load reads the 16 bytes of `chunk`.
    let (valid, packed) = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let zero = _mm_setzero_si128();
        // Unsigned `x <= n` is `saturating x - n == 0`.
        let digit = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let is_digit = _mm_cmpeq_epi8(_mm_subs_epu8(digit, _mm_set1_epi8(9)), zero);
        let letter = _mm_sub_epi8(
            _mm_or_si128(v, _mm_set1_epi8(0x20)),
            _mm_set1_epi8(b'a' as i8),
        );
        let is_letter = _mm_cmpeq_epi8(_mm_subs_epu8(letter, _mm_set1_epi8(5)), zero);
        let valid = _mm_movemask_epi8(_mm_or_si128(is_digit, is_letter)) as u32;
        let nibble = _mm_or_si128(
            _mm_and_si128(is_digit, digit),
            _mm_andnot_si128(is_digit, _mm_add_epi8(letter, _mm_set1_epi8(10))),
        );
        // Two digits per byte (the first one high), then the eight bytes side by side.
        let high = _mm_slli_epi16(_mm_and_si128(nibble, _mm_set1_epi16(0xff)), 4);
        let pairs = _mm_or_si128(high, _mm_srli_epi16(nibble, 8));
        (
            valid,
            _mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs)) as u64,
        )
    };
    let want = (1u32 << W) - 1;
    if valid & want != want {
        return None;
    }
    Some(packed.swap_bytes() >> (64 - 4 * W))
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn hex_prefix<const W: usize>(chunk: [u8; 16]) -> Option<u64> {
    let hi = hex8(chunk[..8].try_into().unwrap_or_default())? as u64;
    if W == 8 {
        return Some(hi);
    }
    Some(hi << 32 | hex8(chunk[8..].try_into().unwrap_or_default())? as u64)
}

/// Length of the name at the start of `s`: the index of its first blank or control byte (`\n`,
/// `\t`, space, `\r`, `\0`, DEL...), sixteen bytes at a time. `None` when a non-ASCII byte comes
/// first (the general path validates UTF-8) or no such byte follows.
#[inline]
pub(crate) fn name_len(s: &[u8]) -> Option<usize> {
    // Most names are shorter than 32 bytes: both halves at once, one branch for them (a loop
    // that ends after one or two blocks mispredicts about as often as names cross 16 bytes).
    if let Some(head) = s.first_chunk::<32>() {
        let (lo, hi) = head.split_at(16);
        let m = stops16(lo.try_into().unwrap_or([0; 16]))
            | stops16(hi.try_into().unwrap_or([0; 16])) << 16;
        if m != 0 {
            let k = m.trailing_zeros() as usize;
            return (s[k] < 0x80).then_some(k);
        }
    }
    let mut i = if s.len() >= 32 { 32 } else { 0 };
    while let Some(chunk) = s.get(i..i + 16) {
        let m = stops16(chunk.try_into().unwrap_or([0; 16]));
        if m != 0 {
            let k = i + m.trailing_zeros() as usize;
            return (s[k] < 0x80).then_some(k);
        }
        i += 16;
    }
    let k = i + s[i..].iter().position(|&b| is_stop(b) || b >= 0x80)?;
    (s[k] < 0x80).then_some(k)
}

/// One bit per byte of `chunk` that ends a name or is not ASCII.
#[cfg(target_arch = "x86_64")]
#[inline]
fn stops16(chunk: [u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline; the load reads the 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        // Signed: bytes below 0x21 and bytes 0x80 and up (negative) in one comparison.
        let low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x21));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(low, del)) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn stops16(chunk: [u8; 16]) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (k, &b)| m | u32::from(is_stop(b) || b >= 0x80) << k)
}

/// Parses `1..=16` hex digits (no prefix). `None` when empty, too long or not hex.
#[inline]
pub(crate) fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        let d = HEX[b as usize];
        if d == 0xff {
            return None;
        }
        v = (v << 4) | d as u64;
    }
    Some(v)
}

/// Ends a name: blanks and every other ASCII control byte.
#[inline]
fn is_stop(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

/// A symbol type as the kernel prints it: `nm`'s letter, or `?` where `nm` could not tell (the
/// kernel's own table has such lines: `? __nosave_begin` on x86-64 builds with KALLSYMS_ALL).
#[inline]
pub(crate) fn is_type(k: u8) -> bool {
    k.is_ascii_alphabetic() || k == b'?'
}

/// Names and module names never hold control characters or whitespace: a symbol printed as
/// `name+0x10/0x20 [mod]` must read back as the same symbol.
fn clean(s: &[u8]) -> Result<(), &'static str> {
    if s.iter().any(|&b| is_stop(b)) {
        return Err("control character in a symbol or module name");
    }
    match std::str::from_utf8(s) {
        Err(_) => Err("symbol or module name is not UTF-8"),
        Ok(t) if t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err("control character in a symbol or module name")
        }
        Ok(_) => Ok(()),
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits off the leading run of non-blank bytes, then skips the blanks after it.
#[inline]
fn field(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s.iter().position(|&b| is_blank(b)).unwrap_or(s.len());
    let mut rest = &s[end..];
    while let [b, tail @ ..] = rest {
        if !is_blank(*b) {
            break;
        }
        rest = tail;
    }
    (&s[..end], rest)
}

/// Parses one line (without its `\n`). `Ok(None)` for a blank line.
pub(crate) fn parse_line(line: &[u8]) -> Result<Option<Line<'_>>, &'static str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|&b| is_blank(b)) {
        return Ok(None);
    }
    let (addr, rest) = field(line);
    if addr.is_empty() {
        return Err("line starts with blanks, expected an address");
    }
    if addr.len() > 16 {
        return Err("address longer than 16 hex digits");
    }
    let Some(value) = parse_hex(addr) else {
        return Err("address is not hexadecimal");
    };
    let (kind, rest) = field(rest);
    let kind = match kind {
        [k] if is_type(*k) => *k,
        [] => return Err("missing symbol type and name"),
        _ => return Err("symbol type is not one letter"),
    };
    let (name, rest) = field(rest);
    if name.is_empty() {
        return Err("missing symbol name");
    }
    clean(name)?;
    let module = if rest.is_empty() {
        None
    } else {
        let (col, tail) = field(rest);
        if !tail.is_empty() {
            return Err("unexpected text after the module column");
        }
        match col {
            [b'[', m @ .., b']'] if !m.is_empty() => {
                clean(m)?;
                Some(m)
            }
            _ => return Err("unexpected text after the name (expected [module])"),
        }
    };
    Ok(Some(Line {
        addr: value,
        digits: addr.len() as u8,
        kind,
        name,
        module,
    }))
}

/// `$a`, `$d`, `$t`, `$x`, `$x.N`, `$d.N`, RISC-V `$xrv64i…`: assembler mapping symbols that mark
/// code/data boundaries on ARM, AArch64 and RISC-V. They name no function, so the kernel's own
/// kallsyms skips them, and so do address lookups here.
#[inline]
pub(crate) fn is_mapping_symbol(name: &[u8]) -> bool {
    matches!(name, [b'$', b'a' | b'd' | b't' | b'x', ..])
}

/// Linker markers that end a section: an address at or after one of them (and before the next
/// symbol) is not inside any function. The kernel itself stops text lookups at `_etext` and
/// `_einittext` (`is_ksym_addr()`); treating every end marker alike keeps padding and data after
/// them from being reported as `_etext+0x1234`.
#[inline(always)]
pub(crate) fn is_end_marker(name: &[u8]) -> bool {
    // Called on every line: the first bytes and the last one rule out almost every name (more
    // than half of a kernel's names start with "__").
    match name {
        [b'_', b'_', c, .., last] => {
            (*c == b's' && name.starts_with(b"__stop_"))
                || (*c == b'e' && name.starts_with(b"__end_"))
                || (*last == b'd' && (name.ends_with(b"_text_end") || name == b"__init_end"))
                || (*last == b'p' && name == b"__bss_stop")
        }
        [b'_', b'e', ..] => {
            matches!(name, b"_etext" | b"_einittext" | b"_edata" | b"_end")
                || name.ends_with(b"_text_end")
        }
        [b'_', ..] => name.ends_with(b"_text_end"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_shapes() {
        let l = parse_line(b"ffffffff81000000 T _stext").unwrap().unwrap();
        assert_eq!(l.addr, 0xffffffff81000000);
        assert_eq!(
            (l.digits, l.kind, l.name, l.module),
            (16, b'T', &b"_stext"[..], None)
        );
        let l = parse_line(b"bf00ae80 t scanarg\t[binfmt_misc]\r")
            .unwrap()
            .unwrap();
        assert_eq!(l.addr, 0xbf00ae80);
        assert_eq!(l.module, Some(&b"binfmt_misc"[..]));
        assert_eq!(parse_line(b"  \t").unwrap(), None);
        assert_eq!(parse_line(b"").unwrap(), None);
    }

    #[test]
    fn rejects_bad_lines() {
        for (bad, why) in [
            (&b"xyz T a"[..], "address is not hexadecimal"),
            (
                b"11112222333344445 T a",
                "address longer than 16 hex digits",
            ),
            (b"1234", "missing symbol type and name"),
            (b"1234 TT a", "symbol type is not one letter"),
            (b"1234 1 a", "symbol type is not one letter"),
            (b"1234 ! a", "symbol type is not one letter"),
            (b"1234 T", "missing symbol name"),
            (
                b"1234 T a b",
                "unexpected text after the name (expected [module])",
            ),
            (
                b"1234 T a\t[]",
                "unexpected text after the name (expected [module])",
            ),
            (
                b"1234 T a\t[m] x",
                "unexpected text after the module column",
            ),
            (b" 1234 T a", "line starts with blanks, expected an address"),
            (b"1234 T \xff", "symbol or module name is not UTF-8"),
            (
                b"1234 T a\rb",
                "control character in a symbol or module name",
            ),
            (
                b"1234 T a\x7f",
                "control character in a symbol or module name",
            ),
            (
                b"1234 T a\xc2\xa0b",
                "control character in a symbol or module name",
            ),
            (
                b"1234 T a\t[m\x01]",
                "control character in a symbol or module name",
            ),
        ] {
            assert_eq!(
                parse_line(bad),
                Err(why),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn swar_helpers_match_simple_code() {
        let digits = b"0123456789abcdefABCDEF";
        let mut x = 12345u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut c = [0u8; 8];
            for (k, b) in c.iter_mut().enumerate() {
                *b = digits[((x >> (k * 5)) % 22) as usize];
            }
            if x.is_multiple_of(5) {
                c[(x % 8) as usize] = (x >> 40) as u8; // sometimes not a digit
            }
            assert_eq!(hex8(c).map(u64::from), parse_hex(&c), "{c:?}");
            let mut c16 = [b' '; 16];
            c16[..8].copy_from_slice(&c);
            assert_eq!(hex_prefix::<8>(c16), parse_hex(&c), "{c:?}");
            for k in 0..8 {
                c16[8 + k] = c[7 - k];
            }
            assert_eq!(hex_prefix::<16>(c16), parse_hex(&c16), "{c16:?}");
        }
        for s in [
            &b""[..],
            b"abc",
            b"abcdefgh",
            b"abcdefghij\tk",
            b"a b",
            b"abcdefghijklmnop\n",
            b"\n",
            b"abcdefghi\rj",
            b"abc\x7fdefghijkl",
            b"abcdefghijk\x00",
            b"abcdefghijklmnopq\x1f",
        ] {
            let want = s.iter().position(|&b| is_stop(b));
            assert_eq!(name_len(s), want, "{:?}", String::from_utf8_lossy(s));
        }
        for (s, want) in [
            (&b"abc\xc3\xa9 x"[..], None),
            (b"abcdefg\xc3\xa9 x", None),
            (b"abcdefghijklmnopqrs\xc3\xa9 x", None),
            (b"abcdefghijkl \xff\xff\xff", Some(12)),
            (b"abcdefghijklmnopqrstuvwxyz \xff\xff\xff", Some(26)),
            (b"abc \xff", Some(3)),
            (b"\xffbcdefghijkl\n", None),
        ] {
            assert_eq!(name_len(s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex(b"0"), Some(0));
        assert_eq!(parse_hex(b"FfFf"), Some(0xffff));
        assert_eq!(parse_hex(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"g"), None);
    }

    #[test]
    fn special_names() {
        for m in ["$a", "$d", "$t", "$x", "$x.12", "$d.3", "$xrv64i2p1"] {
            assert!(is_mapping_symbol(m.as_bytes()), "{m}");
        }
        for n in ["$", "$b", "a$d", "schedule"] {
            assert!(!is_mapping_symbol(n.as_bytes()), "{n}");
        }
        for m in [
            "_etext",
            "_end",
            "__stop___ksymtab",
            "__end_rodata",
            "__entry_text_end",
        ] {
            assert!(is_end_marker(m.as_bytes()), "{m}");
        }
        for n in ["_text", "schedule", "__start___ksymtab", "end", "_endless"] {
            assert!(!is_end_marker(n.as_bytes()), "{n}");
        }
        // The fast form agrees with the plain definition.
        let plain = |n: &[u8]| {
            n.first() == Some(&b'_')
                && (matches!(
                    n,
                    b"_etext" | b"_einittext" | b"_edata" | b"_end" | b"__bss_stop" | b"__init_end"
                ) || n.starts_with(b"__stop_")
                    || n.starts_with(b"__end_")
                    || n.ends_with(b"_text_end"))
        };
        let parts = [
            "_",
            "__",
            "e",
            "end",
            "_end",
            "text",
            "_text_end",
            "stop_",
            "bss_stop",
            "init_end",
            "x",
            "etext",
            "edata",
            "einittext",
            "s",
            "b",
            "i",
        ];
        for a in parts {
            for b in parts {
                for c in ["", "_end", "_text_end", "q"] {
                    let n = format!("{a}{b}{c}");
                    assert_eq!(is_end_marker(n.as_bytes()), plain(n.as_bytes()), "{n}");
                }
            }
        }
    }
}
