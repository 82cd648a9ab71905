//! Reading one expression again and again (`--watch`): everything that cannot change between
//! readings is worked out once — the symbol's address, its type, the offsets of the steps that
//! follow no pointer (`.field`, `[i]` of an array) — and each reading re-reads only the rest:
//! the pointers of `->` and of indexing through a pointer, then the value itself.

use crate::error::{BackendFault, Error};
use crate::expr::{Base, CpuSel, Expr};
use crate::session::{Answer, Session};
use crate::types::Ty;
use crate::value::Value;
use crate::via::Backend;
use crate::walk::{Memory, Place, walk};

/// An expression resolved for repeated reading.
#[derive(Debug, Clone)]
pub struct Plan {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A single place: `first` steps are folded into `place`; the rest are walked each time.
    Place {
        expr: Expr,
        first: usize,
        place: Place,
        type_from: String,
        /// How the address was found (short, and in full; boxed: the variant stays small).
        located: Box<(&'static str, String)>,
        /// The leaf's type name, when no step is left to walk (it cannot change).
        leaf_ty: Option<String>,
        /// A fixed leaf that is a plain integer: its size and signedness (read and decoded
        /// without consulting the types again).
        int_leaf: Option<(usize, bool)>,
    },
    /// Per-CPU selections and untyped symbols: evaluated whole each time (their per-CPU areas
    /// are remembered by the session).
    Whole,
}

/// A planned expression that is one fixed place holding a plain integer (every step folded in):
/// each reading is one backend read of `size` bytes at `addr`, decoded with no allocation and
/// no type lookup. [`Plan::int_leaf`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntLeaf {
    /// Where the integer is.
    pub addr: u64,
    /// Its size in bytes (1, 2, 4 or 8).
    pub size: usize,
    /// Whether it is signed.
    pub signed: bool,
}

