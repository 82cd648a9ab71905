//! A decoded field value, printable lttng-style and serializable to JSON.

use std::fmt;

use serde::ser::{Serialize, SerializeSeq, Serializer};

/// One decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An unsigned integer (or an enum: its names are not in the format file).
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A `bool`.
    Bool(bool),
    /// A kernel address: shown as hex.
    Ptr(u64),
    /// A string (`char[N]`, `__data_loc char[]`): trailing NULs trimmed, invalid UTF-8
    /// replaced by U+FFFD.
    Str(String),
    /// Bytes of a type that has no better representation.
    Bytes(Vec<u8>),
    /// A fixed or dynamic array of scalars.
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned integer, if it is an integer, bool or pointer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) | Value::Ptr(v) => Some(v),
            Value::I64(v) => Some(v as u64),
            Value::Bool(b) => Some(u64::from(b)),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I64(v) => Some(v),
            Value::U64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The string, for [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::U64(v) => s.serialize_u64(*v),
            Value::I64(v) => s.serialize_i64(*v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Ptr(v) => s.collect_str(&format_args!("{v:#x}")),
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) => {
                let mut seq = s.serialize_seq(Some(b.len()))?;
                for x in b {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
        }
    }
}

/// lttng/babeltrace text: integers in decimal, pointers in hex, strings quoted and escaped,
/// arrays as `[ [0] = 1, [1] = 2 ]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Ptr(v) => write!(f, "{v:#x}"),
            Value::Str(v) => write_quoted(f, v),
            Value::Bytes(b) => write_seq(f, b.iter().map(|x| format!("{x:#04x}"))),
            Value::Array(a) => write_seq(f, a.iter()),
        }
    }
}

fn write_seq<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> fmt::Result {
    f.write_str("[")?;
    let mut any = false;
    for (i, x) in items.enumerate() {
        write!(f, "{} [{i}] = {x}", if i == 0 { "" } else { "," })?;
        any = true;
    }
    f.write_str(if any { " ]" } else { "]" })
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lttng_like() {
        assert_eq!(Value::U64(84).to_string(), "84");
        assert_eq!(Value::I64(-3).to_string(), "-3");
        assert_eq!(Value::Ptr(0xffff_8880_1234).to_string(), "0xffff88801234");
        assert_eq!(Value::Str("l\"o\n".into()).to_string(), r#""l\"o\n""#);
        assert_eq!(
            Value::Array(vec![Value::U64(1), Value::U64(2)]).to_string(),
            "[ [0] = 1, [1] = 2 ]"
        );
        assert_eq!(Value::Array(vec![]).to_string(), "[]");
        assert_eq!(Value::Bytes(vec![0xab]).to_string(), "[ [0] = 0xab ]");
    }

    #[test]
    fn json_types() {
        let v = Value::Array(vec![
            Value::U64(u64::MAX),
            Value::I64(-1),
            Value::Bool(true),
            Value::Ptr(0xdead),
            Value::Str("lo".into()),
            Value::Bytes(vec![1, 2]),
        ]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[18446744073709551615,-1,true,"0xdead","lo",[1,2]]"#
        );
    }
}
