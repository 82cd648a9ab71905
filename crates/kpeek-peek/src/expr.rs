//! The expression grammar of `kpeek peek`.
//!
//! ```text
//! EXPR  := BASE CPU? STEP*
//! BASE  := NAME                        a symbol of the kernel or of any module
//!        | IDENT ':' NAME              a symbol of that module only
//!        | 0xHEX                       an address (typed with --as)
//! NAME  := IDENT
//!        | '"' [^"]+ '"'               any symbol name, quoted: "counter.12", "foo.constprop.0"
//! CPU   := '@cpu' DEC | '@all' | '@sum' (per-CPU variables only)
//! STEP  := '.' IDENT | '->' IDENT | '[' NUM ']'
//! IDENT := [A-Za-z_][A-Za-z0-9_]*
//! NUM   := DEC | 0xHEX
//! ```
//!
//! Spaces are not allowed inside an expression (one shell word each), except inside a quoted
//! name. Compilers name some symbols with dots (`counter.12` for a function's static variable,
//! `foo.constprop.0` for a specialised copy of a function, `__key.1`): a `.` would start a
//! field, so such names are quoted, `"counter.12".x` (in a shell: `'"counter.12".x'`). Symbol
//! names never contain `"`; a quoted name that is a plain identifier means the same unquoted.

use std::fmt;

/// Where an expression starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// A symbol, optionally restricted to one module (`mod:sym`).
    Symbol {
        /// The module named before `:`, if any.
        module: Option<String>,
        /// The symbol name.
        name: String,
    },
    /// A kernel address (`0xffff...`).
    Address(u64),
}

/// The CPU selector of a per-CPU variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSel {
    /// `@cpuN`: that CPU's copy.
    Cpu(u32),
    /// `@all`: one value per possible CPU.
    All,
    /// `@sum`: the sum over possible CPUs of a numeric leaf.
    Sum,
}

/// One step of a member chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.field`: a member of a struct or union (through typedefs).
    Field(String),
    /// `->field`: a member of the struct a pointer points to.
    Arrow(String),
    /// `[n]`: an element of an array, or of the memory a pointer points to.
    Index(u64),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// Where it starts.
    pub base: Base,
    /// The per-CPU selector, if given.
    pub cpu: Option<CpuSel>,
    /// The member chain, in order.
    pub steps: Vec<Step>,
}

/// A syntax error: what was expected, and at which byte of the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad expression `{expr}` at column {}: {fault}", .pos + 1)]
#[non_exhaustive]
pub struct ParseError {
    /// The whole expression.
    pub expr: String,
    /// Byte offset of the problem.
    pub pos: usize,
    /// What was wrong.
    pub fault: SyntaxFault,
}

