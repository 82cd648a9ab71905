//! Symbolize free text (oops reports, stack dumps, `perf script` output), and the reverse:
//! `sym+0xoff[/0xsize] [mod]` → address.

use crate::lookup::Resolved;
use crate::parse::parse_hex;
use crate::table::Ksyms;

/// What to do with each kernel address found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Keep the address and add ` sym+0xoff/0xsize [mod]` after it (after `>]` in `[<addr>]`).
    #[default]
    Append,
    /// Put `sym+0xoff/0xsize [mod]` in place of the address.
    Replace,
}

/// A parsed `sym+0xoff[/0xsize] [mod]` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymExpr<'a> {
    /// Symbol name.
    pub name: &'a str,
    /// Offset into it.
    pub offset: u64,
    /// The size written after `/`, used to choose between same-named symbols.
    pub size: Option<u64>,
    /// The module in brackets, if any.
    pub module: Option<&'a str>,
}

fn hex_prefixed(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    parse_hex(digits.as_bytes())
}

impl<'a> SymExpr<'a> {
    /// Parses `name+0xoff`, `name+0xoff/0xsize`, optionally followed by ` [module]`.
    /// `None` when `s` has another shape.
    pub fn parse(s: &'a str) -> Option<SymExpr<'a>> {
        let s = s.trim();
        let (sym, module) = match s.split_once(char::is_whitespace) {
            Some((sym, m)) => {
                let m = m.trim().strip_prefix('[')?.strip_suffix(']')?;
                if m.is_empty() {
                    return None;
                }
                (sym, Some(m))
            }
            None => (s, None),
        };
        let (name, off) = sym.rsplit_once('+')?;
        if name.is_empty() {
            return None;
        }
        let (offset, size) = match off.split_once('/') {
            Some((o, z)) => (hex_prefixed(o)?, Some(hex_prefixed(z)?)),
            None => (hex_prefixed(off)?, None),
        };
        Some(SymExpr {
            name,
            offset,
            size,
            module,
        })
    }
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Ksyms {
    /// Addresses for `sym+0xoff[/0xsize] [mod]`: one per symbol of that name (in that module, of
    /// that size when given), as [`Resolved`] values whose `addr` is the answer.
    ///
    /// ```
    /// use ksyms::{Ksyms, SymExpr};
    /// let ks = Ksyms::parse(b"ffffffff81000000 T a\nffffffff81000100 T b\nffffffff81000200 T c\n")?;
    /// let r = ks.resolve_expr(&SymExpr::parse("b+0x10/0x100").unwrap());
    /// assert_eq!(r[0].addr, 0xffffffff81000110);
    /// # Ok::<(), ksyms::Error>(())
    /// ```
    pub fn resolve_expr(&self, e: &SymExpr<'_>) -> Vec<Resolved<'_>> {
        self.find(e.name)
            .into_iter()
            .filter(|s| e.module.is_none() || s.module == e.module)
            .filter_map(|s| {
                let r = self.lookup(s.addr).filter(|r| r.offset == 0);
                let size = r.and_then(|r| r.size);
                if e.size.is_some() && size != e.size {
                    return None;
                }
                Some(Resolved {
                    addr: s.addr.checked_add(e.offset)?,
                    symbol: s,
                    offset: e.offset,
                    size,
                })
            })
            .collect()
    }

    /// Every kernel address in `text`: a hex number standing alone (not part of a word, not
    /// after `+` or `/`, where it is an offset or a size), either `0x`-prefixed or bare with
    /// exactly the table's digit count (16 on 64-bit kernels, 8 on 32-bit ones), that resolves
    /// to a symbol. Numbers that resolve to nothing (register values, data pointers) are not
    /// returned.
    pub fn addresses_in(&self, text: &str) -> Vec<Found<'_>> {
        let b = text.as_bytes();
        let mut found = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_hexdigit() || (i > 0 && (is_word(b[i - 1]) || b[i - 1] == b'+')) {
                i += 1;
                continue;
            }
            let prefixed = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
            let digits_at = if prefixed { i + 2 } else { i };
            let mut j = digits_at;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            let ndigits = j - digits_at;
            let after_slash = i > 0 && b[i - 1] == b'/';
            let ok_len = if prefixed {
                (1..=16).contains(&ndigits)
            } else {
                ndigits == self.addr_digits as usize
            };
            let bounded = j == b.len() || !is_word(b[j]);
            let resolved = (ok_len && bounded && !after_slash)
                .then(|| parse_hex(&b[digits_at..j]))
                .flatten()
                .and_then(|a| self.lookup(a));
            match resolved {
                Some(resolved) => {
                    found.push(Found {
                        range: i..j,
                        resolved,
                    });
                    i = j;
                }
                None => {
                    // Skip the whole word so its tail is not taken for another number.
                    while j < b.len() && is_word(b[j]) {
                        j += 1;
                    }
                    i = j.max(i + 1);
                }
            }
        }
        found
    }

    /// Rewrites every kernel address in `text` (see [`Ksyms::addresses_in`]) per `mode`; the
    /// rest is left untouched.
    ///
    /// ```
    /// use ksyms::{Ksyms, Mode};
    /// let ks = Ksyms::parse(b"ffffffff81000000 T a\nffffffff81000100 T b\nffffffff81000200 T c\n")?;
    /// let out = ks.symbolize_text(" [<ffffffff81000104>] RAX: 0000000000000000\n", Mode::Append);
    /// assert_eq!(out.text, " [<ffffffff81000104>] b+0x4/0x100 RAX: 0000000000000000\n");
    /// assert_eq!(ks.symbolize_text("at 0xffffffff81000004.", Mode::Replace).text, "at a+0x4/0x100.");
    /// # Ok::<(), ksyms::Error>(())
    /// ```
    pub fn symbolize_text(&self, text: &str, mode: Mode) -> Symbolized {
        let found = self.addresses_in(text);
        let mut out = String::with_capacity(text.len() + found.len() * 32);
        let mut done = 0; // bytes of `text` already copied
        for f in &found {
            let (i, j) = (f.range.start, f.range.end);
            match mode {
                Mode::Replace => {
                    out.push_str(&text[done..i]);
                    out.push_str(&f.resolved.to_string());
                    done = j;
                }
                Mode::Append => {
                    let end = if text[j..].starts_with(">]") {
                        j + 2
                    } else {
                        j
                    };
                    out.push_str(&text[done..end]);
                    out.push(' ');
                    out.push_str(&f.resolved.to_string());
                    done = end;
                }
            }
        }
        out.push_str(&text[done..]);
        Symbolized {
            text: out,
            found: found.len(),
        }
    }
}

/// A kernel address found in a text by [`Ksyms::addresses_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    /// Byte range of the number (with its `0x`) in the text.
    pub range: std::ops::Range<usize>,
    /// Its symbol.
    pub resolved: Resolved<'a>,
}

