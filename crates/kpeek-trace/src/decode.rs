//! Decode a raw tracepoint record into typed [`Value`]s, following an [`EventFormat`].
//!
//! Every access is bounds-checked: a record shorter than its layout, or a `__data_loc` /
//! `__rel_loc` descriptor that points outside the record, is a [`DecodeError`], never a panic.
//! Integers are in the byte order of the running kernel (native).

use crate::format::{EventFormat, Field, FieldKind};
use crate::value::Value;

/// A record that does not fit its event's layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("field `{field}` needs bytes {start}..{end} but the record has {len} bytes")]
    /// A fixed field reaches past the end of the record.
    Truncated {
        /// The field.
        field: String,
        /// Its first byte.
        start: usize,
        /// One past its last byte.
        end: usize,
        /// The record's length.
        len: usize,
    },
    #[error("dynamic field `{field}` points at bytes {start}..{end} outside the {len}-byte record")]
    /// A `__data_loc`/`__rel_loc` field points outside the record.
    OutOfBounds {
        /// The field.
        field: String,
        /// The first byte it points at.
        start: usize,
        /// One past the last byte it points at.
        end: usize,
        /// The record's length.
        len: usize,
    },
    #[error("dynamic field `{field}` has {len} bytes, not a multiple of its {elem}-byte elements")]
    /// A dynamic array whose length is not a whole number of elements.
    Ragged {
        /// The field.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The size of one element.
        elem: usize,
    },
}

impl EventFormat {
    /// Decode the event's own (non-common) fields of a raw record (a `PERF_SAMPLE_RAW` payload
    /// or a ring-buffer event body: both start with the common fields).
    pub fn decode(&self, raw: &[u8]) -> Result<Vec<(&str, Value)>, DecodeError> {
        decode_fields(&self.fields, raw)
    }

    /// Decode the common fields (`common_type`, `common_flags`, `common_preempt_count`,
    /// `common_pid`) of a raw record.
    pub fn decode_common(&self, raw: &[u8]) -> Result<Vec<(&str, Value)>, DecodeError> {
        decode_fields(&self.common_fields, raw)
    }
}

impl EventFormat {
    /// Like [`EventFormat::decode`], but into `out` (cleared first), so a hot loop reuses one
    /// vector instead of allocating per record.
    pub fn decode_into<'f>(
        &'f self,
        raw: &[u8],
        out: &mut Vec<(&'f str, Value)>,
    ) -> Result<(), DecodeError> {
        out.clear();
        for f in &self.fields {
            out.push((f.name.as_str(), decode_field(f, raw)?));
        }
        Ok(())
    }
}

fn decode_fields<'f>(
    fields: &'f [Field],
    raw: &[u8],
) -> Result<Vec<(&'f str, Value)>, DecodeError> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push((f.name.as_str(), decode_field(f, raw)?));
    }
    Ok(out)
}

/// Decode one field of a raw record.
pub fn decode_field(field: &Field, raw: &[u8]) -> Result<Value, DecodeError> {
    let fixed = slice(field, raw, field.offset, field.size, false)?;
    match &field.kind {
        FieldKind::DataLoc { elem, is_string } | FieldKind::RelLoc { elem, is_string } => {
            let desc = read_uint(fixed, 4) as u32;
            let mut start = (desc & 0xffff) as usize;
            let len = (desc >> 16) as usize;
            if matches!(field.kind, FieldKind::RelLoc { .. }) {
                // Relative to the end of the 4-byte descriptor.
                start += field.offset + field.size;
            }
            let bytes = slice(field, raw, start, len, true)?;
            dynamic(field, elem, *is_string, bytes)
        }
        FieldKind::FlexArray { elem, is_string } => {
            let bytes = raw.get(field.offset..).unwrap_or_default();
            // Trailing padding that does not make a whole element is not data.
            let elem_size = elem.fixed_size().unwrap_or(1).max(1);
            let whole = bytes.len() - bytes.len() % elem_size;
            dynamic(field, elem, *is_string, &bytes[..whole])
        }
        kind => Ok(scalar_or_array(kind, fixed)),
    }
}

fn slice<'r>(
    field: &Field,
    raw: &'r [u8],
    start: usize,
    len: usize,
    dynamic: bool,
) -> Result<&'r [u8], DecodeError> {
    let end = start.saturating_add(len);
    raw.get(start..end).ok_or_else(|| {
        let (field, len) = (field.name.clone(), raw.len());
        if dynamic {
            DecodeError::OutOfBounds {
                field,
                start,
                end,
                len,
            }
        } else {
            DecodeError::Truncated {
                field,
                start,
                end,
                len,
            }
        }
    })
}

