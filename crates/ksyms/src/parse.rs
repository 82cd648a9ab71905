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
        [k] if k.is_ascii_alphabetic() => *k,
        [] => return Err("missing symbol type and name"),
        _ => return Err("symbol type is not one letter"),
    };
    let (name, rest) = field(rest);
    if name.is_empty() {
        return Err("missing symbol name");
    }
    if std::str::from_utf8(name).is_err() {
        return Err("symbol name is not UTF-8");
    }
    let module = if rest.is_empty() {
        None
    } else {
        let (col, tail) = field(rest);
        if !tail.is_empty() {
            return Err("unexpected text after the module column");
        }
        match col {
            [b'[', m @ .., b']'] if !m.is_empty() => {
                if std::str::from_utf8(m).is_err() {
                    return Err("module name is not UTF-8");
                }
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

/// Iterates `(1-based line number, line bytes)` over a buffer; the last line may lack `\n`.
pub(crate) struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    no: usize,
}

impl<'a> Lines<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Lines { buf, pos: 0, no: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let len = memchr(b'\n', rest).unwrap_or(rest.len());
        self.pos += len + 1;
        self.no += 1;
        Some((self.no, &rest[..len]))
    }
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
            (b"1234 T \xff", "symbol name is not UTF-8"),
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
    fn hex() {
        assert_eq!(parse_hex(b"0"), Some(0));
        assert_eq!(parse_hex(b"FfFf"), Some(0xffff));
        assert_eq!(parse_hex(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"g"), None);
    }

    #[test]
    fn lines_numbers_and_last_line() {
        let v: Vec<_> = Lines::new(b"a\n\nb").collect();
        assert_eq!(v, vec![(1, &b"a"[..]), (2, &b""[..]), (3, &b"b"[..])]);
        assert_eq!(Lines::new(b"").count(), 0);
        assert_eq!(Lines::new(b"a\n").count(), 1);
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