/// What is wrong at a [`ParseError`]'s column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxFault {
    /// Nothing at all.
    #[error("empty expression")]
    Empty,
    /// Something else than an identifier where one was expected.
    #[error("expected {what}, found {}", .found.as_deref().map_or_else(|| "the end".to_string(), |c| format!("`{c}`")))]
    Expected {
        /// What was expected.
        what: &'static str,
        /// The character found (`None`: the end).
        found: Option<String>,
    },
    /// No digits where a number was expected.
    #[error("expected {0}")]
    NoDigits(&'static str),
    /// A number that does not parse.
    #[error("bad {what} `{text}`: {source}")]
    BadNumber {
        /// What the number is.
        what: &'static str,
        /// The text.
        text: String,
        /// Why.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A quoted name without its closing quote.
    #[error("a quoted name has no closing `\"`")]
    Unclosed,
    /// `""`.
    #[error("an empty quoted name")]
    EmptyQuoted,
    /// A NUL byte in a quoted name.
    #[error("a NUL byte in a quoted name")]
    Nul,
    /// A decimal address.
    #[error("an address must be written in hex (0x...)")]
    DecimalAddress,
    /// `@cpu` without a number.
    #[error("expected a CPU number after `@cpu`")]
    NoCpuNumber,
    /// A CPU number past `u32`.
    #[error("CPU number {0} is too large")]
    CpuTooLarge(u64),
    /// `@` followed by something else.
    #[error("expected `@cpuN`, `@all` or `@sum`")]
    BadSelector,
    /// `[` without a number.
    #[error("expected an index (a number) after `[`")]
    NoIndex,
    /// An index without its `]`.
    #[error("expected `]`")]
    NoBracket,
    /// A CPU selector after steps.
    #[error("a CPU selector goes right after the variable's name (runqueues@cpu1.nr_running)")]
    LateSelector,
    /// Something else than a step after the base.
    #[error("expected `.field`, `->field` or `[index]`, found `{0}`")]
    BadStep(String),
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Parser<'a> {
    fn err<T>(&self, pos: usize, fault: SyntaxFault) -> Result<T, ParseError> {
        Err(ParseError {
            expr: self.s.to_string(),
            pos,
            fault,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ident(&mut self, what: &'static str) -> Result<String, ParseError> {
        let start = self.i;
        match self.peek() {
            Some(c) if is_ident_start(c) => {}
            Some(c) => {
                return self.err(
                    start,
                    SyntaxFault::Expected {
                        what,
                        found: Some(char_at(self.s, start, c)),
                    },
                );
            }
            None => return self.err(start, SyntaxFault::Expected { what, found: None }),
        }
        while self.peek().is_some_and(is_ident) {
            self.i += 1;
        }
        Ok(self.s[start..self.i].to_string())
    }

    fn number(&mut self, what: &'static str) -> Result<u64, ParseError> {
        let start = self.i;
        let (radix, digits_start) =
            if self.s[self.i..].starts_with("0x") || self.s[self.i..].starts_with("0X") {
                (16, self.i + 2)
            } else {
                (10, self.i)
            };
        self.i = digits_start;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.i += 1;
        }
        let digits = &self.s[digits_start..self.i];
        if digits.is_empty() {
            return self.err(start, SyntaxFault::NoDigits(what));
        }
        match u64::from_str_radix(digits, radix) {
            Ok(v) => Ok(v),
            Err(e) => self.err(
                start,
                SyntaxFault::BadNumber {
                    what,
                    text: self.s[start..self.i].to_string(),
                    source: e,
                },
            ),
        }
    }

    /// A symbol name: an identifier, or anything but `"` between double quotes.
    fn name(&mut self, what: &'static str) -> Result<String, ParseError> {
        if self.peek() != Some(b'"') {
            return self.ident(what);
        }
        let open = self.i;
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != b'"') {
            self.i += 1;
        }
        if self.peek() != Some(b'"') {
            return self.err(open, SyntaxFault::Unclosed);
        }
        let name = &self.s[start..self.i];
        self.i += 1;
        if name.is_empty() {
            return self.err(open, SyntaxFault::EmptyQuoted);
        }
        if name.contains('\0') {
            return self.err(open, SyntaxFault::Nul);
        }
        Ok(name.to_string())
    }

    fn base(&mut self) -> Result<Base, ParseError> {
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let start = self.i;
            if !(self.s[self.i..].starts_with("0x") || self.s[self.i..].starts_with("0X")) {
                return self.err(start, SyntaxFault::DecimalAddress);
            }
            return Ok(Base::Address(self.number("address")?));
        }
        let quoted = self.peek() == Some(b'"');
        let first = self.name("a symbol name or 0xADDRESS")?;
        if !quoted && self.peek() == Some(b':') {
            self.i += 1;
            let name = self.name("a symbol name after `module:`")?;
            return Ok(Base::Symbol {
                module: Some(first),
                name,
            });
        }
        Ok(Base::Symbol {
            module: None,
            name: first,
        })
    }

    fn cpu(&mut self) -> Result<Option<CpuSel>, ParseError> {
        if self.peek() != Some(b'@') {
            return Ok(None);
        }
        let at = self.i;
        self.i += 1;
        let word_start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        match &self.s[word_start..self.i] {
            "all" => Ok(Some(CpuSel::All)),
            "sum" => Ok(Some(CpuSel::Sum)),
            "cpu" => {
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return self.err(self.i, SyntaxFault::NoCpuNumber);
                }
                let n = self.number("CPU number")?;
                match u32::try_from(n) {
                    Ok(n) => Ok(Some(CpuSel::Cpu(n))),
                    Err(_) => self.err(at, SyntaxFault::CpuTooLarge(n)),
                }
            }
            _ => self.err(at, SyntaxFault::BadSelector),
        }
    }

    fn steps(&mut self) -> Result<Vec<Step>, ParseError> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b'.' => {
                    self.i += 1;
                    steps.push(Step::Field(self.ident("a field name after `.`")?));
                }
                b'-' if self.b.get(self.i + 1) == Some(&b'>') => {
                    self.i += 2;
                    steps.push(Step::Arrow(self.ident("a field name after `->`")?));
                }
                b'[' => {
                    self.i += 1;
                    if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        return self.err(self.i, SyntaxFault::NoIndex);
                    }
                    let n = self.number("index")?;
                    if self.peek() != Some(b']') {
                        return self.err(self.i, SyntaxFault::NoBracket);
                    }
                    self.i += 1;
                    steps.push(Step::Index(n));
                }
                b'@' => return self.err(self.i, SyntaxFault::LateSelector),
                _ => {
                    return self.err(self.i, SyntaxFault::BadStep(char_at(self.s, self.i, c)));
                }
            }
        }
        Ok(steps)
    }
}

