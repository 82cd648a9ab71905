//! The string glob of `~`: the kernel's `glob_match()` (lib/glob.c) as the event filter uses it.
//!
//! Grammar (bytes, as the kernel reads them): `*` any run, `?` any one byte, `[...]` a class
//! (ranges `a-z`, `!` first inverts it, `]` first is a member; a `[` with no closing `]` is an
//! ordinary byte), `\x` the byte x (a trailing `\` is dropped). A leading `!` inverts the whole
//! match, as the kernel's filter does. The text matched is a C string: the bytes before the
//! first NUL.
//!
//! [`glob_match`] is a line-for-line port of the kernel's matcher (one backtracking point).
//! [`Glob`] is the same pattern split at its `*`s into segments — an anchored prefix, middle
//! segments found left to right, an anchored suffix — the form a BPF program can evaluate with
//! bounded loops; [`Glob::matches`] evaluates that form and gives the same answer as
//! [`glob_match`] for every pattern and text.
//!
//! ```
//! use kpeek_filter::glob::{Glob, glob_match};
//! let g = Glob::parse("*sh[0-9]?");
//! assert!(g.matches(b"bash42") && glob_match(b"*sh[0-9]?", b"bash42"));
//! assert!(!g.matches(b"bash4"));
//! assert!(Glob::parse("!ba*").matches(b"zsh"));
//! ```

/// One byte position of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Atom {
    /// Exactly this byte.
    Byte(u8),
    /// `?`: any byte (but NUL, which ends the text).
    Any,
    /// `[...]`: a byte in one of the inclusive ranges (`negated`: in none of them).
    Class {
        /// The inclusive byte ranges (`a-z` is `(b'a', b'z')`, a single byte `(c, c)`).
        ranges: Vec<(u8, u8)>,
        /// `[!...]`: the byte matches when it is in none of the ranges.
        negated: bool,
    },
}

impl Atom {
    /// Whether the (non-NUL) byte `c` matches.
    pub fn matches(&self, c: u8) -> bool {
        match self {
            Atom::Byte(b) => *b == c,
            Atom::Any => true,
            Atom::Class { ranges, negated } => {
                ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated
            }
        }
    }
}

/// A `~` pattern split at its `*`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    /// A leading `!`: the answer is inverted.
    pub negated: bool,
    /// The atoms before the first `*` (the whole pattern when there is no `*`).
    pub prefix: Vec<Atom>,
    /// `None`: no `*`, the text must be exactly `prefix`. `Some`: what follows the first `*`.
    pub star: Option<StarPart>,
}

/// The part of a glob after its first `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StarPart {
    /// Non-empty segments between two `*`s, found left to right.
    pub middles: Vec<Vec<Atom>>,
    /// The atoms after the last `*`, anchored at the text's end (may be empty).
    pub suffix: Vec<Atom>,
}

/// The text up to its first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Parse a class whose body starts at `p[i]` (just after `[`): the atom and the index after
/// its `]`, or `None` when it is malformed (then `[` is an ordinary byte).
fn class(p: &[u8], i: usize) -> Option<(Atom, usize)> {
    let at = |j: usize| p.get(j).copied().unwrap_or(0);
    let negated = at(i) == b'!';
    let mut j = i + usize::from(negated);
    let mut a = at(j);
    j += 1;
    let mut ranges = Vec::new();
    loop {
        let mut b = a;
        if a == 0 {
            return None;
        }
        if at(j) == b'-' && at(j + 1) != b']' {
            b = at(j + 1);
            if b == 0 {
                return None;
            }
            j += 2;
        }
        ranges.push((a, b));
        a = at(j);
        j += 1;
        if a == b']' {
            return Some((Atom::Class { ranges, negated }, j));
        }
    }
}

impl Glob {
    /// Split a pattern (every text is a pattern; it ends at a NUL, as a C string would).
    pub fn parse(pattern: &str) -> Glob {
        let mut p = c_str(pattern.as_bytes());
        let negated = p.first() == Some(&b'!');
        if negated {
            p = &p[1..];
        }
        let mut segs: Vec<Vec<Atom>> = vec![Vec::new()];
        let mut i = 0;
        while i < p.len() {
            let d = p[i];
            i += 1;
            let atom = match d {
                b'?' => Atom::Any,
                b'*' => {
                    segs.push(Vec::new());
                    continue;
                }
                b'[' => match class(p, i) {
                    Some((a, next)) => {
                        i = next;
                        a
                    }
                    None => Atom::Byte(b'['),
                },
                b'\\' => match p.get(i) {
                    Some(&c) => {
                        i += 1;
                        Atom::Byte(c)
                    }
                    // A trailing backslash matches the end of the text, which is implied.
                    None => break,
                },
                c => Atom::Byte(c),
            };
            segs.last_mut().expect("one segment").push(atom);
        }
        let prefix = segs.remove(0);
        let star = segs.pop().map(|suffix| StarPart {
            middles: segs.into_iter().filter(|s| !s.is_empty()).collect(),
            suffix,
        });
        Glob {
            negated,
            prefix,
            star,
        }
    }

