//! Parse a tracefs `format` file into a typed record layout.
//!
//! A format file describes one tracepoint's binary record:
//!
//! ```text
//! name: sched_process_exec
//! ID: 365
//! format:
//!     field:unsigned short common_type;    offset:0;    size:2;    signed:0;
//!     ...
//!
//!     field:__data_loc char[] filename;    offset:8;    size:4;    signed:0;
//!     field:pid_t pid;    offset:12;    size:4;    signed:1;
//!
//! print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
//! ```
//!
//! Every field becomes a [`Field`] whose [`FieldKind`] says how to decode its bytes. The C type
//! is kept verbatim; the kind is derived from it together with the kernel's own `size` and
//! `signed`, which are authoritative (a typedef such as `pid_t` needs no table). The `print fmt`
//! line is kept as text and never evaluated.
//!
//! Errors carry the 1-based line number of the offending line; no input makes the parser panic.

use std::fmt;

use crate::event_name::EventName;

/// The parsed layout of one tracepoint's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFormat {
    /// `system:name`. [`EventFormat::parse`] cannot know the system (the file only names the
    /// event), so it leaves `system` empty; [`crate::tracefs::Tracefs::format`] fills it in.
    pub name: EventName,
    /// The tracepoint id (`common_type` of its records, `attr.config` for perf).
    pub id: u32,
    /// The fields every record starts with (`common_type`, `common_pid`, ...).
    pub common_fields: Vec<Field>,
    /// The event's own fields.
    pub fields: Vec<Field>,
    /// The `print fmt:` line after the colon, verbatim (not evaluated).
    pub print_fmt: String,
}

/// One field of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field name, without any `[N]` suffix.
    pub name: String,
    /// The C type as the kernel prints it, array suffix included (`char[16]`,
    /// `__data_loc char[]`, `unsigned long[6]`).
    pub c_type: String,
    /// Byte offset from the start of the record.
    pub offset: usize,
    /// Size in bytes in the record (4 for `__data_loc`/`__rel_loc`; 0 for a flexible array).
    pub size: usize,
    /// The kernel's `signed:` flag (for arrays, of the element type).
    pub signed: bool,
    /// How to decode the field's bytes.
    pub kind: FieldKind,
}

/// How a field's bytes are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// An integer of 1, 2, 4 or 8 bytes, native byte order.
    Int {
        /// Its width.
        bytes: u8,
        /// Whether it is signed.
        signed: bool,
    },
    /// An `enum` type: an integer whose names live in the kernel, not in the format file.
    Enum {
        /// Its width.
        bytes: u8,
        /// Whether it is signed.
        signed: bool,
    },
    /// `bool` / `_Bool`.
    Bool,
    /// A pointer (any C type with a `*`), `bytes` wide.
    Pointer {
        /// Its width (8 on 64-bit kernels, 4 on 32-bit).
        bytes: u8,
    },
    /// `char name[N]`: a NUL-padded string of at most `len` bytes.
    CharArray {
        /// The array's length.
        len: usize,
    },
    /// `type name[N]` with fixed `len` elements of `elem`.
    Array {
        /// The element type.
        elem: Box<FieldKind>,
        /// The number of elements.
        len: usize,
    },
    /// `__data_loc type[] name`: a u32 whose low 16 bits are the offset of the data from the
    /// start of the record and whose high 16 bits are its length in bytes.
    DataLoc {
        /// The element type.
        elem: Box<FieldKind>,
        /// Whether it holds a NUL-terminated string (`char[]`).
        is_string: bool,
    },
    /// `__rel_loc type[] name`: like [`FieldKind::DataLoc`], but the offset is relative to the
    /// end of this 4-byte field.
    RelLoc {
        /// The element type.
        elem: Box<FieldKind>,
        /// Whether it holds a NUL-terminated string (`char[]`).
        is_string: bool,
    },
    /// `type name[]` with size 0: the rest of the record (ftrace's `print`, `bprint`...).
    FlexArray {
        /// The element type.
        elem: Box<FieldKind>,
        /// Whether it holds a NUL-terminated string (`char[]`).
        is_string: bool,
    },
    /// Bytes of a type this parser cannot interpret (a struct by value, an odd size).
    Opaque {
        /// Its size in bytes.
        size: usize,
    },
}

