//! Made-up types and memory for property tests and fuzzing of the walker and the decoder.

use crate::error::Error;
use crate::types::{Member, RecordKind, Ty, TypeRef, Types};
use crate::walk::Memory;

/// Memory backed by a byte vector at a fixed base address; anything else faults.
pub struct VecMemory {
    /// Address of `bytes[0]`.
    pub base: u64,
    /// The contents.
    pub bytes: Vec<u8>,
}

impl Memory for VecMemory {
    fn name(&self) -> &'static str {
        "test"
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        let fault = || Error::Fault {
            addr,
            len: buf.len(),
            what: String::new(),
        };
        let off =
            usize::try_from(addr.checked_sub(self.base).ok_or_else(fault)?).map_err(|_| fault())?;
        let end = off.checked_add(buf.len()).ok_or_else(fault)?;
        let src = self.bytes.get(off..end).ok_or_else(fault)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl crate::via::Backend for VecMemory {}

/// Builds a set of types from arbitrary bytes: each 4-byte group makes one type whose references
/// point at earlier (or, sometimes, later: cycles through pointers) types. Member names are
/// `a`..`h`. Returns the types and the last one made.
pub fn types_from_bytes(data: &[u8]) -> (Types, Vec<TypeRef>) {
    let types = Types::new();
    let mut made: Vec<TypeRef> = Vec::new();
    let int = types.synth(Ty::Int {
        name: "int".into(),
        size: 4,
        signed: true,
        is_char: false,
        is_bool: false,
    });
    made.push(int);
    for g in data.chunks(4).take(64) {
        let g = [
            g[0],
            *g.get(1).unwrap_or(&0),
            *g.get(2).unwrap_or(&0),
            *g.get(3).unwrap_or(&0),
        ];
        let pick = |b: u8| made[usize::from(b) % made.len()];
        let ty = match g[0] % 9 {
            0 => Ty::Int {
                name: "i".into(),
                size: [1, 2, 4, 8][usize::from(g[1] % 4)],
                signed: g[2] & 1 == 1,
                is_char: g[2] & 2 == 2,
                is_bool: g[2] & 4 == 4,
            },
            1 => Ty::Ptr(pick(g[1])),
            2 => Ty::Array {
                elem: pick(g[1]),
                len: u64::from(g[2] % 8),
            },
            3 | 4 => {
                let n = usize::from(g[1] % 4) + 1;
                let members = (0..n)
                    .map(|i| Member {
                        name: if g[3] & (1 << i) != 0 && i == 0 {
                            None
                        } else {
                            Some(((b'a' + i as u8) as char).to_string())
                        },
                        ty: pick(g[2].wrapping_add(i as u8)),
                        bit_offset: 32 * i as u64 + u64::from(g[3] >> 5),
                        bit_size: (g[3] & 0x10 != 0 && i == n - 1).then_some(u32::from(g[2] % 33)),
                    })
                    .collect();
                Ty::Record {
                    kind: if g[0] % 9 == 3 {
                        RecordKind::Struct
                    } else {
                        RecordKind::Union
                    },
                    name: Some(format!("s{}", made.len())),
                    size: 32 * n as u64,
                    members,
                }
            }
            5 => Ty::Enum {
                name: None,
                size: [1, 2, 4, 8][usize::from(g[1] % 4)],
                signed: g[2] & 1 == 1,
                values: vec![("A".into(), i64::from(g[3])), ("B".into(), -1)],
            },
            6 => Ty::Typedef {
                name: format!("t{}", made.len()),
                target: pick(g[1]),
            },
            7 => Ty::Qualified {
                qual: "const",
                target: pick(g[1]),
            },
            _ => Ty::Float {
                name: "double".into(),
                size: [4, 8, 16][usize::from(g[1] % 3)],
            },
        };
        made.push(types.synth(ty));
    }
    (types, made)
}

/// Writes BTF (tests and fuzzing of the BTF reader): types are added in id order from 1.
#[derive(Debug, Default, Clone)]
pub struct BtfWriter {
    types: Vec<u8>,
    strs: Vec<u8>,
    /// Ids handed out so far.
    pub count: u32,
    /// Id of the first type (1, or the base's end for split BTF).
    pub first_id: u32,
    /// Offset of the first string (0, or the base's string size for split BTF).
    pub first_str: u32,
}

impl BtfWriter {
    /// Stand-alone BTF.
    pub fn new() -> BtfWriter {
        BtfWriter {
            strs: vec![0],
            first_id: 1,
            ..BtfWriter::default()
        }
    }

    /// Split BTF over what `base` wrote.
    pub fn split(base: &BtfWriter) -> BtfWriter {
        BtfWriter {
            first_id: base.first_id + base.count,
            first_str: base.first_str + base.strs.len() as u32,
            ..BtfWriter::default()
        }
    }

    /// Adds a string; returns its offset (0 for the empty name of a base blob).
    pub fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() && self.first_str == 0 {
            return 0;
        }
        let off = self.first_str + self.strs.len() as u32;
        self.strs.extend_from_slice(s.as_bytes());
        self.strs.push(0);
        off
    }

    /// Adds a type record: name, kind, vlen, kind flag, size-or-type, and the words after it.
    pub fn raw(
        &mut self,
        name: &str,
        kind: u32,
        vlen: u32,
        kind_flag: bool,
        size_or_type: u32,
        rest: &[u32],
    ) -> u32 {
        let name_off = self.str(name);
        let info = (u32::from(kind_flag) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff);
        for w in [name_off, info, size_or_type].iter().chain(rest) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.count += 1;
        self.first_id + self.count - 1
    }

    /// `int`-like: size in bytes, signed, char, bool.
    pub fn int(&mut self, name: &str, size: u32, signed: bool, is_char: bool) -> u32 {
        let enc = u32::from(signed) | (u32::from(is_char) << 1);
        self.raw(name, 1, 0, false, size, &[(enc << 24) | (size * 8)])
    }

    /// A struct (or union) of `(name, type, bit offset, bitfield width)` members.
    pub fn record(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let bitfields = members.iter().any(|m| m.3 != 0);
        let mut rest = Vec::new();
        for (n, ty, off, bits) in members {
            rest.push(self.str(n));
            rest.push(*ty);
            rest.push(if bitfields { (bits << 24) | off } else { *off });
        }
        let kind = if union { 5 } else { 4 };
        self.raw(name, kind, members.len() as u32, bitfields, size, &rest)
    }

    /// The finished blob.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&crate::btf::MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        let tl = self.types.len() as u32;
        for w in [24, 0, tl, tl, self.strs.len() as u32] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strs);
        out
    }
}