/// A symbol name as an expression spells it: quoted unless it is an identifier.
pub fn quote_name(name: &str) -> String {
    let b = name.as_bytes();
    if b.first().is_some_and(|c| is_ident_start(*c)) && b.iter().all(|c| is_ident(*c)) {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

fn char_at(s: &str, pos: usize, byte: u8) -> String {
    s.get(pos..)
        .and_then(|t| t.chars().next())
        .map_or_else(|| format!("\\x{byte:02x}"), |c| c.to_string())
}

impl Expr {
    /// Parses one expression.
    ///
    /// ```
    /// use kpeek_peek::expr::{Base, CpuSel, Expr, Step};
    /// let e = Expr::parse("runqueues@cpu1.curr->comm[0]")?;
    /// assert_eq!(e.base, Base::Symbol { module: None, name: "runqueues".into() });
    /// assert_eq!(e.cpu, Some(CpuSel::Cpu(1)));
    /// assert_eq!(e.steps, [Step::Field("curr".into()), Step::Arrow("comm".into()), Step::Index(0)]);
    /// # Ok::<(), kpeek_peek::expr::ParseError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Expr, ParseError> {
        let mut p = Parser {
            s,
            b: s.as_bytes(),
            i: 0,
        };
        if s.is_empty() {
            return p.err(0, SyntaxFault::Empty);
        }
        let base = p.base()?;
        let cpu = p.cpu()?;
        let steps = p.steps()?;
        Ok(Expr { base, cpu, steps })
    }

    /// The expression text up to (not including) step `n`, as `NULL at ...` messages name it.
    pub fn prefix(&self, n: usize) -> String {
        let mut e = self.clone();
        e.steps.truncate(n);
        e.to_string()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base {
            Base::Symbol {
                module: Some(m),
                name,
            } => write!(f, "{m}:{}", quote_name(name))?,
            Base::Symbol { module: None, name } => f.write_str(&quote_name(name))?,
            Base::Address(a) => write!(f, "{a:#x}")?,
        }
        match self.cpu {
            Some(CpuSel::Cpu(n)) => write!(f, "@cpu{n}")?,
            Some(CpuSel::All) => f.write_str("@all")?,
            Some(CpuSel::Sum) => f.write_str("@sum")?,
            None => {}
        }
        for s in &self.steps {
            match s {
                Step::Field(n) => write!(f, ".{n}")?,
                Step::Arrow(n) => write!(f, "->{n}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str) -> Base {
        Base::Symbol {
            module: None,
            name: name.into(),
        }
    }

    #[test]
    fn forms_of_the_issue() {
        let e = Expr::parse("init_task.mm->mmap_base").unwrap();
        assert_eq!(e.base, sym("init_task"));
        assert_eq!(
            e.steps,
            [Step::Field("mm".into()), Step::Arrow("mmap_base".into())]
        );
        let e = Expr::parse("plain_counter:reads").unwrap();
        assert_eq!(
            e.base,
            Base::Symbol {
                module: Some("plain_counter".into()),
                name: "reads".into()
            }
        );
        let e = Expr::parse("0xffffffff82a0c8c0").unwrap();
        assert_eq!(e.base, Base::Address(0xffffffff82a0c8c0));
        let e = Expr::parse("runqueues@all.nr_running").unwrap();
        assert_eq!(e.cpu, Some(CpuSel::All));
        let e = Expr::parse("runqueues@sum.nr_switches").unwrap();
        assert_eq!(e.cpu, Some(CpuSel::Sum));
        let e = Expr::parse("x[0x10][3]").unwrap();
        assert_eq!(e.steps, [Step::Index(16), Step::Index(3)]);
    }

    #[test]
    fn errors_name_the_column() {
        let cases = [
            ("", 0, "empty"),
            ("a.", 2, "field name"),
            ("a->", 3, "field name"),
            ("a[", 2, "index"),
            ("a[1", 3, "`]`"),
            ("a@cpu", 5, "CPU number"),
            ("a@foo", 1, "@all"),
            ("a.b@cpu1", 3, "right after"),
            ("123", 0, "hex"),
            ("0xzz", 0, "address"),
            ("a b", 1, "found ` `"),
            ("m:", 2, "after `module:`"),
            ("a[99999999999999999999]", 2, "index"),
            ("a@cpu99999999999", 1, "too large"),
            ("\"counter.12", 0, "no closing"),
            ("\"\".x", 0, "empty quoted name"),
            ("m:\"a", 2, "no closing"),
            ("\"m\":a", 3, "found `:`"),
            ("counter.12", 8, "field name after `.`"),
        ];
        for (s, pos, what) in cases {
            let e = Expr::parse(s).unwrap_err();
            assert_eq!(e.pos, pos, "{s}: {e}");
            assert!(e.to_string().contains(what), "{s}: {e}");
        }
    }

    #[test]
    fn faults_carry_what_was_found() {
        let e = Expr::parse("a b").unwrap_err();
        assert_eq!(e.fault, SyntaxFault::BadStep(" ".into()));
        assert_eq!(
            e.to_string(),
            "bad expression `a b` at column 2: expected `.field`, `->field` or `[index]`, found ` `"
        );
        let e = Expr::parse("m:").unwrap_err();
        assert_eq!(
            e.fault,
            SyntaxFault::Expected {
                what: "a symbol name after `module:`",
                found: None
            }
        );
        assert!(e.to_string().ends_with("found the end"), "{e}");
        let e = Expr::parse("0xzz").unwrap_err();
        assert!(
            matches!(&e.fault, SyntaxFault::BadNumber { what: "address", text, .. } if text == "0xzz"),
            "{e}"
        );
        assert_eq!(
            Expr::parse("a@cpu99999999999").unwrap_err().fault,
            SyntaxFault::CpuTooLarge(99_999_999_999)
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "a",
            "m:a@cpu3.b->c[4]",
            "0x10.x",
            "a@sum.b",
            "a@all",
            "\"counter.12\"",
            "m:\"__key.1\"@cpu0.x",
        ] {
            assert_eq!(Expr::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn quoted_names_hold_dots() {
        let e = Expr::parse("plain_counter:\"opens.0\"").unwrap();
        assert_eq!(
            e.base,
            Base::Symbol {
                module: Some("plain_counter".into()),
                name: "opens.0".into()
            }
        );
        assert!(e.steps.is_empty());
        let e = Expr::parse("\"foo.constprop.0\".a->b").unwrap();
        assert_eq!(e.base, sym("foo.constprop.0"));
        assert_eq!(e.steps, [Step::Field("a".into()), Step::Arrow("b".into())]);
        // A quoted identifier is the identifier.
        assert_eq!(
            Expr::parse("\"jiffies\"").unwrap(),
            Expr::parse("jiffies").unwrap()
        );
        assert_eq!(Expr::parse("\"jiffies\"").unwrap().to_string(), "jiffies");
    }
}