impl FieldKind {
    /// The size in bytes of one value of this kind, if it is fixed.
    pub fn fixed_size(&self) -> Option<usize> {
        match self {
            FieldKind::Int { bytes, .. }
            | FieldKind::Enum { bytes, .. }
            | FieldKind::Pointer { bytes } => Some(usize::from(*bytes)),
            FieldKind::Bool => Some(1),
            FieldKind::CharArray { len } => Some(*len),
            FieldKind::Array { elem, len } => elem.fixed_size().map(|s| s * len),
            FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } => Some(4),
            FieldKind::FlexArray { .. } => None,
            FieldKind::Opaque { size } => Some(*size),
        }
    }

    /// A short human name for the kind, as shown by `kpeek trace format`.
    pub fn describe(&self) -> String {
        match self {
            FieldKind::Int { bytes, signed } => {
                format!(
                    "{}{}",
                    if *signed { "s" } else { "u" },
                    u32::from(*bytes) * 8
                )
            }
            FieldKind::Enum { bytes, signed } => {
                format!(
                    "enum {}{}",
                    if *signed { "s" } else { "u" },
                    u32::from(*bytes) * 8
                )
            }
            FieldKind::Bool => "bool".into(),
            FieldKind::Pointer { .. } => "pointer".into(),
            FieldKind::CharArray { len } => format!("string[{len}]"),
            FieldKind::Array { elem, len } => format!("{}[{len}]", elem.describe()),
            FieldKind::DataLoc { elem, is_string } => dyn_describe("data_loc", elem, *is_string),
            FieldKind::RelLoc { elem, is_string } => dyn_describe("rel_loc", elem, *is_string),
            FieldKind::FlexArray { elem, is_string } => dyn_describe("flex", elem, *is_string),
            FieldKind::Opaque { size } => format!("bytes[{size}]"),
        }
    }
}

fn dyn_describe(what: &str, elem: &FieldKind, is_string: bool) -> String {
    if is_string {
        format!("{what} string")
    } else {
        format!("{what} {}[]", elem.describe())
    }
}

/// A format file that does not parse: what was wrong and on which line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct FormatError {
    /// 1-based line number (the line after the last one when something is missing at the end).
    pub line: usize,
    /// What was wrong.
    pub kind: FormatErrorKind,
}

/// What was wrong in a format file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatErrorKind {
    /// A line or key other than the one the grammar needs next.
    #[error("expected `{expected}`, found {found:?}")]
    Expected {
        /// What the grammar needs.
        expected: &'static str,
        /// What the file has.
        found: String,
    },
    /// A required line (`name:`, `ID:`, `format:`) is absent.
    #[error("missing `{0}` line")]
    Missing(&'static str),
    /// A key's value is not a number.
    #[error("bad number {value:?} for `{key}`")]
    BadNumber {
        /// The key (`ID`, `offset`, `size`, `signed`).
        key: &'static str,
        /// Its value as written.
        value: String,
    },
    /// A field declaration without a name.
    #[error("field declaration {0:?} has no name")]
    NoFieldName(String),
    /// A field whose offset plus size overflows.
    #[error("field `{name}` at offset {offset} with size {size} overflows")]
    Overflow {
        /// The field.
        name: String,
        /// Its offset.
        offset: usize,
        /// Its size.
        size: usize,
    },
    /// A field whose type, size and signedness disagree.
    #[error("field `{name}`: {what}")]
    BadField {
        /// The field.
        name: String,
        /// What is inconsistent about it.
        what: String,
    },
    /// Two fields with the same name.
    #[error("duplicate field `{0}`")]
    Duplicate(String),
    /// A line the grammar has no place for.
    #[error("unexpected line {0:?}")]
    Unexpected(String),
}

impl FormatError {
    fn new(line: usize, kind: FormatErrorKind) -> Self {
        FormatError { line, kind }
    }
}

/// Size of a C `long` and of pointers in the records of the running kernel.
const LONG_BYTES: u8 = std::mem::size_of::<usize>() as u8;

impl EventFormat {
    /// Parse the text of an `events/<system>/<name>/format` file.
    pub fn parse(text: &str) -> Result<EventFormat, FormatError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let end_line = text.lines().count() + 1;

        let name = expect_key(&mut lines, "name:", end_line)?;
        let (id_line, id_text) = expect_key_at(&mut lines, "ID:", end_line)?;
        let id = id_text.parse::<u32>().map_err(|_| {
            FormatError::new(
                id_line,
                FormatErrorKind::BadNumber {
                    key: "ID",
                    value: id_text.to_string(),
                },
            )
        })?;
        let (fmt_line, rest) = expect_key_at(&mut lines, "format:", end_line)?;
        if !rest.is_empty() {
            return Err(FormatError::new(
                fmt_line,
                FormatErrorKind::Unexpected(rest.to_string()),
            ));
        }

