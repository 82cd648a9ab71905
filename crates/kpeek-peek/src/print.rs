//! Printing values: debugger-style text and typed JSON.

use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use crate::value::Value;

/// Names a kernel address (`init_task`, `schedule+0x24`), or `None`.
pub type Symbolizer<'a> = &'a dyn Fn(u64) -> Option<String>;

/// Debugger-style text of `v`: integers in decimal, pointers in hex with their symbol, enums by
/// name, strings quoted, records and arrays nested and indented.
pub fn text(v: &Value, sym: Symbolizer<'_>) -> String {
    let mut s = String::new();
    write_text(&mut s, v, sym, 0);
    s
}

fn indent(s: &mut String, level: usize) {
    for _ in 0..level {
        s.push_str("  ");
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_text(s: &mut String, v: &Value, sym: Symbolizer<'_>, level: usize) {
    match v {
        Value::Signed(x) => {
            let _ = write!(s, "{x}");
        }
        Value::Unsigned(x) => {
            let _ = write!(s, "{x}");
        }
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Float(f) => {
            let _ = write!(s, "{f}");
        }
        Value::Ptr(0) => s.push_str("0x0"),
        Value::Ptr(p) => {
            let _ = write!(s, "{p:#x}");
            if let Some(n) = sym(*p) {
                let _ = write!(s, " <{n}>");
            }
        }
        Value::Enum {
            value,
            name: Some(n),
        } => {
            let _ = write!(s, "{n} ({value})");
        }
        Value::Enum { value, name: None } => {
            let _ = write!(s, "{value}");
        }
        Value::Str(t) => quote(s, t),
        Value::Elided(_) => s.push_str("{...}"),
        Value::More(n) => {
            let _ = write!(s, "...({n} more)");
        }
        Value::Opaque(t) => {
            let _ = write!(s, "<{t}>");
        }
        Value::Raw(b) => {
            let _ = write!(s, "(raw, {} byte(s))", b.len());
            for (i, x) in b.iter().enumerate() {
                if i % 16 == 0 {
                    s.push('\n');
                    indent(s, level + 1);
                    let _ = write!(s, "+{i:#06x}:");
                }
                let _ = write!(s, " {x:02x}");
            }
        }
        Value::Array(items) => {
            let simple = items
                .iter()
                .all(|i| !matches!(i, Value::Record(_) | Value::Array(_) | Value::Raw(_)));
            if simple {
                s.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write_text(s, item, sym, level);
                }
                s.push('}');
            } else {
                s.push_str("{\n");
                for (i, item) in items.iter().enumerate() {
                    indent(s, level + 1);
                    let _ = write!(s, "[{i}] = ");
                    write_text(s, item, sym, level + 1);
                    s.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(s, level);
                s.push('}');
            }
        }
        Value::Record(fields) => {
            s.push_str("{\n");
            for (i, (name, item)) in fields.iter().enumerate() {
                indent(s, level + 1);
                if !name.is_empty() {
                    let _ = write!(s, "{name} = ");
                }
                write_text(s, item, sym, level + 1);
                s.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            indent(s, level);
            s.push('}');
        }
        Value::PerCpu(items) => {
            s.push_str("{\n");
            for (i, (cpu, item)) in items.iter().enumerate() {
                indent(s, level + 1);
                let _ = write!(s, "[cpu{cpu}] = ");
                write_text(s, item, sym, level + 1);
                s.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(s, level);
            s.push('}');
        }
    }
}

/// The JSON of `v`: numbers, strings, arrays and objects following the type. Pointers are
/// numbers; enums their enumerator's name (or number); raw bytes an array of numbers; `@all` an
/// array indexed by CPU (null for CPUs not read).
pub fn json(v: &Value) -> Json {
    match v {
        Value::Signed(x) => json!(x),
        Value::Unsigned(x) | Value::Ptr(x) => json!(x),
        Value::Bool(b) => json!(b),
        Value::Float(f) => json!(f),
        Value::Enum { name: Some(n), .. } => json!(n),
        Value::Enum { value, name: None } => json!(value),
        Value::Str(s) => json!(s),
        Value::Elided(t) => json!({ "elided": t }),
        Value::More(n) => json!({ "more": n }),
        Value::Opaque(t) => json!({ "opaque": t }),
        Value::Raw(b) => json!(b),
        Value::Array(items) => Json::Array(items.iter().map(json).collect()),
        Value::Record(fields) => {
            let mut m = serde_json::Map::new();
            for (name, item) in fields {
                m.insert(name.clone(), json(item));
            }
            Json::Object(m)
        }
        Value::PerCpu(items) => {
            let n = items
                .iter()
                .map(|(c, _)| *c as usize + 1)
                .max()
                .unwrap_or(0);
            let mut out = vec![Json::Null; n];
            for (c, item) in items {
                out[*c as usize] = json(item);
            }
            Json::Array(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nosym(_: u64) -> Option<String> {
        None
    }

    #[test]
    fn debugger_style() {
        let v = Value::Record(vec![
            ("comm".into(), Value::Str("swapper/0".into())),
            ("prio".into(), Value::Signed(-20)),
            ("mm".into(), Value::Ptr(0)),
            (
                "state".into(),
                Value::Enum {
                    value: 1,
                    name: Some("TASK_RUNNING".into()),
                },
            ),
            (
                "a".into(),
                Value::Array(vec![Value::Unsigned(1), Value::Unsigned(2), Value::More(3)]),
            ),
            ("sub".into(), Value::Elided("struct x".into())),
        ]);
        let t = text(&v, &nosym);
        assert_eq!(
            t,
            "{\n  comm = \"swapper/0\",\n  prio = -20,\n  mm = 0x0,\n  state = TASK_RUNNING (1),\n  a = {1, 2, ...(3 more)},\n  sub = {...}\n}"
        );
        let sym = |a: u64| (a == 0xffffffff82a0c8c0).then(|| "init_task".to_string());
        assert_eq!(
            text(&Value::Ptr(0xffffffff82a0c8c0), &sym),
            "0xffffffff82a0c8c0 <init_task>"
        );
        assert_eq!(text(&Value::Str("a\"b\n".into()), &nosym), "\"a\\\"b\\n\"");
    }

    #[test]
    fn json_follows_the_type() {
        let v = Value::PerCpu(vec![(0, Value::Unsigned(3)), (2, Value::Unsigned(5))]);
        assert_eq!(json(&v), json!([3, null, 5]));
        let v = Value::Record(vec![
            ("x".into(), Value::Signed(-1)),
            ("s".into(), Value::Str("hi".into())),
        ]);
        assert_eq!(json(&v), json!({"x": -1, "s": "hi"}));
    }
}
