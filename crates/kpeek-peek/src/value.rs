//! Decoding bytes read from the kernel into typed values.

use crate::error::{Error, ModelFault};
use crate::types::{Ty, TypeRef, Types};

/// Arrays longer than this show their first elements and how many more there are.
pub const MAX_ELEMENTS: u64 = 256;

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A signed integer.
    Signed(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// `_Bool`.
    Bool(bool),
    /// A floating-point number.
    Float(f64),
    /// A pointer.
    Ptr(u64),
    /// An enum: its value and, when it matches an enumerator, that name.
    Enum {
        /// The stored value.
        value: i64,
        /// The enumerator's name.
        name: Option<String>,
    },
    /// A `char` array, up to its first NUL.
    Str(String),
    /// An array (possibly cut: see [`Value::More`]).
    Array(Vec<Value>),
    /// A struct or union: members in order (anonymous members' members inline).
    Record(Vec<(String, Value)>),
    /// A nested record past `--depth`: its type name.
    Elided(String),
    /// The last element of a cut array: how many elements were left out.
    More(u64),
    /// Bytes with no type information.
    Raw(Vec<u8>),
    /// A value per CPU (`@all`), indexed by CPU number.
    PerCpu(Vec<(u32, Value)>),
    /// Something that has no printable value (a function, `void`).
    Opaque(String),
}

/// Where a bitfield sits in its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bits {
    /// First bit, counted from bit 0 of the first byte.
    pub offset: u32,
    /// Width.
    pub size: u32,
}

fn le_u64(b: &[u8]) -> u64 {
    let mut v = [0u8; 8];
    let n = b.len().min(8);
    v[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(v)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 0 || bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes `bytes` as a value of type `ty`; records nested deeper than `depth` are elided.
pub fn decode(
    types: &Types,
    ty: TypeRef,
    bytes: &[u8],
    bits: Option<Bits>,
    depth: u32,
) -> Result<Value, Error> {
    decode_at(types, ty, bytes, bits, depth, 0)
}

fn need(bytes: &[u8], n: u64) -> Result<&[u8], Error> {
    usize::try_from(n).ok().and_then(|n| bytes.get(..n)).ok_or({
        Error::Type(ModelFault::Short {
            need: n,
            got: bytes.len(),
        })
    })
}

fn int_bits(bytes: &[u8], size: u32, bits: Option<Bits>) -> Result<u64, Error> {
    match bits {
        None => Ok(le_u64(need(bytes, u64::from(size))?)),
        Some(b) => {
            let nbytes = (b.offset + b.size).div_ceil(8);
            if b.size == 0 || b.size > 64 || nbytes > 16 {
                return Err(Error::Type(ModelFault::Bitfield {
                    offset: b.offset,
                    size: b.size,
                }));
            }
            let raw = need(bytes, u64::from(nbytes))?;
            let mut v = [0u8; 16];
            v[..raw.len()].copy_from_slice(raw);
            let whole = u128::from_le_bytes(v) >> b.offset;
            let mask = if b.size == 64 {
                u64::MAX
            } else {
                (1u64 << b.size) - 1
            };
            Ok((whole as u64) & mask)
        }
    }
}

fn decode_at(
    types: &Types,
    ty: TypeRef,
    bytes: &[u8],
    bits: Option<Bits>,
    depth: u32,
    level: u32,
) -> Result<Value, Error> {
    if level > 64 {
        return Err(Error::Type(ModelFault::TooDeep));
    }
    let (r, t) = types.resolve(ty)?;
    Ok(match t {
        Ty::Int {
            size,
            signed,
            is_bool,
            ..
        } => {
            let v = int_bits(bytes, size, bits)?;
            let width = bits.map_or(size * 8, |b| b.size);
            if is_bool {
                Value::Bool(v != 0)
            } else if signed {
                Value::Signed(sign_extend(v, width))
            } else {
                Value::Unsigned(v)
            }
        }
        Ty::Enum {
            size,
            signed,
            values,
            ..
        } => {
            let raw = int_bits(bytes, size, bits)?;
            let width = bits.map_or(size * 8, |b| b.size);
            let value = if signed {
                sign_extend(raw, width)
            } else {
                raw as i64
            };
            let name = values
                .iter()
                .find(|(_, v)| *v == value)
                .map(|(n, _)| n.clone());
            Value::Enum { value, name }
        }
        Ty::Float { size, .. } => {
            let b = need(bytes, u64::from(size))?;
            match size {
                4 => Value::Float(f64::from(f32::from_le_bytes(
                    b.try_into().expect("4 bytes"),
                ))),
                8 => Value::Float(f64::from_le_bytes(b.try_into().expect("8 bytes"))),
                _ => Value::Raw(b.to_vec()),
            }
        }
        Ty::Ptr(_) => Value::Ptr(le_u64(need(bytes, types.ptr_size())?)),
        Ty::Array { elem, len } => {
            let esize = types.size_of(elem)?;
            let (_, et) = types.resolve(elem)?;
            if let Ty::Int {
                is_char: true,
                size: 1,
                ..
            } = et
            {
                let b = need(bytes, len)?;
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                return Ok(Value::Str(String::from_utf8_lossy(&b[..end]).into_owned()));
            }
            let shown = len.min(MAX_ELEMENTS);
            let mut out = Vec::with_capacity(shown as usize);
            for i in 0..shown {
                let off = usize::try_from(i * esize)
                    .map_err(|_| Error::Type(ModelFault::ArrayTooLarge))?;
                let b = bytes.get(off..).ok_or(Error::Type(ModelFault::ArrayPast))?;
                out.push(decode_at(types, elem, b, None, depth, level + 1)?);
            }
            if len > shown {
                out.push(Value::More(len - shown));
            }
            Value::Array(out)
        }
        Ty::Record { .. } if depth == 0 => Value::Elided(types.name(r)),
        Ty::Record { members, .. } => {
            let mut out = Vec::with_capacity(members.len());
            for m in members {
                let byte = usize::try_from(m.bit_offset / 8)
                    .map_err(|_| Error::Type(ModelFault::MemberOffset))?;
                let b = bytes
                    .get(byte..)
                    .ok_or(Error::Type(ModelFault::MemberPast))?;
                let mbits = m.bit_size.map(|size| Bits {
                    offset: (m.bit_offset % 8) as u32,
                    size,
                });
                match m.name {
                    Some(name) => out.push((
                        name,
                        decode_at(types, m.ty, b, mbits, depth - 1, level + 1)?,
                    )),
                    None => match decode_at(types, m.ty, b, None, depth, level + 1)? {
                        // Anonymous struct/union: its members belong to the parent.
                        Value::Record(inner) => out.extend(inner),
                        other => out.push((String::new(), other)),
                    },
                }
            }
            Value::Record(out)
        }
        Ty::Fwd { .. } | Ty::Void | Ty::Func => Value::Opaque(types.name(r)),
        Ty::Typedef { .. } | Ty::Qualified { .. } => unreachable!("resolved"),
    })
}

impl Value {
    /// The value as a number, for `@sum` and `--watch` rates.
    pub fn as_number(&self) -> Option<i128> {
        match self {
            Value::Signed(v) => Some(i128::from(*v)),
            Value::Unsigned(v) => Some(i128::from(*v)),
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Enum { value, .. } => Some(i128::from(*value)),
            _ => None,
        }
    }
}