        // Groups of field lines separated by blank lines: the first is the common fields.
        let mut groups: Vec<Vec<(usize, Field)>> = vec![Vec::new()];
        let mut print_fmt = None;
        for (no, line) in lines.by_ref() {
            let t = line.trim();
            if t.is_empty() {
                if groups.last().is_some_and(|g| !g.is_empty()) {
                    groups.push(Vec::new());
                }
            } else if let Some(p) = t.strip_prefix("print fmt:") {
                // The format string may hold raw newlines: the rest of the file is print fmt.
                let mut text = p.trim_start().to_string();
                for (_, more) in lines.by_ref() {
                    text.push('\n');
                    text.push_str(more);
                }
                print_fmt = Some(text.trim_end().to_string());
                break;
            } else if t.starts_with("field") {
                let field = parse_field_line(t).map_err(|kind| FormatError::new(no, kind))?;
                if let Some(g) = groups.last_mut() {
                    g.push((no, field));
                }
            } else {
                return Err(FormatError::new(
                    no,
                    FormatErrorKind::Unexpected(t.to_string()),
                ));
            }
        }
        let print_fmt = print_fmt
            .ok_or_else(|| FormatError::new(end_line, FormatErrorKind::Missing("print fmt:")))?;

        groups.retain(|g| !g.is_empty());
        let mut common_fields = Vec::new();
        let mut fields = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let first_is_common = groups
            .first()
            .is_some_and(|g| g.iter().all(|(_, f)| f.name.starts_with("common_")));
        for (gi, group) in groups.into_iter().enumerate() {
            for (no, f) in group {
                if !seen.insert(f.name.clone()) {
                    return Err(FormatError::new(no, FormatErrorKind::Duplicate(f.name)));
                }
                let common = if first_is_common {
                    gi == 0
                } else {
                    f.name.starts_with("common_")
                };
                if common {
                    common_fields.push(f);
                } else {
                    fields.push(f);
                }
            }
        }

        Ok(EventFormat {
            name: EventName {
                system: String::new(),
                name,
            },
            id,
            common_fields,
            fields,
            print_fmt,
        })
    }

    /// A field (common or not) by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.common_fields
            .iter()
            .chain(&self.fields)
            .find(|f| f.name == name)
    }

    /// The smallest record that holds every fixed part of every field.
    pub fn min_record_size(&self) -> usize {
        self.common_fields
            .iter()
            .chain(&self.fields)
            .map(|f| f.offset + f.size)
            .max()
            .unwrap_or(0)
    }
}