    /// Match `text` (up to its first NUL) segment by segment, as the BPF program does.
    pub fn matches(&self, text: &[u8]) -> bool {
        self.body_matches(c_str(text)) != self.negated
    }

    fn body_matches(&self, s: &[u8]) -> bool {
        let at = |seg: &[Atom], pos: usize| seg.iter().zip(&s[pos..]).all(|(a, &c)| a.matches(c));
        let Some(star) = &self.star else {
            return s.len() == self.prefix.len() && at(&self.prefix, 0);
        };
        if s.len() < self.prefix.len() || !at(&self.prefix, 0) {
            return false;
        }
        let mut pos = self.prefix.len();
        for m in &star.middles {
            let Some(p) = (pos..=s.len().saturating_sub(m.len()))
                .find(|&p| p + m.len() <= s.len() && at(m, p))
            else {
                return false;
            };
            pos = p + m.len();
        }
        let n = star.suffix.len();
        s.len() >= pos + n && at(&star.suffix, s.len() - n)
    }

    /// A plain string when the pattern has no wildcard, class or escape (and no `!`).
    pub fn literal(&self) -> Option<Vec<u8>> {
        if self.negated || self.star.is_some() {
            return None;
        }
        plain_bytes(&self.prefix)
    }

    /// The literal prefix when the pattern is `text*` (no `!`).
    pub fn literal_prefix(&self) -> Option<Vec<u8>> {
        let star = self.star.as_ref()?;
        if self.negated || !star.middles.is_empty() || !star.suffix.is_empty() {
            return None;
        }
        plain_bytes(&self.prefix)
    }
}

/// The kernel's `glob_match(pat, str)` (lib/glob.c), both read as C strings. Without the
/// filter's leading-`!` rule: [`Glob`] adds it.
pub fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let pat = c_str(pat);
    let text = c_str(text);
    let p = |i: usize| pat.get(i).copied().unwrap_or(0);
    let t = |i: usize| text.get(i).copied().unwrap_or(0);
    let (mut pi, mut si) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    loop {
        let c = t(si);
        si += 1;
        let d = p(pi);
        pi += 1;
        // `true`: go on with the next byte; `false`: backtrack.
        let ok = match d {
            b'?' => {
                if c == 0 {
                    return false;
                }
                true
            }
            b'*' => {
                if p(pi) == 0 {
                    return true;
                }
                si -= 1;
                back = Some((pi, si));
                true
            }
            b'[' if c == 0 => return false,
            b'[' => match class(pat, pi) {
                Some((a, next)) => {
                    pi = next;
                    a.matches(c)
                }
                // Malformed: `[` is an ordinary byte.
                None => c == b'[',
            },
            _ => {
                let d = if d == b'\\' {
                    pi += 1;
                    p(pi - 1)
                } else {
                    d
                };
                if c == d && d == 0 {
                    return true;
                }
                c == d
            }
        };
        if !ok {
            let Some((bp, bs)) = back else {
                return false;
            };
            if c == 0 {
                return false;
            }
            pi = bp;
            si = bs + 1;
            back = Some((bp, bs + 1));
        }
    }
}

/// The bytes of atoms that are all plain bytes; `None` if any is a wildcard or class.
fn plain_bytes(atoms: &[Atom]) -> Option<Vec<u8>> {
    atoms
        .iter()
        .map(|a| match a {
            Atom::Byte(b) => Some(*b),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        let g = Glob::parse("ab*c?d**[x-z]*\\*");
        assert_eq!(g.prefix, [Atom::Byte(b'a'), Atom::Byte(b'b')]);
        let s = g.star.unwrap();
        assert_eq!(
            s.middles,
            [
                vec![Atom::Byte(b'c'), Atom::Any, Atom::Byte(b'd')],
                vec![Atom::Class {
                    ranges: vec![(b'x', b'z')],
                    negated: false
                }]
            ]
        );
        assert_eq!(s.suffix, [Atom::Byte(b'*')]);
        assert_eq!(Glob::parse("a[b").prefix.len(), 3);
        assert_eq!(Glob::parse("eth*").literal_prefix(), Some(b"eth".to_vec()));
        assert_eq!(Glob::parse("lo").literal(), Some(b"lo".to_vec()));
        assert_eq!(Glob::parse("!lo").literal(), None);
    }

    #[test]
    fn kernel_cases() {
        // What the kernel's event filter answered for `newcomm ~ PATTERN` (task:task_rename),
        // except the `1*` rule (a pattern starting with a digit is taken literally there).
        for (pat, text, want) in [
            ("!ab", "ab", false),
            ("!ab", "abc", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("[ab]*", "bash", true),
            ("[ab]*", "xbash", false),
            ("ab\\", "ab", true),
            ("ab\\", "abc", false),
            ("*b*", "!ab", true),
            ("[]a]", "]", true),
            ("[!]a]", "]", false),
            ("[a-]", "-", true),
            ("[z-a]", "m", false),
        ] {
            assert_eq!(
                Glob::parse(pat).matches(text.as_bytes()),
                want,
                "{pat} {text}"
            );
        }
    }
}