fn dynamic(
    field: &Field,
    elem: &FieldKind,
    is_string: bool,
    bytes: &[u8],
) -> Result<Value, DecodeError> {
    if is_string {
        return Ok(Value::Str(c_string(bytes)));
    }
    let size = elem.fixed_size().unwrap_or(1).max(1);
    if let FieldKind::Opaque { .. } = elem {
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    if !bytes.len().is_multiple_of(size) {
        return Err(DecodeError::Ragged {
            field: field.name.clone(),
            len: bytes.len(),
            elem: size,
        });
    }
    Ok(Value::Array(
        bytes
            .chunks_exact(size)
            .map(|c| scalar_or_array(elem, c))
            .collect(),
    ))
}

/// Decode a fixed-size kind from exactly its bytes (the caller checked the length).
fn scalar_or_array(kind: &FieldKind, b: &[u8]) -> Value {
    match kind {
        FieldKind::Int { bytes, signed } | FieldKind::Enum { bytes, signed } => {
            let n = usize::from(*bytes).min(b.len());
            let v = read_uint(b, n);
            if *signed {
                Value::I64(sign_extend(v, n))
            } else {
                Value::U64(v)
            }
        }
        FieldKind::Bool => Value::Bool(b.iter().any(|&x| x != 0)),
        FieldKind::Pointer { bytes } => Value::Ptr(read_uint(b, usize::from(*bytes).min(b.len()))),
        FieldKind::CharArray { .. } => Value::Str(c_string(b)),
        FieldKind::Array { elem, .. } => {
            let size = elem.fixed_size().unwrap_or(1).max(1);
            Value::Array(
                b.chunks_exact(size)
                    .map(|c| scalar_or_array(elem, c))
                    .collect(),
            )
        }
        FieldKind::Opaque { .. }
        | FieldKind::DataLoc { .. }
        | FieldKind::RelLoc { .. }
        | FieldKind::FlexArray { .. } => Value::Bytes(b.to_vec()),
    }
}

/// Native-endian unsigned integer from the first `n` (1, 2, 4 or 8) bytes of `b`.
fn read_uint(b: &[u8], n: usize) -> u64 {
    let mut buf = [0u8; 8];
    let n = n.min(8).min(b.len());
    if cfg!(target_endian = "little") {
        buf[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(buf)
    } else {
        buf[8 - n..].copy_from_slice(&b[..n]);
        u64::from_be_bytes(buf)
    }
}

fn sign_extend(v: u64, n: usize) -> i64 {
    if n == 0 || n >= 8 {
        return v as i64;
    }
    let shift = 64 - 8 * n as u32;
    ((v << shift) as i64) >> shift
}

/// The bytes up to the first NUL, as text.
fn c_string(b: &[u8]) -> String {
    let end = memchr::memchr(0, b).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FMT: &str = "name: t
ID: 7
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:short s;\toffset:16;\tsize:2;\tsigned:1;
\tfield:__data_loc char[] name;\toffset:20;\tsize:4;\tsigned:0;
\tfield:__rel_loc u16[] vals;\toffset:24;\tsize:4;\tsigned:0;
\tfield:char comm[4];\toffset:28;\tsize:4;\tsigned:0;

print fmt: \"\"
";

    fn record() -> Vec<u8> {
        let mut r = vec![0u8; 32];
        r[0..2].copy_from_slice(&7u16.to_ne_bytes());
        r[4..8].copy_from_slice(&(-5i32).to_ne_bytes());
        r[8..16].copy_from_slice(&0xffff_8880_0000_1234u64.to_ne_bytes());
        r[16..18].copy_from_slice(&(-2i16).to_ne_bytes());
        // name: "lo\0" at 32, length 3
        r[20..24].copy_from_slice(&((3u32 << 16) | 32).to_ne_bytes());
        // vals: two u16 at 35 = 28 (end of descriptor) + 7
        r[24..28].copy_from_slice(&((4u32 << 16) | 7).to_ne_bytes());
        r[28..32].copy_from_slice(b"ab\0\0");
        r.extend_from_slice(b"lo\0");
        r.extend_from_slice(&1u16.to_ne_bytes());
        r.extend_from_slice(&65535u16.to_ne_bytes());
        r
    }

    #[test]
    fn decodes_every_kind() {
        let f = EventFormat::parse(FMT).unwrap();
        let r = record();
        let common = f.decode_common(&r).unwrap();
        assert_eq!(
            common,
            vec![
                ("common_type", Value::U64(7)),
                ("common_pid", Value::I64(-5))
            ]
        );
        let v = f.decode(&r).unwrap();
        assert_eq!(
            v,
            vec![
                ("skbaddr", Value::Ptr(0xffff_8880_0000_1234)),
                ("s", Value::I64(-2)),
                ("name", Value::Str("lo".into())),
                ("vals", Value::Array(vec![Value::U64(1), Value::U64(65535)])),
                ("comm", Value::Str("ab".into())),
            ]
        );
    }

    #[test]
    fn truncated_and_out_of_bounds_are_errors() {
        let f = EventFormat::parse(FMT).unwrap();
        let r = record();
        for cut in 0..r.len() {
            // Every prefix is either decodable or a clean error.
            let _ = f.decode(&r[..cut]);
        }
        assert!(matches!(
            f.decode(&r[..20]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut bad = r.clone();
        bad[20..24].copy_from_slice(&((100u32 << 16) | 30).to_ne_bytes());
        let e = f.decode(&bad).unwrap_err();
        assert!(matches!(e, DecodeError::OutOfBounds { ref field, .. } if field == "name"));
        assert!(e.to_string().contains("name"), "{e}");
        let mut ragged = r;
        ragged[24..28].copy_from_slice(&((3u32 << 16) | 7).to_ne_bytes());
        assert!(matches!(f.decode(&ragged), Err(DecodeError::Ragged { .. })));
    }

    #[test]
    fn decode_into_reuses_the_vector() {
        let f = EventFormat::parse(FMT).unwrap();
        let r = record();
        let mut out = Vec::new();
        f.decode_into(&r, &mut out).unwrap();
        assert_eq!(out, f.decode(&r).unwrap());
        f.decode_into(&r, &mut out).unwrap();
        assert_eq!(out.len(), 5);
        assert!(f.decode_into(&r[..10], &mut out).is_err());
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0xff, 1), -1);
        assert_eq!(sign_extend(0x7f, 1), 127);
        assert_eq!(sign_extend(0xffff_fffe, 4), -2);
        assert_eq!(sign_extend(u64::MAX, 8), -1);
    }
}
