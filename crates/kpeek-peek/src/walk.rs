//! Following a member chain (`.field`, `->field`, `[i]`) through types and kernel memory.

use crate::error::{Error, ModelFault, StepFault, close_names};
use crate::expr::{Expr, Step};
use crate::types::{Ty, TypeRef, Types};
use crate::value::Bits;

/// Reads kernel memory. Implemented by each backend (kpeek.ko, BPF, /proc/kcore) and by tests.
pub trait Memory {
    /// The backend's name as `--via` spells it.
    fn name(&self) -> &'static str;
    /// Fills `buf` from kernel address `addr`, or fails ([`Error::Fault`] for an address that
    /// faults; the walker fills in which expression it was).
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error>;
}

/// A typed location in kernel memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Its address.
    pub addr: u64,
    /// Its type.
    pub ty: TypeRef,
    /// Where the value sits in its bytes, for a bitfield.
    pub bits: Option<Bits>,
}

/// Reads `len` bytes, naming `what` in a fault.
pub fn read_named(mem: &dyn Memory, addr: u64, len: usize, what: &str) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; len];
    match mem.read(addr, &mut buf) {
        Ok(()) => Ok(buf),
        Err(Error::Fault { addr, len, .. }) => Err(Error::Fault {
            addr,
            len,
            what: what.to_string(),
        }),
        Err(e) => Err(e),
    }
}

fn read_ptr(types: &Types, mem: &dyn Memory, addr: u64, what: &str) -> Result<u64, Error> {
    let n = types.ptr_size();
    let b = read_named(mem, addr, n as usize, what)?;
    let mut v = [0u8; 8];
    let got = b.get(..n as usize).ok_or_else(|| {
        Error::Type(ModelFault::ShortPointer {
            what: what.to_string(),
            need: n as usize,
            got: b.len(),
        })
    })?;
    v[..got.len()].copy_from_slice(got);
    Ok(u64::from_le_bytes(v))
}

/// Applies `expr.steps[first..]` to `place`.
pub fn walk(
    types: &Types,
    mem: &dyn Memory,
    expr: &Expr,
    first: usize,
    mut place: Place,
) -> Result<Place, Error> {
    for (i, step) in expr.steps.iter().enumerate().skip(first) {
        let here = expr.prefix(i);
        if place.bits.is_some() {
            return Err(Error::BadStep {
                expr: here,
                fault: StepFault::Bitfield,
            });
        }
        let (_, t) = types.resolve(place.ty)?;
        place = match step {
            Step::Field(f) => match t {
                Ty::Record { .. } => field(types, &here, place.ty, place.addr, f)?,
                Ty::Ptr(_) => {
                    return Err(Error::BadStep {
                        expr: here.clone(),
                        fault: StepFault::IsPointer {
                            ty: types.name(place.ty),
                            field: f.to_string(),
                        },
                    });
                }
                _ => return Err(not_a_record(types, &here, place.ty, f)),
            },
            Step::Arrow(f) => match t {
                Ty::Ptr(target) => {
                    let p = read_ptr(types, mem, place.addr, &here)?;
                    if p == 0 {
                        return Err(Error::Null(here));
                    }
                    let (_, tt) = types.resolve(target)?;
                    if !matches!(tt, Ty::Record { .. }) {
                        return Err(not_a_record(types, &format!("*{here}"), target, f));
                    }
                    field(types, &here, target, p, f)?
                }
                Ty::Record { .. } => {
                    return Err(Error::BadStep {
                        expr: here.clone(),
                        fault: StepFault::NotPointer {
                            ty: types.name(place.ty),
                            field: f.to_string(),
                        },
                    });
                }
                _ => return Err(not_a_record(types, &here, place.ty, f)),
            },
            Step::Index(n) => match t {
                Ty::Array { elem, len } => {
                    if len > 0 && *n >= len {
                        return Err(Error::IndexOutOfBounds {
                            expr: here,
                            index: *n,
                            len,
                            ty: types.name(place.ty),
                        });
                    }
                    element(types, &here, elem, place.addr, *n)?
                }
                Ty::Ptr(target) => {
                    let p = read_ptr(types, mem, place.addr, &here)?;
                    if p == 0 {
                        return Err(Error::Null(here));
                    }
                    element(types, &here, target, p, *n)?
                }
                _ => {
                    return Err(Error::BadStep {
                        expr: here,
                        fault: StepFault::NotIndexable {
                            ty: types.name(place.ty),
                        },
                    });
                }
            },
        };
    }
    Ok(place)
}

fn not_a_record(types: &Types, here: &str, ty: TypeRef, f: &str) -> Error {
    Error::BadStep {
        expr: here.to_string(),
        fault: StepFault::NotRecord {
            ty: types.name(ty),
            field: f.to_string(),
        },
    }
}

fn field(types: &Types, here: &str, record: TypeRef, base: u64, f: &str) -> Result<Place, Error> {
    match types.member(record, f)? {
        Some((ty, bit_off, bit_size)) => Ok(Place {
            addr: base.wrapping_add(bit_off / 8),
            ty,
            bits: bit_size.map(|size| Bits {
                offset: (bit_off % 8) as u32,
                size,
            }),
        }),
        None => {
            let names = types.member_names(record);
            Err(Error::NoField {
                expr: here.to_string(),
                field: f.to_string(),
                ty: types.name(record),
                close: close_names(f, names.iter().map(String::as_str), 5),
            })
        }
    }
}

fn element(types: &Types, here: &str, elem: TypeRef, base: u64, n: u64) -> Result<Place, Error> {
    let size = types.size_of(elem)?;
    let off = n.checked_mul(size).ok_or_else(|| Error::BadStep {
        expr: here.to_string(),
        fault: StepFault::IndexOverflow { index: n },
    })?;
    Ok(Place {
        addr: base.wrapping_add(off),
        ty: elem,
        bits: None,
    })
}