fn expect_key_at<'a, I>(
    lines: &mut I,
    key: &'static str,
    end_line: usize,
) -> Result<(usize, &'a str), FormatError>
where
    I: Iterator<Item = (usize, &'a str)>,
{
    // Leading blank lines are tolerated.
    for (no, line) in lines.by_ref() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        return match t.strip_prefix(key) {
            Some(rest) => Ok((no, rest.trim())),
            None => Err(FormatError::new(
                no,
                FormatErrorKind::Expected {
                    expected: key,
                    found: t.to_string(),
                },
            )),
        };
    }
    Err(FormatError::new(end_line, FormatErrorKind::Missing(key)))
}

fn expect_key<'a, I>(
    lines: &mut I,
    key: &'static str,
    end_line: usize,
) -> Result<String, FormatError>
where
    I: Iterator<Item = (usize, &'a str)>,
{
    let (no, v) = expect_key_at(lines, key, end_line)?;
    if v.is_empty() {
        return Err(FormatError::new(
            no,
            FormatErrorKind::Expected {
                expected: "a name",
                found: String::new(),
            },
        ));
    }
    Ok(v.to_string())
}

/// Parse one `field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;` line (already trimmed).
///
/// Also used for `events/header_page`, whose lines have the same form.
pub fn parse_field_line(line: &str) -> Result<Field, FormatErrorKind> {
    let mut parts = line.split(';').map(str::trim);
    let decl = parts.next().unwrap_or("");
    let decl = decl
        .strip_prefix("field:")
        .or_else(|| decl.strip_prefix("field special:"))
        .ok_or_else(|| FormatErrorKind::Expected {
            expected: "field:",
            found: decl.to_string(),
        })?
        .trim();
    let mut offset = None;
    let mut size = None;
    let mut signed = None;
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let (key, value) = part
            .split_once(':')
            .ok_or_else(|| FormatErrorKind::Expected {
                expected: "key:value",
                found: part.to_string(),
            })?;
        let (key, slot) = match key.trim() {
            "offset" => ("offset", &mut offset),
            "size" => ("size", &mut size),
            "signed" => ("signed", &mut signed),
            other => {
                return Err(FormatErrorKind::Unexpected(other.to_string()));
            }
        };
        let value = value.trim();
        let n = value
            .parse::<usize>()
            .map_err(|_| FormatErrorKind::BadNumber {
                key,
                value: value.to_string(),
            })?;
        *slot = Some(n);
    }
    let offset = offset.ok_or(FormatErrorKind::Missing("offset:"))?;
    let size = size.ok_or(FormatErrorKind::Missing("size:"))?;
    let signed = match signed {
        None | Some(0) => false,
        Some(1) => true,
        Some(n) => {
            return Err(FormatErrorKind::BadNumber {
                key: "signed",
                value: n.to_string(),
            });
        }
    };
    let (c_type, name, array) = split_decl(decl)?;
    if offset
        .checked_add(size)
        .is_none_or(|end| end > u32::MAX as usize)
    {
        return Err(FormatErrorKind::Overflow { name, offset, size });
    }
    let kind = classify(&c_type, &name, &array, size, signed)?;
    let c_type = match array {
        ArraySuffix::None => c_type,
        ArraySuffix::Flexible => format!("{c_type}[]"),
        ArraySuffix::Len(n) => format!("{c_type}[{n}]"),
        ArraySuffix::Symbolic(s) => format!("{c_type}[{s}]"),
    };
    Ok(Field {
        name,
        c_type,
        offset,
        size,
        signed,
        kind,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ArraySuffix {
    None,
    Flexible,
    Len(usize),
    /// `[TASK_COMM_LEN]`: older kernels print the macro name; the size gives the length.
    Symbolic(String),
}

/// Split `unsigned long args[6]` into (`unsigned long`, `args`, Len(6)) and
/// `__data_loc char[] name` into (`__data_loc char[]`, `name`, None).
fn split_decl(decl: &str) -> Result<(String, String, ArraySuffix), FormatErrorKind> {
    let mut decl = decl.trim();
    let mut array = ArraySuffix::None;
    if let Some(open) = decl.strip_suffix(']').and_then(|d| d.rfind('[')) {
        let inner = decl[open + 1..decl.len() - 1].trim();
        array = if inner.is_empty() {
            ArraySuffix::Flexible
        } else if let Ok(n) = inner.parse::<usize>() {
            ArraySuffix::Len(n)
        } else {
            ArraySuffix::Symbolic(inner.to_string())
        };
        decl = decl[..open].trim_end();
    }
    // The name is the last identifier; everything before it is the type.
    let name_start = decl
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i);
    let Some(name_start) = name_start else {
        return Err(FormatErrorKind::NoFieldName(decl.to_string()));
    };
    let name = &decl[name_start..];
    let c_type = decl[..name_start].trim();
    if c_type.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(FormatErrorKind::NoFieldName(decl.to_string()));
    }
    Ok((normalize_type(c_type), name.to_string(), array))
}

/// Collapse runs of blanks (`const void * *` keeps its stars, spaces become single).
fn normalize_type(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_int_size(n: usize) -> bool {
    matches!(n, 1 | 2 | 4 | 8)
}

/// Type qualifiers that do not change the layout.
fn base_type(t: &str) -> &str {
    let mut t = t.trim();
    loop {
        let before = t;
        for q in ["const ", "volatile ", "signed "] {
            if let Some(r) = t.strip_prefix(q) {
                t = r.trim_start();
            }
        }
        if let Some(r) = t.strip_suffix(" const") {
            t = r.trim_end();
        }
        if t == before {
            return t;
        }
    }
}

fn is_char_type(t: &str) -> bool {
    matches!(base_type(t), "char")
}

/// The size of a scalar element type named in a dynamic array (`__data_loc u32[]`), which the
/// format file does not state. `None` for types this table does not know.
fn elem_size(t: &str) -> Option<(u8, bool)> {
    let t = base_type(t);
    if t.contains('*') {
        return Some((LONG_BYTES, false));
    }
    Some(match t {
        "char" | "unsigned char" | "u8" | "__u8" | "uint8_t" | "bool" | "_Bool" => (1, false),
        "s8" | "__s8" | "int8_t" => (1, true),
        "short" | "short int" | "s16" | "__s16" | "int16_t" => (2, true),
        "unsigned short" | "unsigned short int" | "u16" | "__u16" | "uint16_t" | "__be16"
        | "__le16" => (2, false),
        "int" | "s32" | "__s32" | "int32_t" | "pid_t" => (4, true),
        "unsigned" | "unsigned int" | "u32" | "__u32" | "uint32_t" | "__be32" | "__le32"
        | "uint" => (4, false),
        "long long" | "long long int" | "s64" | "__s64" | "int64_t" | "loff_t" => (8, true),
        "unsigned long long" | "u64" | "__u64" | "uint64_t" | "__be64" | "__le64" => (8, false),
        "long" | "long int" | "ssize_t" => (LONG_BYTES, true),
        "unsigned long" | "size_t" | "cpumask_t" | "unsigned long int" => (LONG_BYTES, false),
        _ => return None,
    })
}

fn scalar_kind(t: &str, bytes: usize, signed: bool) -> FieldKind {
    let b = base_type(t);
    if !is_int_size(bytes) {
        return FieldKind::Opaque { size: bytes };
    }
    let bytes = bytes as u8;
    if b.contains('*') {
        FieldKind::Pointer { bytes }
    } else if (b == "bool" || b == "_Bool") && bytes == 1 {
        FieldKind::Bool
    } else if b.starts_with("enum ") {
        FieldKind::Enum { bytes, signed }
    } else if b.starts_with("struct ") || b.starts_with("union ") {
        FieldKind::Opaque {
            size: usize::from(bytes),
        }
    } else {
        FieldKind::Int { bytes, signed }
    }
}

/// The kind of a dynamic array element named by `elem_type` (`char`, `u64`, `cpumask_t`).
fn dyn_elem(elem_type: &str, signed: bool) -> (FieldKind, bool) {
    if is_char_type(elem_type) {
        return (
            FieldKind::Int {
                bytes: 1,
                signed: false,
            },
            true,
        );
    }
    match elem_size(elem_type) {
        Some((bytes, table_signed)) => (
            scalar_kind(elem_type, usize::from(bytes), signed || table_signed),
            false,
        ),
        None => (FieldKind::Opaque { size: 1 }, false),
    }
}

fn classify(
    c_type: &str,
    name: &str,
    array: &ArraySuffix,
    size: usize,
    signed: bool,
) -> Result<FieldKind, FormatErrorKind> {
    let bad = |what: String| FormatErrorKind::BadField {
        name: name.to_string(),
        what,
    };
    // `__data_loc char[]` / `__rel_loc u8[]`; `__data_loc cpumask_t` (bitmasks) has no `[]`.
    for (prefix, rel) in [("__data_loc ", false), ("__rel_loc ", true)] {
        if let Some(rest) = c_type.strip_prefix(prefix) {
            if *array != ArraySuffix::None {
                return Err(bad("a dynamic field cannot also be a fixed array".into()));
            }
            if size != 4 {
                return Err(bad(format!("{prefix}field has size {size}, expected 4")));
            }
            let elem_type = rest.trim().strip_suffix("[]").unwrap_or(rest).trim();
            let (elem, is_string) = dyn_elem(elem_type, signed);
            let elem = Box::new(elem);
            return Ok(if rel {
                FieldKind::RelLoc { elem, is_string }
            } else {
                FieldKind::DataLoc { elem, is_string }
            });
        }
    }
    match array {
        ArraySuffix::None => Ok(scalar_kind(c_type, size, signed)),
        ArraySuffix::Flexible => {
            let (elem, is_string) = dyn_elem(c_type, signed);
            Ok(FieldKind::FlexArray {
                elem: Box::new(elem),
                is_string,
            })
        }
        ArraySuffix::Len(_) | ArraySuffix::Symbolic(_) if is_char_type(c_type) => {
            if let ArraySuffix::Len(len) = *array
                && len != size
            {
                return Err(bad(format!("char[{len}] has size {size}")));
            }
            Ok(FieldKind::CharArray { len: size })
        }
        ArraySuffix::Len(0) => Ok(FieldKind::Opaque { size }),
        &ArraySuffix::Len(len) => {
            if !size.is_multiple_of(len) {
                return Err(bad(format!(
                    "size {size} is not a multiple of {len} elements"
                )));
            }
            let elem = scalar_kind(c_type, size / len, signed);
            Ok(FieldKind::Array {
                elem: Box::new(elem),
                len,
            })
        }
        ArraySuffix::Symbolic(_) => match elem_size(c_type) {
            Some((b, _)) if size.is_multiple_of(usize::from(b)) => Ok(FieldKind::Array {
                elem: Box::new(scalar_kind(c_type, usize::from(b), signed)),
                len: size / usize::from(b),
            }),
            _ => Ok(FieldKind::Opaque { size }),
        },
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}; offset:{}; size:{}; signed:{}",
            self.c_type, self.name, self.offset, self.size, self.signed as u8
        )
    }
}

#[cfg(test)]
mod tests;
