//! The recursive-descent parser.

use crate::{Expr, Op, ParseError, ParseErrorKind as K, Pred, Value};

/// Deepest nesting of `(` and `!` accepted (the parser recurses once per level).
const MAX_DEPTH: usize = 128;

/// Parse a filter expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: input,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.pos == input.len() {
        return Err(p.err(K::Empty));
    }
    let e = p.or()?;
    p.skip_ws();
    if p.pos < input.len() {
        let rest: String = input[p.pos..].chars().take(12).collect();
        return Err(p.err(K::Trailing(rest)));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, kind: K) -> ParseError {
        ParseError {
            pos: self.pos,
            kind,
            input: self.s.to_owned(),
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while self.eat("||") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        while self.eat("&&") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.depth >= MAX_DEPTH {
            return Err(self.err(K::TooDeep(MAX_DEPTH)));
        }
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.pos += 1;
            self.depth += 1;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        if self.eat("(") {
            self.depth += 1;
            let e = self.or();
            self.depth -= 1;
            let e = e?;
            if !self.eat(")") {
                return Err(self.err(K::ExpectedClose));
            }
            return Ok(e);
        }
        self.pred().map(Expr::Pred)
    }

    fn word(&mut self) -> &str {
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(r.len());
        let w = &self.s[self.pos..self.pos + n];
        self.pos += n;
        w
    }

    fn pred(&mut self) -> Result<Pred, ParseError> {
        self.skip_ws();
        let field = self.word().to_owned();
        if field.is_empty() || field.starts_with(|c: char| c.is_ascii_digit()) {
            self.pos -= field.len();
            return Err(self.err(K::ExpectedField));
        }
        self.skip_ws();
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("~", Op::Glob),
        ];
        let mut op = None;
        for (t, o) in ops {
            if self.rest().starts_with(t) {
                self.pos += t.len();
                op = Some(o);
                break;
            }
        }
        // `&` but not `&&` (which would end a predicate that lacks its operator).
        if op.is_none() && self.rest().starts_with('&') && !self.rest().starts_with("&&") {
            self.pos += 1;
            op = Some(Op::BitAnd);
        }
        let op = op.ok_or_else(|| self.err(K::ExpectedOp(field.clone())))?;
        self.skip_ws();
        let at = self.pos;
        let value = self.value(op)?;
        match (&value, op) {
            (Value::Int(_), Op::Glob) => {
                self.pos = at;
                Err(self.err(K::NeedsString(op.as_str())))
            }
            (Value::Str(_), Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::BitAnd) => {
                self.pos = at;
                Err(self.err(K::NeedsInt(op.as_str())))
            }
            _ => Ok(Pred { field, op, value }),
        }
    }

    fn value(&mut self, op: Op) -> Result<Value, ParseError> {
        let r = self.rest();
        if let Some(q) = r.chars().next().filter(|&c| c == '"' || c == '\'') {
            let Some(end) = r[1..].find(q) else {
                return Err(self.err(K::UnterminatedString));
            };
            let s = r[1..1 + end].to_owned();
            self.pos += end + 2;
            return Ok(Value::Str(s));
        }
        let neg = r.starts_with('-');
        if neg {
            self.pos += 1;
        }
        let start = self.pos;
        let w = self.word().to_owned();
        if w.is_empty() {
            // A bare glob such as *lo* is a string too.
            let r = self.rest();
            let n = r
                .find(|c: char| c.is_whitespace() || c == ')' || c == '&' || c == '|')
                .unwrap_or(r.len());
            if n > 0 && !neg {
                let s = r[..n].to_owned();
                self.pos += n;
                return Ok(Value::Str(s));
            }
            return Err(self.err(K::ExpectedValue(op.as_str())));
        }
        if !w.starts_with(|c: char| c.is_ascii_digit()) {
            if neg {
                self.pos = start;
                return Err(self.err(K::BadInt(format!("-{w}"))));
            }
            // Bare words (and bare globs) are strings, as in the kernel's grammar.
            let r = self.rest();
            let n = r
                .find(|c: char| c.is_whitespace() || c == ')' || c == '&' || c == '|')
                .unwrap_or(r.len());
            let s = format!("{w}{}", &r[..n]);
            self.pos += n;
            return Ok(Value::Str(s));
        }
        let (digits, radix) = if let Some(h) = w.strip_prefix("0x").or(w.strip_prefix("0X")) {
            (h, 16)
        } else if w.len() > 1 && w.starts_with('0') {
            (&w[1..], 8)
        } else {
            (w.as_str(), 10)
        };
        let bad = |p: &mut Self| {
            p.pos = start;
            p.err(K::BadInt(w.clone()))
        };
        if digits.is_empty() {
            return Err(bad(self));
        }
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(bad(self));
        }
        let range = |p: &mut Self| {
            p.pos = start;
            p.err(K::IntRange(format!("{}{w}", if neg { "-" } else { "" })))
        };
        let v = u128::from_str_radix(digits, radix).map_err(|_| range(self))?;
        let v = if neg { -(v as i128) } else { v as i128 };
        if v > u64::MAX as i128 || v < i64::MIN as i128 {
            return Err(range(self));
        }
        Ok(Value::Int(v))
    }
}
