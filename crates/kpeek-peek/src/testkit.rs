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
