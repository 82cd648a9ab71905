//! `kpeek-filter`: the tracepoint filter grammar of the kernel's event filters
//! (`Documentation/trace/events.rst`, "Event filtering"), parsed into an AST.
//!
//! `kpeek trace` hands filters to the kernel verbatim; `kpeek bpf count --filter` compiles the
//! AST into the BPF program. The grammar:
//!
//! ```text
//! expr  := or
//! or    := and ("||" and)*
//! and   := unary ("&&" unary)*
//! unary := "!" unary | "(" expr ")" | pred
//! pred  := FIELD OP VALUE          OP: == != < <= > >= & ~
//! VALUE := integer (decimal, 0x hex, 0 octal, leading -) | "string" | 'string' | bare-word
//! ```
//!
//! `~` matches a string against a glob (`*` and `?`, `[...]` classes, `\` escapes, a leading
//! `!` inverts: the kernel's grammar, see [`glob`]); `==`/`!=` on strings compare exactly. [`Expr`]'s `Display` prints a filter that parses back to the same AST.
//!
//! ```
//! use kpeek_filter::{parse, Expr, Op, Value};
//! let e = parse(r#"name == "lo" && len >= 0x40"#).unwrap();
//! let Expr::And(a, b) = &e else { panic!() };
//! assert!(matches!(&**a, Expr::Pred(p) if p.field == "name" && p.value == Value::Str("lo".into())));
//! assert!(matches!(&**b, Expr::Pred(p) if p.op == Op::Ge && p.value == Value::Int(64)));
//! assert_eq!(e.to_string(), r#"name == "lo" && len >= 64"#);
//! ```

#![warn(missing_docs, unreachable_pub)]

use std::fmt;

pub mod glob;
mod parse;

pub use parse::parse;

/// A filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Both hold (`&&`).
    And(Box<Expr>, Box<Expr>),
    /// Either holds (`||`).
    Or(Box<Expr>, Box<Expr>),
    /// The inner expression does not hold (`!`).
    Not(Box<Expr>),
    /// One comparison.
    Pred(Pred),
}

/// One comparison: `field op value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pred {
    /// The record field compared.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// What the field is compared with.
    pub value: Value,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `field & mask` is non-zero.
    BitAnd,
    /// String glob match.
    Glob,
}

impl Op {
    /// The operator as the grammar (and the kernel) spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::BitAnd => "&",
            Op::Glob => "~",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer in `i64::MIN..=u64::MAX`.
    Int(i128),
    /// A string (quoted or a bare word).
    Str(String),
}

/// A filter that does not parse: what was expected, at which byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("filter: {kind} at offset {pos}{}", context(.input, *.pos))]
#[non_exhaustive]
pub struct ParseError {
    /// Byte offset in the filter text.
    pub pos: usize,
    /// What was wrong there.
    pub kind: ParseErrorKind,
    /// The whole filter text, for the caret display.
    pub input: String,
}

fn context(input: &str, pos: usize) -> String {
    let pos = pos.min(input.len());
    format!(
        "\n  {input}\n  {}^",
        " ".repeat(input[..pos].chars().count())
    )
}

/// Why a filter does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The filter is empty or only blanks.
    #[error("empty filter")]
    Empty,
    /// Something other than a field name where one must be.
    #[error("expected a field name")]
    ExpectedField,
    /// A field name not followed by an operator (the field).
    #[error("expected an operator (== != < <= > >= & ~) after field {0}")]
    ExpectedOp(String),
    /// An operator not followed by a value (the operator).
    #[error("expected a value after {0}")]
    ExpectedValue(&'static str),
    /// A quoted string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// An integer outside `i64::MIN..=u64::MAX` (as written).
    #[error("integer out of range: {0}")]
    IntRange(String),
    /// A malformed integer (as written).
    #[error("bad integer: {0}")]
    BadInt(String),
    /// A `(` without its `)`.
    #[error("expected )")]
    ExpectedClose,
    /// Text after a complete expression (the text).
    #[error("unexpected {0:?} after a complete expression")]
    Trailing(String),
    /// `~` with an integer (the operator).
    #[error("operator {0} needs a string value")]
    NeedsString(&'static str),
    /// `<`, `<=`, `>`, `>=` or `&` with a string (the operator).
    #[error("operator {0} needs an integer value")]
    NeedsInt(&'static str),
    /// Parentheses or `!` nested deeper than this limit.
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
}

impl Expr {
    /// Every predicate, left to right.
    pub fn preds(&self) -> Vec<&Pred> {
        let mut v = Vec::new();
        fn walk<'a>(e: &'a Expr, v: &mut Vec<&'a Pred>) {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, v);
                    walk(b, v);
                }
                Expr::Not(a) => walk(a, v),
                Expr::Pred(p) => v.push(p),
            }
        }
        walk(self, &mut v);
        v
    }

    fn prec(&self) -> u8 {
        match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            Expr::Not(_) | Expr::Pred(_) => 3,
        }
    }
}

fn write_side(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.prec() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Left-associative: the right side needs parentheses at equal precedence.
            Expr::Or(a, b) => {
                write_side(f, a, 1)?;
                f.write_str(" || ")?;
                write_side(f, b, 2)
            }
            Expr::And(a, b) => {
                write_side(f, a, 2)?;
                f.write_str(" && ")?;
                write_side(f, b, 3)
            }
            Expr::Not(a) => {
                f.write_str("!")?;
                write_side(f, a, 3)
            }
            Expr::Pred(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.field, self.op.as_str(), self.value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            // The kernel's grammar has no escapes: a string holding " is quoted with ', one
            // holding both quotes can only have been a bare word (as `a ~ !"'`), printed so.
            Value::Str(s) if s.contains('"') && s.contains('\'') => write!(f, "{s}"),
            Value::Str(s) if s.contains('"') => write!(f, "'{s}'"),
            Value::Str(s) => write!(f, "\"{s}\""),
        }
    }
}