impl IntLeaf {
    /// Reads and decodes the integer; `what` names it in a fault.
    pub fn read(&self, mem: &dyn Memory, what: &str) -> Result<Value, Error> {
        let mut le = [0u8; 8];
        match mem.read(self.addr, &mut le[..self.size]) {
            Ok(()) => {}
            Err(Error::Fault { addr, len, .. }) => {
                return Err(Error::Fault {
                    addr,
                    len,
                    what: what.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
        let v = u64::from_le_bytes(le);
        let shift = 64 - 8 * self.size as u32;
        Ok(if self.signed {
            Value::Signed(((v << shift) as i64) >> shift)
        } else {
            Value::Unsigned(v)
        })
    }
}

impl Plan {
    /// The expression as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The fixed integer this plan reads, when it is one.
    pub fn int_leaf(&self) -> Option<IntLeaf> {
        match &self.kind {
            Kind::Place {
                place,
                int_leaf: Some((size, signed)),
                ..
            } => Some(IntLeaf {
                addr: place.addr,
                size: *size,
                signed: *signed,
            }),
            _ => None,
        }
    }
}

/// Memory that refuses every read: walking with it tells the steps that need none.
struct NoMemory;

impl Memory for NoMemory {
    fn name(&self) -> &'static str {
        "plan"
    }
    fn read(&self, _addr: u64, _buf: &mut [u8]) -> Result<(), Error> {
        Err(Error::Backend {
            backend: "plan",
            fault: BackendFault::NeedsMemory,
        })
    }
}

impl Session {
    /// Resolves `text` once for [`Session::read_plan`]; errors are those [`Session::eval`]
    /// would give.
    pub fn plan(&mut self, text: &str, backend: &dyn Backend) -> Result<Plan, Error> {
        let expr = Expr::parse(text)?;
        let start = match &expr.base {
            // One CPU's copy of a kernel per-CPU variable: a fixed place once its area is known.
            Base::Symbol { module, name }
                if module.as_deref().is_none_or(|m| m == "vmlinux")
                    && self.opts.as_type.is_none()
                    && self.kernel_percpu_offset(name).is_some() =>
            {
                match (expr.cpu, self.kernel_percpu(name)?) {
                    (Some(CpuSel::Cpu(n)), Some((offset, Some((ty, from)))))
                        if self.possible_cpus()?.contains(&n) =>
                    {
                        let base = self.percpu_base(n, backend)?;
                        let located = if self.percpu.contains_key(name.as_str()) {
                            ("btf", "its offset in the per-CPU area from BTF".to_string())
                        } else {
                            (
                                "kallsyms",
                                "its offset in the per-CPU area from kallsyms".to_string(),
                            )
                        };
                        Some((self.percpu_addr(base, offset), ty, from, located))
                    }
                    _ => None,
                }
            }
            _ if expr.cpu.is_some() => None,
            Base::Address(addr) => match &self.opts.as_type {
                Some(t) => Some((
                    *addr,
                    self.types.parse_type(t)?,
                    "--as".to_string(),
                    ("address", "given".to_string()),
                )),
                None => None,
            },
            Base::Symbol { module, name } if !self.is_percpu_name(module.as_deref(), name) => {
                let r = self.resolve(module.as_deref(), name, backend)?;
                self.type_of(r.owner.as_deref(), name)?
                    .map(|(ty, from)| (r.addr, ty, from, (r.located, r.how)))
            }
            Base::Symbol { .. } => None,
        };
        let Some((addr, ty, type_from, located)) = start else {
            // Checked once here, so that a bad expression fails before the first reading.
            self.eval(text, backend)?;
            return Ok(Plan {
                text: text.to_string(),
                kind: Kind::Whole,
            });
        };
        let mut place = Place {
            addr,
            ty,
            bits: None,
        };
        let mut first = 0;
        while first < expr.steps.len() {
            let mut one = expr.clone();
            one.steps.truncate(first + 1);
            match walk(&self.types, &NoMemory, &one, first, place) {
                Ok(p) => {
                    place = p;
                    first += 1;
                }
                Err(Error::Backend {
                    fault: BackendFault::NeedsMemory,
                    ..
                }) => break,
                Err(e) => return Err(e),
            }
        }
        let fixed = first == expr.steps.len();
        let leaf_ty = fixed.then(|| self.types.name(place.ty));
        let int_leaf = match self.types.resolve(place.ty)? {
            (
                _,
                Ty::Int {
                    size: size @ (1 | 2 | 4 | 8),
                    signed,
                    is_char: false,
                    is_bool: false,
                    ..
                },
            ) if fixed && place.bits.is_none() => Some((size as usize, signed)),
            _ => None,
        };
        Ok(Plan {
            text: text.to_string(),
            kind: Kind::Place {
                expr,
                first,
                place,
                type_from,
                located: Box::new(located),
                leaf_ty,
                int_leaf,
            },
        })
    }

    /// One reading of a planned expression.
    pub fn read_plan(&mut self, plan: &Plan, backend: &dyn Backend) -> Result<Answer, Error> {
        let Kind::Place {
            expr,
            first,
            place,
            type_from,
            located,
            leaf_ty,
            int_leaf,
        } = &plan.kind
        else {
            return self.eval(&plan.text, backend);
        };
        let (place, value) = match int_leaf {
            Some((size, signed)) => {
                let leaf = IntLeaf {
                    addr: place.addr,
                    size: *size,
                    signed: *signed,
                };
                (*place, leaf.read(backend, &plan.text)?)
            }
            None => {
                let place = walk(&self.types, backend, expr, *first, *place)?;
                let value = self.read_value(&place, &plan.text, backend)?;
                (place, value)
            }
        };
        Ok(Answer {
            expr: plan.text.clone(),
            ty: leaf_ty.clone().unwrap_or_else(|| self.types.name(place.ty)),
            value,
            via: backend.name(),
            addr: Some(place.addr),
            type_from: type_from.clone(),
            located: located.0,
            located_how: located.1.clone(),
        })
    }
}
