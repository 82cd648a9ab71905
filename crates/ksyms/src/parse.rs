//! The line format: `ADDR TYPE NAME` with an optional `\t[MODULE]` column.
//!
//! Hand-written on purpose: one pass over bytes, lines found with `memchr`, hex parsed by a table,
//! no allocation per line. Every failure carries its line number.

use memchr::memchr;

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

const fn rep(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Eight hex digits at once (SWAR): validates every byte and packs the nibbles.
#[inline]
fn hex8(chunk: [u8; 8]) -> Option<u32> {
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

/// Index of the first blank or control byte (`\n`, `\t`, space, `\r`, `\0`, DEL...) in `s`
/// (or its length), eight bytes at a time, and whether the bytes before it are all ASCII.
#[inline]
fn find_stop(s: &[u8]) -> (usize, bool) {
    #[inline]
    fn zero_byte(v: u64) -> u64 {
        v.wrapping_sub(rep(1)) & !v & rep(0x80)
    }
    let mut high = 0u64;
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // Bytes below 0x21 (controls and space), and DEL.
        let hit = (w.wrapping_sub(rep(0x21)) & !w & rep(0x80)) | zero_byte(w ^ rep(0x7f));
        if hit != 0 {
            // The lowest flagged byte is a real match (borrows only propagate upwards).
            let k = hit.trailing_zeros() / 8;
            let before = if k == 0 {
                0
            } else {
                w & (u64::MAX >> (64 - 8 * k))
            };
            return (i + k as usize, (high | before) & rep(0x80) == 0);
        }
        high |= w;
        i += 8;
    }
    let end = i + s[i..]
        .iter()
        .position(|&b| is_stop(b))
        .unwrap_or(s.len() - i);
    (end, high & rep(0x80) == 0 && s[i..end].is_ascii())
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

/// The canonical kallsyms line, fast: `width` hex digits, one space, a letter, one space, the
/// name, then `\n`, end of input, or `\t[module]\n`. Returns the line and the position after
/// its `\n`, or `None` for anything else, non-ASCII names included (the caller then takes the
/// general path, which validates UTF-8 and produces the error messages).
#[inline]
pub(crate) fn parse_fast(buf: &[u8], pos: usize, width: usize) -> Option<(Line<'_>, usize)> {
    let rest = buf.get(pos..)?;
    let head = rest.get(..width + 3)?;
    let (digits, tail) = head.split_at(width);
    let v = match *digits {
        [a0, a1, a2, a3, a4, a5, a6, a7] => hex8([a0, a1, a2, a3, a4, a5, a6, a7])? as u64,
        [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] => {
            let hi = hex8([a0, a1, a2, a3, a4, a5, a6, a7])? as u64;
            hi << 32 | hex8([b0, b1, b2, b3, b4, b5, b6, b7])? as u64
        }
        _ => return None,
    };
    if tail[0] != b' ' || tail[2] != b' ' || !tail[1].is_ascii_alphabetic() {
        return None;
    }
    let name_at = width + 3;
    let (len, ascii) = find_stop(&rest[name_at..]);
    let stop = name_at + len;
    let name = &rest[name_at..stop];
    if name.is_empty() || name.ends_with(b"\r") || !ascii {
        return None;
    }
    let (module, next) = match rest.get(stop) {
        None => (None, rest.len()),
        Some(b'\n') => (None, stop + 1),
        Some(b'\t') => {
            let end = memchr(b'\n', &rest[stop..]).map_or(rest.len(), |i| i + stop);
            match &rest[stop + 1..end] {
                [b'[', m @ .., b']']
                    if !m.is_empty() && m.iter().all(|&b| b.is_ascii_graphic() && b != b']') =>
                {
                    (Some(m), (end + 1).min(rest.len()))
                }
                _ => return None,
            }
        }
        Some(_) => return None,
    };
    let line = Line {
        addr: v,
        digits: width as u8,
        kind: tail[1],
        name,
        module,
    };
    Some((line, pos + next))
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
        [k] if k.is_ascii_alphabetic() => *k,
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
pub(crate) fn is_mapping_symbol(name: &[u8]) -> bool {
    matches!(name, [b'$', b'a' | b'd' | b't' | b'x', ..])
}

/// Linker markers that end a section: an address at or after one of them (and before the next
/// symbol) is not inside any function. The kernel itself stops text lookups at `_etext` and
/// `_einittext` (`is_ksym_addr()`); treating every end marker alike keeps padding and data after
/// them from being reported as `_etext+0x1234`.
pub(crate) fn is_end_marker(name: &[u8]) -> bool {
    if name.first() != Some(&b'_') {
        return false;
    }
    matches!(
        name,
        b"_etext" | b"_einittext" | b"_edata" | b"_end" | b"__bss_stop" | b"__init_end"
    ) || name.starts_with(b"__stop_")
        || name.starts_with(b"__end_")
        || name.ends_with(b"_text_end")
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
    fn fast_path_agrees_with_general_path() {
        let buf = b"ffffffff81000000 T _stext\nffffffffc0000000 t f\t[m]\nffffffff81000010 t last";
        let (l, next) = parse_fast(buf, 0, 16).unwrap();
        assert_eq!(Some(l), parse_line(b"ffffffff81000000 T _stext").unwrap());
        let (l, next) = parse_fast(buf, next, 16).unwrap();
        assert_eq!(Some(l), parse_line(b"ffffffffc0000000 t f\t[m]").unwrap());
        let (l, next) = parse_fast(buf, next, 16).unwrap();
        assert_eq!((l.name, next), (&b"last"[..], buf.len()));
        assert!(parse_fast(buf, next, 16).is_none());
        for odd in [
            &b"ffffffff8100000g T a\n"[..],
            b"ffffffff81000000  T a\n",
            b"ffffffff81000000 T a b\n",
            b"ffffffff81000000 T a\r\n",
            b"ffffffff81000000 T \n",
            b"ffffffff81000000 T a\t[]\n",
            b"ffffffff81000000 T a\t[m] x\n",
            b"ffffffff81000000 1 a\n",
            b"ffffffff81000000 T \xff\n",
            b"c0008000 T a\n",
        ] {
            assert!(
                parse_fast(odd, 0, 16).is_none(),
                "{:?}",
                String::from_utf8_lossy(odd)
            );
        }
        assert!(parse_fast(b"c0008000 T a\n", 0, 8).is_some());
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
            let want = s.iter().position(|&b| is_stop(b)).unwrap_or(s.len());
            assert_eq!(
                find_stop(s),
                (want, true),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
        for (s, want) in [
            (&b"abc\xc3\xa9 x"[..], (5, false)),
            (b"abcdefg\xc3\xa9 x", (9, false)),
            (b"abcdefghijkl \xff\xff\xff", (12, true)),
            (b"abc \xff", (3, true)),
            (b"\xffbcdefghijkl\n", (12, false)),
        ] {
            assert_eq!(find_stop(s), want, "{:?}", String::from_utf8_lossy(s));
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
    }
}