/// The result of [`Ksyms::symbolize_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbolized {
    /// The rewritten text.
    pub text: String,
    /// How many addresses were symbolized.
    pub found: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Ksyms {
        Ksyms::parse(
            b"ffffffff81000000 T a\nffffffff81000100 t b\nffffffff81000200 T c\n\
              ffffffffc0000000 t m1\t[mod]\nffffffffc0000040 t m2\t[mod]\n",
        )
        .unwrap()
    }

    #[test]
    fn expr_parse() {
        assert_eq!(
            SymExpr::parse("b+0x24/0xb0 [ext4]"),
            Some(SymExpr {
                name: "b",
                offset: 0x24,
                size: Some(0xb0),
                module: Some("ext4")
            })
        );
        assert_eq!(SymExpr::parse("a.cold+0x1").unwrap().name, "a.cold");
        for bad in [
            "b",
            "b+24",
            "+0x1",
            "b+0x1/",
            "b+0x1 ext4",
            "b+0x1 []",
            "b+0xzz",
        ] {
            assert_eq!(SymExpr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn expr_resolve() {
        let ks = t();
        let r = ks.resolve_expr(&SymExpr::parse("m1+0x8 [mod]").unwrap());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].addr, 0xffffffffc0000008);
        assert_eq!(r[0].to_string(), "m1+0x8/0x40 [mod]");
        assert!(
            ks.resolve_expr(&SymExpr::parse("m1+0x8 [x]").unwrap())
                .is_empty()
        );
        assert!(
            ks.resolve_expr(&SymExpr::parse("b+0x8/0x99").unwrap())
                .is_empty()
        );
        // Round trip: address -> text -> address.
        let back = ks.resolve_expr(
            &SymExpr::parse(&ks.lookup(0xffffffff81000123).unwrap().to_string()).unwrap(),
        );
        assert_eq!(back[0].addr, 0xffffffff81000123);
    }

    #[test]
    fn oops_text() {
        let ks = t();
        let oops = "Call Trace:\n [<ffffffff81000104>] b+0x4/0x100\n \
                    ffffffffc0000004 RSP: ffffc90000013e78 x0xffffffff81000001 \
                    c+0xffffffff81000001/0xffffffff81000001 ffffffff81000001ab\n";
        let a = ks.symbolize_text(oops, Mode::Append);
        assert_eq!(
            a.text,
            "Call Trace:\n [<ffffffff81000104>] b+0x4/0x100 b+0x4/0x100\n \
             ffffffffc0000004 m1+0x4/0x40 [mod] RSP: ffffc90000013e78 x0xffffffff81000001 \
             c+0xffffffff81000001/0xffffffff81000001 ffffffff81000001ab\n"
        );
        assert_eq!(a.found, 2);
        let r = ks.symbolize_text(oops, Mode::Replace);
        assert!(r.text.contains(" [<b+0x4/0x100>] "), "{}", r.text);
        assert_eq!(ks.symbolize_text("", Mode::Replace).found, 0);
        assert_eq!(
            ks.symbolize_text("é0xffffffff81000001é", Mode::Replace)
                .text,
            "éa+0x1/0x100é"
        );
    }
}
