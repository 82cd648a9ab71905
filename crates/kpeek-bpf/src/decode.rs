//! Decoding map keys and values: with the map's BTF (exact), or guessed from sizes and bytes.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use libbpf_rs::btf::types::{Array, Composite, Enum, Enum64, Int, IntEncoding, MemberAttr};
use libbpf_rs::btf::{Btf, BtfKind, BtfType, HasSize, TypeId};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result, from_ret, sys};

/// A decoded key or value.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A `bool`.
    Bool(bool),
    /// A `float` or `double`.
    Float(f64),
    /// A `char` array, up to its first NUL.
    Str(String),
    /// Enum constant name (or the number when no constant matches).
    Enum(String),
    /// A pointer's value.
    Ptr(u64),
    /// An array's elements.
    Array(Vec<Decoded>),
    /// A struct's or union's fields, by name.
    Struct(Vec<(String, Decoded)>),
    /// Bytes kpeek cannot interpret.
    Bytes(Vec<u8>),
}

impl Serialize for Decoded {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Decoded::Int(v) => s.serialize_i64(*v),
            Decoded::UInt(v) => s.serialize_u64(*v),
            Decoded::Bool(v) => s.serialize_bool(*v),
            Decoded::Float(v) => s.serialize_f64(*v),
            Decoded::Str(v) | Decoded::Enum(v) => s.serialize_str(v),
            Decoded::Ptr(v) => s.serialize_str(&format!("{v:#x}")),
            Decoded::Array(v) => v.serialize(s),
            Decoded::Struct(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Decoded::Bytes(b) => s.serialize_str(&hex(b)),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl std::fmt::Display for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decoded::Int(v) => write!(f, "{v}"),
            Decoded::UInt(v) => write!(f, "{v}"),
            Decoded::Bool(v) => write!(f, "{v}"),
            Decoded::Float(v) => write!(f, "{v}"),
            Decoded::Str(v) => write!(f, "{v:?}"),
            Decoded::Enum(v) => f.write_str(v),
            Decoded::Ptr(v) => write!(f, "{v:#x}"),
            Decoded::Bytes(b) => write!(f, "[{}]", hex(b)),
            Decoded::Array(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Decoded::Struct(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// The sum of per-CPU integer values (`None` when they are not plain integers).
pub fn sum(per_cpu: &[Decoded]) -> Option<Decoded> {
    let mut u: u64 = 0;
    let mut i: i64 = 0;
    let mut signed = false;
    for v in per_cpu {
        match v {
            Decoded::UInt(x) => u = u.wrapping_add(*x),
            Decoded::Int(x) => {
                signed = true;
                i = i.wrapping_add(*x)
            }
            _ => return None,
        }
    }
    Some(if signed {
        Decoded::Int(i.wrapping_add(u as i64))
    } else {
        Decoded::UInt(u)
    })
}

fn uint(b: &[u8]) -> Option<u64> {
    Some(match b.len() {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_ne_bytes(b.try_into().ok()?)),
        4 => u64::from(u32::from_ne_bytes(b.try_into().ok()?)),
        8 => u64::from_ne_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

/// A NUL-terminated printable string filling the bytes (zero padding after the NUL).
fn as_cstr(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0)?;
    let (s, pad) = b.split_at(end);
    (!s.is_empty() && s.iter().all(|c| (0x20..0x7f).contains(c)) && pad.iter().all(|&c| c == 0))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

/// Guess without BTF: 1/2/4/8 bytes are an unsigned integer; a NUL-padded printable string
/// is a string; a key of several u64 words is an array of them; anything else is bytes.
pub fn guess(b: &[u8], is_key: bool) -> Decoded {
    if let Some(v) = uint(b) {
        return Decoded::UInt(v);
    }
    if let Some(s) = as_cstr(b) {
        return Decoded::Str(s);
    }
    if b.len().is_multiple_of(8) && !b.is_empty() && (!is_key || b.len() <= 64) {
        return Decoded::Array(
            b.chunks_exact(8)
                .map(|c| Decoded::UInt(uint(c).unwrap_or(0)))
                .collect(),
        );
    }
    Decoded::Bytes(b.to_vec())
}

/// Load a BTF object of the kernel by id (a map's or program's), as libbpf's parser reads it.
pub fn map_btf(id: u32) -> Result<Btf<'static>> {
    // SAFETY: plain integer argument; returns an fd or -errno.
    let fd = unsafe { libbpf_sys::bpf_btf_get_fd_by_id(id) };
    if fd < 0 {
        return Err(from_ret("opening a BTF object by id", fd));
    }
    // SAFETY: a new fd nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = libbpf_sys::bpf_btf_info::default();
    let mut len = size_of::<libbpf_sys::bpf_btf_info>() as u32;
    // SAFETY: info is zeroed (no buffer pointers), len is its size; the kernel fills btf_size.
    let r = unsafe { libbpf_sys::bpf_btf_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    if r < 0 {
        return Err(from_ret("reading BTF info", r));
    }
    let mut data = vec![0u8; info.btf_size as usize];
    let mut info2 = libbpf_sys::bpf_btf_info {
        btf: data.as_mut_ptr() as u64,
        btf_size: data.len() as u32,
        ..Default::default()
    };
    let mut len = size_of::<libbpf_sys::bpf_btf_info>() as u32;
    // SAFETY: info2.btf points to btf_size writable bytes of `data`, which outlives the call.
    let r = unsafe { libbpf_sys::bpf_btf_get_info_by_fd(fd.as_raw_fd(), &mut info2, &mut len) };
    if r < 0 {
        return Err(from_ret("reading BTF data", r));
    }
    // libbpf parses BTF from a path: hand it an anonymous memory file.
    let mut f = memfd(&data)?;
    f.flush().map_err(|e| sys("writing BTF to a memfd", e))?;
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    Btf::from_path(&path).map_err(|e| Error::Sys {
        op: "parsing a map's BTF",
        source: std::io::Error::other(e.to_string()),
    })
}

fn memfd(data: &[u8]) -> Result<std::fs::File> {
    // SAFETY: a valid NUL-terminated name and flags; returns an fd or -1.
    let fd = unsafe { libc::memfd_create(c"kpeek-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(sys("memfd_create", std::io::Error::last_os_error()));
    }
    // SAFETY: a new fd nothing else owns.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.write_all(data)
        .map_err(|e| sys("writing BTF to a memfd", e))?;
    Ok(f)
}

/// Decode `b` as BTF type `id`.
pub fn with_btf(btf: &Btf<'_>, id: u32, b: &[u8]) -> Decoded {
    decode(btf, TypeId::from(id), b, 0)
}

fn decode(btf: &Btf<'_>, id: TypeId, b: &[u8], depth: usize) -> Decoded {
    let Some(t) = btf.type_by_id::<BtfType<'_>>(id) else {
        return Decoded::Bytes(b.to_vec());
    };
    let t = t.skip_mods_and_typedefs();
    if depth > 16 {
        return Decoded::Bytes(b.to_vec());
    }
    match t.kind() {
        BtfKind::Int => {
            let Ok(i) = Int::try_from(t) else {
                return Decoded::Bytes(b.to_vec());
            };
            let n = usize::from(i.bits).div_ceil(8);
            let Some(v) = b.get(..n).and_then(uint) else {
                return Decoded::Bytes(b.to_vec());
            };
            match i.encoding {
                IntEncoding::Bool => Decoded::Bool(v != 0),
                IntEncoding::Signed => {
                    let sh = 64 - 8 * n as u32;
                    Decoded::Int(((v << sh) as i64) >> sh)
                }
                _ => Decoded::UInt(v),
            }
        }
        BtfKind::Ptr => Decoded::Ptr(b.get(..8).and_then(uint).unwrap_or(0)),
        BtfKind::Enum | BtfKind::Enum64 => {
            let v = uint(b).unwrap_or(0) as i64;
            let name = if let Ok(e) = Enum::try_from(t) {
                e.iter()
                    .find(|m| m.value == v || m.value as u32 as i64 == v)
                    .and_then(|m| m.name)
                    .map(|n| n.to_string_lossy().into_owned())
            } else if let Ok(e) = Enum64::try_from(t) {
                e.iter()
                    .find(|m| m.value as i64 == v)
                    .and_then(|m| m.name)
                    .map(|n| n.to_string_lossy().into_owned())
            } else {
                None
            };
            Decoded::Enum(name.unwrap_or_else(|| v.to_string()))
        }
        BtfKind::Array => {
            let Ok(a) = Array::try_from(t) else {
                return Decoded::Bytes(b.to_vec());
            };
            let elem = a.contained_type().skip_mods_and_typedefs();
            let n = a.capacity();
            if n == 0 {
                return Decoded::Array(Vec::new());
            }
            let esz = b.len() / n;
            // char[N]: a string when it looks like one.
            let bytes_elem = Int::try_from(elem).is_ok_and(|i| i.bits == 8);
            if bytes_elem && let Some(s) = as_cstr(b) {
                return Decoded::Str(s);
            }
            Decoded::Array(
                b.chunks(esz.max(1))
                    .take(n)
                    .map(|c| decode(btf, elem.type_id(), c, depth + 1))
                    .collect(),
            )
        }
        BtfKind::Struct | BtfKind::Union => {
            let Ok(c) = Composite::try_from(t) else {
                return Decoded::Bytes(b.to_vec());
            };
            let mut fields = Vec::new();
            for m in c.iter() {
                let (off, bits) = match m.attr {
                    MemberAttr::Normal { offset } => (offset as usize / 8, None),
                    MemberAttr::BitField { size, offset } => {
                        (offset as usize / 8, Some((size, offset % 8)))
                    }
                };
                let name = m
                    .name
                    .unwrap_or(OsStr::new(""))
                    .to_string_lossy()
                    .into_owned();
                let mt = btf
                    .type_by_id::<BtfType<'_>>(m.ty)
                    .map(|t| t.skip_mods_and_typedefs());
                let size = mt.as_ref().and_then(type_size).unwrap_or(0);
                let Some(bytes) = b.get(off..(off + size).min(b.len())) else {
                    continue;
                };
                let v = match bits {
                    Some((width, shift)) => {
                        let mut w = [0u8; 8];
                        let n = bytes.len().min(8);
                        w[..n].copy_from_slice(&bytes[..n]);
                        let raw = u64::from_le_bytes(w) >> shift;
                        Decoded::UInt(if width >= 64 {
                            raw
                        } else {
                            raw & ((1u64 << width) - 1)
                        })
                    }
                    None => decode(btf, m.ty, bytes, depth + 1),
                };
                fields.push((name, v));
            }
            Decoded::Struct(fields)
        }
        BtfKind::Float => match b.len() {
            4 => Decoded::Float(f64::from(f32::from_ne_bytes(
                b.try_into().unwrap_or([0; 4]),
            ))),
            8 => Decoded::Float(f64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))),
            _ => Decoded::Bytes(b.to_vec()),
        },
        _ => Decoded::Bytes(b.to_vec()),
    }
}

fn type_size(t: &BtfType<'_>) -> Option<usize> {
    let t = t.skip_mods_and_typedefs();
    match t.kind() {
        BtfKind::Int => Int::try_from(t)
            .ok()
            .map(|i| usize::from(i.bits).div_ceil(8)),
        BtfKind::Ptr => Some(8),
        BtfKind::Enum => Enum::try_from(t).ok().map(|e| e.size()),
        BtfKind::Enum64 => Enum64::try_from(t).ok().map(|e| e.size()),
        BtfKind::Struct | BtfKind::Union => Composite::try_from(t).ok().map(|c| c.size()),
        BtfKind::Array => Array::try_from(t)
            .ok()
            .and_then(|a| type_size(&a.contained_type()).map(|s| s * a.capacity())),
        BtfKind::Float => t
            .try_into()
            .ok()
            .map(|f: libbpf_rs::btf::types::Float<'_>| f.size()),
        _ => None,
    }
}
